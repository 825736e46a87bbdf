// What a run prints while it runs. Scenarios run concurrently, so each is
// printed whole when it ends, under one lock: a line with the progress
// format, a block with its steps with the pretty one.
package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/mqtthil/mqtthil/record"
)

type console struct {
	mu     sync.Mutex
	w      io.Writer
	pretty bool
	start  time.Time
	ended  int
}

func newConsole(w io.Writer, format string) *console {
	return &console{w: w, pretty: format == "pretty", start: time.Now()}
}

// scenarioEnded prints one scenario that has ended with its outcome.
func (c *console) scenarioEnded(r *record.Scenario, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended++
	elapsed := time.Since(c.start).Round(100 * time.Millisecond)
	if !c.pretty {
		fmt.Fprintf(c.w, "[%3d %6s] %-9s %s: %s\n", c.ended, elapsed, outcome, r.URI, r.Name)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", r.URI, r.Name)
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "  %-9s :%-4d %s\n", s.Status, s.Line, s.Text)
	}
	fmt.Fprintf(&b, "  => %s", outcome)
	switch {
	case r.Skipped != "":
		fmt.Fprintf(&b, " (%s)", r.Skipped)
	case r.Error != "":
		b.WriteString(":\n")
		for _, line := range strings.Split(strings.TrimRight(r.Error, "\n"), "\n") {
			fmt.Fprintf(&b, "     %s\n", line)
		}
	}
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  [%d ended, %s]\n\n", c.ended, elapsed)
	io.WriteString(c.w, b.String())
}

// notef prints a line of its own about the run (which shard it is, a
// station left out), between the scenarios' lines.
func (c *console) notef(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "mqtthil: "+format+"\n", a...)
}
