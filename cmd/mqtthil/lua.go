package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
)

func init() {
	register(command{
		name:    "lua",
		summary: "run a driver (driver.lua or .c4z) against the broker emulator and trace its MQTT calls",
		run:     runLua,
	})
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

type luaConfig struct {
	driver     string
	plan       string
	properties listFlag
	commands   listFlag
	runFor     time.Duration
	trace      string
	deadline   time.Duration
}

func runLua(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("lua", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var cfg luaConfig
	fl.StringVar(&cfg.plan, "plan", "", "fault plan `file` (YAML) armed on the broker before the driver starts")
	fl.Var(&cfg.properties, "property", "`NAME=VALUE` set before OnDriverInit; {{dut.host}} and {{dut.port}} stand for the emulator's address (repeatable)")
	fl.Var(&cfg.commands, "command", "`NAME[:k=v,...]` run with ExecuteCommand after the entry points, in order (repeatable)")
	fl.DurationVar(&cfg.runFor, "for", 5*time.Second, "how long the driver's event loop runs after the commands")
	fl.StringVar(&cfg.trace, "trace", "", "write the trace of C4:MQTT calls, returns and callbacks to this `file` as JSON lines (- for stdout)")
	fl.DurationVar(&cfg.deadline, "deadline", 2*time.Second, "longest one entry into Lua may run before it is stopped as a runaway")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mqtthil lua DRIVER [flags]   (DRIVER: driver.lua, a folder holding one, or a .c4z)")
		fmt.Fprintln(stderr)
		fl.PrintDefaults()
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, exitCodesHelp)
	}
	// The driver may come before or after the flags.
	var positional []string
	for {
		if err := fl.Parse(args); err != nil {
			return parseExit(err)
		}
		if fl.NArg() == 0 {
			break
		}
		positional = append(positional, fl.Arg(0))
		args = fl.Args()[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintf(stderr, "mqtthil lua: want exactly one driver, got %d\n", len(positional))
		fl.Usage()
		return exitUsage
	}
	cfg.driver = positional[0]
	if cfg.runFor < 0 {
		fmt.Fprintf(stderr, "mqtthil lua: --for %v: want 0 or more\n", cfg.runFor)
		return exitUsage
	}
	props := map[string]string{}
	for _, p := range cfg.properties {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			fmt.Fprintf(stderr, "mqtthil lua: --property %q: want NAME=VALUE\n", p)
			return exitUsage
		}
		props[name] = value
	}
	var cmds []luaCommand
	for _, c := range cfg.commands {
		cmd, err := parseLuaCommand(c)
		if err != nil {
			fmt.Fprintf(stderr, "mqtthil lua: --command %q: %v\n", c, err)
			return exitUsage
		}
		cmds = append(cmds, cmd)
	}
	opts := emulator.Options{Seed: 1}
	if cfg.plan != "" {
		p, err := faults.LoadPlan(cfg.plan)
		if err != nil {
			fmt.Fprintf(stderr, "mqtthil lua: %v\n", err)
			return exitUsage
		}
		opts.Plan = p
		if p.HasSeed {
			if p.Seed == 0 {
				p.Seed = 1 // the emulator takes 0 as 1, for the plan's rules too
			}
			opts.Seed = p.Seed
		}
	}
	return luaSession(ctx, cfg, opts, props, cmds, stdout, stderr)
}

type luaCommand struct {
	name   string
	params map[string]string
}

// parseLuaCommand reads NAME[:k=v,...].
func parseLuaCommand(s string) (luaCommand, error) {
	name, rest, _ := strings.Cut(s, ":")
	c := luaCommand{name: strings.TrimSpace(name), params: map[string]string{}}
	if c.name == "" {
		return c, errors.New("the command has no name")
	}
	if strings.TrimSpace(rest) == "" {
		return c, nil
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return c, fmt.Errorf("parameter %q: want k=v", kv)
		}
		c.params[strings.TrimSpace(k)] = v
	}
	return c, nil
}

// luaSession runs the driver against a fresh emulator and reports.
func luaSession(ctx context.Context, cfg luaConfig, opts emulator.Options, props map[string]string, cmds []luaCommand, stdout, stderr io.Writer) int {
	startCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	b, err := emulator.Start(startCtx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil lua: starting the broker emulator: %v\n", err)
		return exitHarness
	}
	defer b.Close()
	host, port, err := net.SplitHostPort(b.DUTAddr)
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil lua: %v\n", err)
		return exitHarness
	}
	fmt.Fprintf(stdout, "broker emulator on %s (seed %d, %d fault rules)\n", b.DUTAddr, b.Seed, len(b.Faults.List()))

	var sink io.Writer
	var traceFile *os.File
	switch cfg.trace {
	case "":
	case "-":
		sink = stdout
	default:
		if traceFile, err = os.Create(cfg.trace); err != nil {
			fmt.Fprintf(stderr, "mqtthil lua: --trace: %v\n", err)
			return exitHarness
		}
		defer traceFile.Close()
		sink = traceFile
	}
	out := &syncWriter{w: stdout}
	if sink == stdout {
		sink = out
	}
	stdout = out
	rt, err := lua.New(lua.Options{Log: prefixWriter{out, "driver: "}, TraceSink: sink, Deadline: cfg.deadline})
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil lua: %v\n", err)
		return exitHarness
	}
	var luaErrs []error
	fail := func(err error) {
		if err != nil {
			luaErrs = append(luaErrs, err)
			fmt.Fprintf(stderr, "Lua error: %v\n", err)
		}
	}
	if err := rt.Load(cfg.driver); err != nil {
		var le *lua.Error
		if !errors.As(err, &le) {
			rt.Close()
			fmt.Fprintf(stderr, "mqtthil lua: %v\n", err)
			return exitHarness
		}
		fail(err)
	}
	if len(luaErrs) == 0 {
		r := strings.NewReplacer("{{dut.host}}", host, "{{dut.port}}", port)
		for k, v := range props {
			props[k] = r.Replace(v)
		}
		fail(rt.SetProperties(props))
		fail(rt.Init())
		for _, c := range cmds {
			fail(rt.ExecuteCommand(c.name, c.params))
		}
		t := time.NewTimer(cfg.runFor)
		select {
		case <-t.C:
		case <-ctx.Done():
			fmt.Fprintln(stdout, "interrupted")
		}
		t.Stop()
	}
	fail(rt.Close())
	for _, err := range rt.Errors() {
		luaErrs = append(luaErrs, err)
		fmt.Fprintf(stderr, "Lua error: %v\n", err)
	}
	entries := rt.Trace().Entries()
	s := lua.Summarize(entries)
	fmt.Fprintf(stdout, "trace: %d entries", len(entries))
	if cfg.trace != "" && cfg.trace != "-" {
		fmt.Fprintf(stdout, " in %s", cfg.trace)
	}
	fmt.Fprintln(stdout)
	s.Write(stdout)
	fmt.Fprintf(stdout, "Lua errors: %d\n", len(luaErrs))
	if traceFile != nil {
		if err := traceFile.Close(); err != nil {
			fmt.Fprintf(stderr, "mqtthil lua: --trace: %v\n", err)
			return exitHarness
		}
	}
	if n := len(s.Correlation.Outstanding); n > 0 {
		fmt.Fprintf(stderr, "mqtthil lua: %d call(s) never answered by their callback\n", n)
	}
	if len(luaErrs) > 0 || len(s.Correlation.Outstanding) > 0 {
		return exitFailed
	}
	return exitPassed
}

// syncWriter lets the driver's log and trace share stdout with the
// command's own lines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *syncWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// prefixWriter prefixes each write (one log line) with a tag.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}
