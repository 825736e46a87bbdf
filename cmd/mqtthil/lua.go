// `mqtthil lua`: one driver run by hand against a fresh broker emulator,
// in the Lua runtime's DriverWorks environment, with a summary of what it
// did (its MQTT traffic and the C4 functions it used) and an exit code a
// script can act on.
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
	driver       string
	plan         string
	properties   listFlag
	commands     listFlag
	runFor       time.Duration
	trace        string
	deadline     time.Duration
	luaPath      listFlag
	timeScale    float64
	project      string
	http         string
	allowNetwork bool
	reloadAfter  time.Duration
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
	fl.Var(&cfg.luaPath, "lua-path", "`DIR` require may load modules from, besides the driver's own folder (repeatable)")
	fl.Float64Var(&cfg.timeScale, "time-scale", 1, "wall time per unit of the driver's clock (timers, os.time, C4:GetTime): 0.1 runs it ten times faster")
	fl.StringVar(&cfg.project, "project", "", "project `file` (YAML): the driver's ids, room, other devices and bindings, and the other drivers it runs")
	fl.StringVar(&cfg.http, "http", "", "`file` (YAML or JSON) of declared answers to the driver's HTTP requests")
	fl.BoolVar(&cfg.allowNetwork, "allow-network", false, "let HTTP requests to hosts --http does not declare go out to the network")
	fl.DurationVar(&cfg.reloadAfter, "reload-after", 0, "restart the driver once after this long (properties and persisted data kept), within --for")
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
	if err := cfg.check(); err != nil {
		fmt.Fprintf(stderr, "mqtthil lua: %v\n", err)
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
	env, err := cfg.environment()
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil lua: %v\n", err)
		return exitUsage
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
	return luaSession(ctx, cfg, env, opts, props, cmds, stdout, stderr)
}

// check refuses flag values that cannot make a run.
func (c luaConfig) check() error {
	switch {
	case c.runFor < 0:
		return fmt.Errorf("--for %v: want 0 or more", c.runFor)
	case c.timeScale <= 0 || c.timeScale > 100:
		return fmt.Errorf("--time-scale %v: want a number above 0 and at most 100", c.timeScale)
	case c.reloadAfter < 0 || (c.reloadAfter > 0 && c.reloadAfter >= c.runFor):
		return fmt.Errorf("--reload-after %v: want a time within --for (%v)", c.reloadAfter, c.runFor)
	}
	for _, dir := range c.luaPath {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("--lua-path %s: not a folder", dir)
		}
	}
	return nil
}

// luaEnv is what the flags give the runtime besides the driver: the
// project around it and the answers of the web it asks.
type luaEnv struct {
	project *lua.Project
	answers []lua.HTTPAnswer
}

func (c luaConfig) environment() (luaEnv, error) {
	var env luaEnv
	var err error
	if c.project != "" {
		if env.project, err = lua.LoadProject(c.project); err != nil {
			return env, fmt.Errorf("--project: %w", err)
		}
	}
	if c.http != "" {
		if env.answers, err = lua.LoadHTTPAnswers(c.http); err != nil {
			return env, fmt.Errorf("--http: %w", err)
		}
	}
	return env, nil
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
func luaSession(ctx context.Context, cfg luaConfig, env luaEnv, opts emulator.Options, props map[string]string, cmds []luaCommand, stdout, stderr io.Writer) int {
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
			return exitUsage
		}
		defer traceFile.Close()
		sink = traceFile
	}
	out := &syncWriter{w: stdout}
	if sink == stdout {
		sink = out
	}
	stdout = out
	stub, err := lua.NewHTTPStub(env.answers...)
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil lua: %v\n", err)
		return exitHarness
	}
	defer stub.Close()
	rt, err := lua.New(lua.Options{
		Log: prefixWriter{out, "driver: "}, TraceSink: sink, Deadline: cfg.deadline,
		LuaPath: cfg.luaPath, TimeScale: cfg.timeScale, Project: env.project,
		HTTP: stub, AllowNetwork: cfg.allowNetwork,
		PropertyVars: map[string]string{"dut.host": host, "dut.port": port},
	})
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
	// Messages in flight when the driver restarts belong to clients the
	// restart destroyed: no callback can answer them any more.
	exempt := map[lua.Outstanding]bool{}
	if err := rt.Load(cfg.driver); err != nil {
		var le *lua.Error
		if !errors.As(err, &le) {
			rt.Close()
			fmt.Fprintf(stderr, "mqtthil lua: %v\n", err)
			return exitUsage
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
		fail(rt.StartProjectDrivers())
		for _, c := range cmds {
			fail(rt.ExecuteCommand(c.name, c.params))
		}
		runUntil := time.NewTimer(cfg.runFor)
		var reload <-chan time.Time
		if cfg.reloadAfter > 0 {
			t := time.NewTimer(cfg.reloadAfter)
			defer t.Stop()
			reload = t.C
		}
	wait:
		for {
			select {
			case <-reload:
				reload = nil
				for _, o := range lua.Correlate(rt.Trace().Entries()).Outstanding {
					exempt[o] = true
				}
				fmt.Fprintf(stdout, "restarting the driver after %v\n", cfg.reloadAfter)
				fail(rt.Reload())
			case <-runUntil.C:
				break wait
			case <-ctx.Done():
				fmt.Fprintln(stdout, "interrupted")
				break wait
			}
		}
		runUntil.Stop()
	}
	// What is still unanswered when the run ends is judged before Close
	// destroys the clients.
	var unanswered []lua.Outstanding
	for _, o := range lua.Correlate(rt.Trace().Entries()).Outstanding {
		if !exempt[o] {
			unanswered = append(unanswered, o)
		}
	}
	// The project's other drivers are held to the same promise.
	var peerLines, peerUnanswered []string
	for _, id := range rt.PeerDevices() {
		es := rt.Peer(id).Trace().Entries()
		out := lua.Correlate(es).Outstanding
		peerLines = append(peerLines, fmt.Sprintf("  device %d: %d trace entries, %d msgId(s) unanswered", id, len(es), len(out)))
		for _, o := range out {
			peerUnanswered = append(peerUnanswered, fmt.Sprintf("device %d: %s %s id %d", id, o.Client, o.Call, o.MsgID))
		}
	}
	fail(rt.Close())
	for _, err := range rt.ProjectErrors() {
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
	writeCalls(stdout, rt.Calls())
	if reqs := stub.Requests(); len(reqs) > 0 {
		fmt.Fprintf(stdout, "HTTP requests: %d\n", len(reqs))
		for _, r := range reqs {
			fmt.Fprintf(stdout, "  %s %s (%s)\n", r.Method, r.URL, r.Outcome)
		}
	}
	if len(peerLines) > 0 {
		fmt.Fprintf(stdout, "the project's other drivers: %d\n%s\n", len(peerLines), strings.Join(peerLines, "\n"))
	}
	fmt.Fprintf(stdout, "Lua errors: %d\n", len(luaErrs))
	if traceFile != nil {
		if err := traceFile.Close(); err != nil {
			fmt.Fprintf(stderr, "mqtthil lua: --trace: %v\n", err)
			return exitHarness
		}
	}
	for _, o := range unanswered {
		fmt.Fprintf(stderr, "unanswered: %s %s id %d got no callback by the end of the run\n", o.Client, o.Call, o.MsgID)
	}
	for _, u := range peerUnanswered {
		fmt.Fprintf(stderr, "unanswered: %s got no callback by the end of the run\n", u)
	}
	if len(luaErrs) > 0 || len(unanswered) > 0 || len(peerUnanswered) > 0 {
		return exitFailed
	}
	return exitPassed
}

// writeCalls prints the C4 functions the driver used, and how much of
// each the environment gives it.
func writeCalls(w io.Writer, calls []lua.CallStat) {
	n := map[string]int{}
	for _, c := range calls {
		n[c.Status]++
	}
	fmt.Fprintf(w, "C4 functions: %d (%d emulated, %d recorded only, %d missing)\n",
		len(calls), n[lua.StatusEmulated], n[lua.StatusRecorded], n[lua.StatusMissing])
	for _, c := range calls {
		status := c.Status
		if status == lua.StatusRecorded {
			status = "recorded only"
		}
		fmt.Fprintf(w, "  %-32s %6d  %s\n", c.Name, c.Count, status)
	}
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
