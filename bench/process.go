// Brokers as processes of their own: the bench runs each broker it
// compares the same way, outside the process that generates the load, so
// that no broker shares the load generator's heap, scheduler or collector.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ServeLine is the first line a broker process writes on stdout: the
// address it listens on follows it.
const ServeLine = "listening "

// StartProcess runs name (emulator or mochi) in its own process, the
// command line being exe and args followed by the broker's name; the
// process prints ServeLine and its address, and serves until its stdin
// closes.
func StartProcess(ctx context.Context, name, exe string, args ...string) (*Broker, error) {
	cmd := exec.Command(exe, append(args, name)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s process: %w", name, err)
	}
	lines := make(chan string, 1)
	exited := make(chan error, 1)
	go func() {
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		lines <- line
		io.Copy(io.Discard, br) // never let the process block on stdout
		exited <- cmd.Wait()
	}()
	// The process reports, by its exit, whether it kept what it should
	// have (the emulator's journal).
	stop := func() error {
		stdin.Close()
		var err error
		select {
		case err = <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("%s process did not end within 5s of its stdin closing", name)
		}
		if err != nil {
			return fmt.Errorf("%s process: %w: %s", name, err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), ServeLine)
		if !ok {
			stop()
			return nil, fmt.Errorf("%s process: first line %q, want %q and an address: %s", name, line, ServeLine, stderr.String())
		}
		return &Broker{Name: name, Addr: addr, Pid: cmd.Process.Pid, close: stop}, nil
	case <-t.C:
	case <-ctx.Done():
	}
	stop()
	return nil, fmt.Errorf("%s process gave no address within 10s: %s", name, stderr.String())
}

// ProcessRSS is the resident set of process pid, from /proc.
func ProcessRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}
