package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mqtthil/mqtthil/bench"
	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
)

func init() {
	register(command{
		name:    "bench",
		summary: "measure the broker emulator against bare mochi and mosquitto, and the controller clients",
		run:     runBench,
	})
}

// benchClients are the controller clients measured side by side; builds
// with more clients (libmosquitto) add theirs.
var benchClients = map[string]bench.NewController{
	"sim": func() controller.Controller { return sim.New() },
}

type benchConfig struct {
	quick       bool
	rounds      int
	messages    int           // per load, all pairs together, at the least
	minRun      time.Duration // a run lasts at least this long: loads are sized to it
	exe         string        // this program, to run the emulator and mochi as processes
	inProcess   bool          // the emulator and mochi in the bench's own process instead
	idleConns   int
	publishes   int // correlation run
	controllers int
	scaleFor    time.Duration
	sections    map[string]bool
}

// brokerRow is one broker under one load.
type brokerRow struct {
	Load        string        `json:"load"`
	Broker      string        `json:"broker"`
	Rate        float64       `json:"msgs_per_s"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	Messages    int           `json:"messages"`        // in each run
	Shortest    time.Duration `json:"shortest_run_ns"` // the shortest of its runs
	VsMosquitto float64       `json:"vs_mosquitto,omitempty"`
	VsMochi     float64       `json:"vs_mochi,omitempty"`
	// The ratio to mochi in each round, sorted: how far the rounds agree.
	VsMochiRounds []float64 `json:"vs_mochi_rounds,omitempty"`
}

type clientRow struct {
	Client string        `json:"client"`
	QoS    int           `json:"qos"`
	Rate   float64       `json:"msgs_per_s"`
	P99    time.Duration `json:"p99_ns"`
	VsSim  float64       `json:"vs_sim"`
}

type benchReport struct {
	Machine     string              `json:"machine"`
	Command     string              `json:"command"`
	Brokers     []brokerRow         `json:"brokers,omitempty"`
	InProcess   bool                `json:"in_process,omitempty"` // the emulator and mochi ran in the bench's process
	Idle        []bench.Idle        `json:"idle,omitempty"`
	Mosquitto   string              `json:"mosquitto,omitempty"` // why it is missing, if it is
	Clients     []clientRow         `json:"clients,omitempty"`
	Correlation *bench.Correlation  `json:"correlation,omitempty"`
	Scale       *bench.ScaleResult  `json:"scale,omitempty"`
	Targets     []benchTargetResult `json:"targets"`
}

type benchTargetResult struct {
	Target string `json:"target"`
	Value  string `json:"value"`
	Met    bool   `json:"met"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	quick := fl.Bool("quick", false, "a run of under a minute: fewer messages, rounds and controllers")
	asJSON := fl.Bool("json", false, "print JSON instead of Markdown")
	only := fl.String("only", "brokers,memory,clients,correlation,scale", "sections to run, comma-separated")
	check := fl.Bool("check", false, "exit 1 when a target is missed")
	rounds := fl.Int("rounds", 0, "rounds of every load (the target load runs three times as many); 0: 6, or 1 with --quick")
	inProcess := fl.Bool("in-process", false, "run the emulator and mochi inside the bench's process rather than each in its own")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mqtthil bench [--quick] [--json] [--check] [--rounds N] [--in-process] [--only brokers,memory,clients,correlation,scale]")
		fl.PrintDefaults()
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, exitCodesHelp)
	}
	if err := fl.Parse(args); err != nil {
		return parseExit(err)
	}
	cfg := benchConfig{rounds: 6, messages: 20000, minRun: 3 * time.Second, idleConns: 1000,
		publishes: 200000, controllers: 1000, scaleFor: 30 * time.Second, sections: map[string]bool{}}
	if *quick {
		cfg = benchConfig{quick: true, rounds: 1, messages: 3000, minRun: 500 * time.Millisecond, idleConns: 1000,
			publishes: 70000, controllers: 200, scaleFor: 5 * time.Second, sections: map[string]bool{}}
	}
	if *rounds > 0 {
		cfg.rounds = *rounds
	}
	cfg.inProcess = *inProcess
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		switch s {
		case "brokers", "memory", "clients", "correlation", "scale":
			cfg.sections[s] = true
		default:
			fmt.Fprintf(stderr, "mqtthil bench: --only %q: want brokers, memory, clients, correlation or scale\n", s)
			return exitUsage
		}
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil bench: finding this program, to run brokers with: %v\n", err)
		return exitHarness
	}
	cfg.exe = exe
	dir, err := os.MkdirTemp("", "mqtthil-bench-")
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil bench: %v\n", err)
		return exitHarness
	}
	defer os.RemoveAll(dir)
	rep := benchReport{Machine: machine(), Command: "mqtthil bench " + strings.Join(args, " "), InProcess: cfg.inProcess}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	if err := cfg.run(ctx, dir, &rep, progress); err != nil {
		fmt.Fprintf(stderr, "mqtthil bench: %v\n", err)
		return exitHarness
	}
	rep.Targets = rep.targets()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		rep.markdown(stdout)
	}
	return benchExit(rep.Targets, *check, stderr)
}

// benchExit is bench's verdict: with --check, a missed target is a
// failure.
func benchExit(targets []benchTargetResult, check bool, stderr io.Writer) int {
	if !check {
		return exitPassed
	}
	missed := 0
	for _, t := range targets {
		if !t.Met {
			missed++
			fmt.Fprintf(stderr, "mqtthil bench: target missed: %s (%s)\n", t.Target, t.Value)
		}
	}
	if missed > 0 {
		return exitFailed
	}
	return exitPassed
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s %s/%s", cpu, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func (cfg benchConfig) run(ctx context.Context, dir string, rep *benchReport, progress func(string, ...any)) error {
	if cfg.sections["brokers"] {
		if err := cfg.brokers(ctx, dir, rep, progress); err != nil {
			return err
		}
	}
	if cfg.sections["memory"] {
		if err := cfg.memory(ctx, dir, rep, progress); err != nil {
			return err
		}
	}
	if cfg.sections["clients"] || cfg.sections["correlation"] {
		e, err := bench.StartEmulator(ctx)
		if err != nil {
			return err
		}
		defer e.Close()
		if cfg.sections["clients"] {
			names := []string{"sim"} // the baseline first
			for n := range benchClients {
				if n != "sim" {
					names = append(names, n)
				}
			}
			sort.Strings(names[1:])
			for _, qos := range []int{0, 1} {
				var simRate float64
				for _, n := range names {
					progress("client %s, QoS %d", n, qos)
					ctl := benchClients[n]()
					c, err := bench.Publish(ctx, ctl, e.Addr, qos, 256, cfg.messages*2, 100)
					ctl.Close()
					e.Emulator.Journal.Reset()
					if err != nil {
						return fmt.Errorf("client %s QoS %d: %w", n, qos, err)
					}
					if n == "sim" {
						simRate = c.Rate
					}
					rep.Clients = append(rep.Clients, clientRow{Client: n, QoS: qos, Rate: c.Rate, P99: c.P99, VsSim: c.Rate / simRate})
				}
			}
		}
		if cfg.sections["correlation"] {
			progress("correlation: %d QoS 1 publishes", cfg.publishes)
			ctl := sim.New()
			c, err := bench.Publish(ctx, ctl, e.Addr, 1, 16, cfg.publishes, 100)
			ctl.Close()
			e.Emulator.Journal.Reset()
			if err != nil {
				return fmt.Errorf("correlation: %w", err)
			}
			rep.Correlation = &c
		}
	}
	if cfg.sections["scale"] {
		progress("scale: %d controllers, QoS 1 at 10/s for %s", cfg.controllers, cfg.scaleFor)
		e, err := bench.StartEmulator(ctx)
		if err != nil {
			return err
		}
		r, err := bench.Scale(ctx, func() controller.Controller { return sim.New() }, e.Addr, cfg.controllers, 10, cfg.scaleFor)
		e.Close()
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		rep.Scale = &r
	}
	return nil
}

// brokers measures every load on every broker, each load on fresh brokers,
// the brokers one after another and the whole set cfg.rounds times. A
// broker's rate is its median over the rounds; its ratio to another is the
// median of the ratios within each round, where the two ran back to back.
// The order of the brokers turns from round to round, so that none always
// runs first or last on a shared machine whose load drifts.
func (cfg benchConfig) brokers(ctx context.Context, dir string, rep *benchReport, progress func(string, ...any)) error {
	starters := cfg.starters(dir, rep)
	var loads []bench.Load
	for _, qos := range []byte{0, 1, 2} {
		for _, size := range []int{256, 4096} {
			for _, pairs := range []int{1, 10} {
				loads = append(loads, bench.BrokerLoad(qos, size, pairs, cfg.messages))
			}
		}
	}
	// The rounds go through every order of the brokers in turn, so that each
	// runs as often first, second and last, and as often right after each
	// of the others: a run straight after mosquitto's exit, say, is not
	// always the same broker's.
	orders := permutations(len(starters))
	for _, l := range loads {
		// Size the load so that the fastest broker's run lasts minRun: one
		// warm-up run on each broker, its numbers not kept.
		fastest := 0.0
		for _, s := range starters {
			progress("%s on %s: sizing", l, s.name)
			r, err := runOn(ctx, s.start, l)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", l, s.name, err)
			}
			fastest = max(fastest, r.Rate)
		}
		l = resized(l, max(cfg.messages, int(fastest*cfg.minRun.Seconds()*1.25)))
		n := cfg.rounds
		if isTargetLoad(l) {
			// The load the targets are about gets three times the rounds: on
			// a shared machine single rounds stray by several percent.
			n *= 3
		}
		rounds := make([]map[string]bench.Result, n)
		for i, grown := 0, 0; i < n; i++ {
			rd := map[string]bench.Result{}
			var short time.Duration // the shortest run under minRun
			for _, k := range orders[i%len(orders)] {
				s := starters[k]
				progress("%s on %s, %d messages", l, s.name, l.Messages*l.Pairs)
				r, err := runOn(ctx, s.start, l)
				if err != nil {
					return fmt.Errorf("%s on %s: %w", l, s.name, err)
				}
				rd[s.name] = r
				if r.Elapsed < cfg.minRun && (short == 0 || r.Elapsed < short) {
					short = r.Elapsed
				}
			}
			// A round with a run under minRun is run again on a load grown
			// to fit (a few times at most: the machine may just be slow).
			if short > 0 && grown < 3 {
				grown++
				l = resized(l, int(float64(l.Messages*l.Pairs)*cfg.minRun.Seconds()/short.Seconds()*1.2))
				i--
				continue
			}
			rounds[i] = rd
		}
		// ratios are a's rate over b's in each round, sorted.
		ratios := func(a, b string) []float64 {
			var rs []float64
			for _, rd := range rounds {
				if rb, ok := rd[b]; ok && rb.Rate > 0 {
					rs = append(rs, rd[a].Rate/rb.Rate)
				}
			}
			slices.Sort(rs)
			return rs
		}
		median := func(rs []float64) float64 {
			if len(rs) == 0 {
				return 0
			}
			return bench.Median(rs)
		}
		for _, s := range starters {
			var rs []bench.Result
			for _, rd := range rounds {
				rs = append(rs, rd[s.name])
			}
			slices.SortFunc(rs, func(a, b bench.Result) int { return cmp.Compare(a.Rate, b.Rate) })
			r := rs[len(rs)/2]
			row := brokerRow{Load: l.String(), Broker: s.name, Rate: r.Rate, P50: r.P50, P99: r.P99,
				Messages: r.Messages, Shortest: rs[0].Elapsed}
			for _, x := range rs {
				row.Shortest = min(row.Shortest, x.Elapsed)
			}
			if len(starters) > 2 {
				row.VsMosquitto = median(ratios(s.name, "mosquitto"))
			}
			if s.name == "emulator" {
				row.VsMochiRounds = ratios("emulator", "mochi")
				row.VsMochi = median(row.VsMochiRounds)
			}
			rep.Brokers = append(rep.Brokers, row)
		}
	}
	return nil
}

// resized is l with messages in all, no more than the emulator's journal
// holds at four records a message.
func resized(l bench.Load, messages int) bench.Load {
	return bench.BrokerLoad(l.QoS, l.Size, l.Pairs, min(messages, bench.JournalCap/4))
}

// brokerStarter starts one broker for one run.
type brokerStarter struct {
	name  string
	start func(context.Context) (*bench.Broker, error)
}

// starters are the brokers compared: each in a process of its own, the
// emulator and bare mochi as this program's bench-broker, unless
// cfg.inProcess; mosquitto when it is installed.
func (cfg benchConfig) starters(dir string, rep *benchReport) []brokerStarter {
	process := func(name string) func(context.Context) (*bench.Broker, error) {
		return func(ctx context.Context) (*bench.Broker, error) {
			return bench.StartProcess(ctx, name, cfg.exe, benchBrokerCommand)
		}
	}
	starters := []brokerStarter{{"emulator", process("emulator")}, {"mochi", process("mochi")}}
	if cfg.inProcess {
		starters = []brokerStarter{{"emulator", bench.StartEmulator}, {"mochi", bench.StartMochi}}
	}
	if _, err := bench.MosquittoPath(); err != nil {
		rep.Mosquitto = err.Error()
		return starters
	}
	return append(starters, brokerStarter{"mosquitto", func(ctx context.Context) (*bench.Broker, error) { return bench.StartMosquitto(ctx, dir) }})
}

// runOn puts load l on a fresh broker and stops it; an emulator in this
// process must have kept every journal record (one in its own process
// says so by its exit, which Close reports).
func runOn(ctx context.Context, start func(context.Context) (*bench.Broker, error), l bench.Load) (bench.Result, error) {
	runtime.GC() // start from a collected heap, not the last run's garbage
	b, err := start(ctx)
	if err != nil {
		return bench.Result{}, err
	}
	r, err := bench.Run(ctx, b.Addr, l)
	if err == nil && b.Emulator != nil {
		if st := b.Emulator.Journal.Stats(); st.Lost != 0 {
			err = fmt.Errorf("the journal lost %d records", st.Lost)
		}
	}
	// The broker's own account (a process's exit says what it lost or
	// dropped) goes with the load's error: it is often the cause.
	return r, errors.Join(err, b.Close())
}

// memory measures each broker's resident set per idle connection, each
// broker in its own process (whatever cfg.inProcess says: a process's
// resident set is the measure).
func (cfg benchConfig) memory(ctx context.Context, dir string, rep *benchReport, progress func(string, ...any)) error {
	in := cfg
	in.inProcess = false
	for _, s := range in.starters(dir, &benchReport{}) {
		progress("memory: %d idle connections to %s", cfg.idleConns, s.name)
		b, err := s.start(ctx)
		if err != nil {
			return fmt.Errorf("memory on %s: %w", s.name, err)
		}
		idle, err := bench.IdleMemory(ctx, b, cfg.idleConns)
		if cerr := b.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("memory on %s: %w", s.name, err)
		}
		rep.Idle = append(rep.Idle, idle)
	}
	return nil
}

func (rep *benchReport) targets() []benchTargetResult {
	var out []benchTargetResult
	for _, r := range rep.Brokers {
		if r.Broker == "emulator" && r.Load == targetLoad.String() {
			out = append(out, benchTargetResult{"emulator ≥ 0.90 × bare mochi, " + targetLoad.String(), fmt.Sprintf("%.2f (rounds %s)", r.VsMochi, spread(r.VsMochiRounds)), r.VsMochi >= 0.90})
			if r.VsMosquitto > 0 {
				out = append(out, benchTargetResult{"emulator ≥ 1.0 × mosquitto, " + targetLoad.String(), fmt.Sprintf("%.2f", r.VsMosquitto), r.VsMosquitto >= 1.0})
			}
		}
	}
	if c := rep.Correlation; c != nil {
		out = append(out, benchTargetResult{fmt.Sprintf("%d QoS 1 publishes, every msgId answered once, in order", c.Publishes),
			fmt.Sprintf("%d mismatches, %d wraps", c.Mismatches, c.Wraps), c.Mismatches == 0})
	}
	if s := rep.Scale; s != nil {
		out = append(out, benchTargetResult{fmt.Sprintf("%d controllers under 150 MB RSS", s.Controllers),
			fmt.Sprintf("%.0f MB", float64(s.RSSBytes)/1e6), s.RSSBytes < 150e6})
	}
	return out
}

// permutations lists every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{nil}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for at := range n {
			q := append(append(slices.Clone(p[:at]), n-1), p[at:]...)
			out = append(out, q)
		}
	}
	return out
}

// targetLoad is the load the broker targets are stated for.
var targetLoad = bench.BrokerLoad(1, 256, 1, 1)

func isTargetLoad(l bench.Load) bool {
	return l.QoS == targetLoad.QoS && l.Size == targetLoad.Size && l.Pairs == targetLoad.Pairs
}

// spread writes the lowest and highest of sorted ratios.
func spread(rs []float64) string {
	if len(rs) == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f–%.2f", rs[0], rs[len(rs)-1])
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func (rep *benchReport) markdown(w io.Writer) {
	fmt.Fprintf(w, "# mqtthil bench\n\nMachine: %s  \nCommand: `%s`\n", rep.Machine, strings.TrimSpace(rep.Command))
	if len(rep.Brokers) > 0 {
		where := "each broker in a process of its own (the emulator and mochi as `mqtthil bench-broker`, mosquitto as itself), the load generator in the bench's process"
		if rep.InProcess {
			where = "the emulator and mochi inside the bench's process, beside the load generator; mosquitto in its own"
		}
		fmt.Fprintf(w, "\n## Brokers on loopback\n\nWhere: %s.\n\n", where)
		fmt.Fprintln(w, "The same load generator for each broker, fresh brokers for each run, each load sized so the fastest broker's run lasts the minimum run time; rates are medians over the rounds; a ratio is the median of the ratios within each round, where the brokers ran back to back, in every order in turn, with the lowest and highest round in brackets; the load the targets are about runs three times the rounds; latency is publish to PUBACK (QoS 1), PUBCOMP (QoS 2) or delivery (QoS 0).")
		if rep.Mosquitto != "" {
			fmt.Fprintf(w, "\nmosquitto left out: %s.\n", rep.Mosquitto)
		}
		fmt.Fprintln(w, "\n| load | broker | messages | shortest run | msgs/s | p50 | p99 | × mosquitto | × mochi |\n|---|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, r := range rep.Brokers {
			vsM, vsMochi := "", ""
			if r.VsMosquitto > 0 {
				vsM = fmt.Sprintf("%.2f", r.VsMosquitto)
			}
			if r.VsMochi > 0 {
				vsMochi = fmt.Sprintf("%.2f (%s)", r.VsMochi, spread(r.VsMochiRounds))
			}
			fmt.Fprintf(w, "| %s | %s | %d | %.1f s | %.0f | %s | %s | %s | %s |\n", r.Load, r.Broker, r.Messages, r.Shortest.Seconds(), r.Rate, ms(r.P50), ms(r.P99), vsM, vsMochi)
		}
	}
	if len(rep.Idle) > 0 {
		fmt.Fprintln(w, "\n## Memory per idle connection\n\nEach broker in a process of its own; its resident set before and after that many clients connected (CONNECT, nothing after) and a second to settle.\n\n| broker | connections | RSS before | RSS after | per connection |\n|---|---:|---:|---:|---:|")
		for _, m := range rep.Idle {
			fmt.Fprintf(w, "| %s | %d | %.1f MB | %.1f MB | %.1f KB |\n", m.Broker, m.Conns, float64(m.Before)/1e6, float64(m.After)/1e6, float64(m.PerConn)/1e3)
		}
	}
	if len(rep.Clients) > 0 {
		fmt.Fprintln(w, "\n## Controller clients, through the emulator\n\n| client | QoS | msgs/s | p99 publish to onPublish | × sim |\n|---|---:|---:|---:|---:|")
		for _, c := range rep.Clients {
			fmt.Fprintf(w, "| %s | %d | %.0f | %s | %.2f |\n", c.Client, c.QoS, c.Rate, ms(c.P99), c.VsSim)
		}
	}
	if c := rep.Correlation; c != nil {
		fmt.Fprintf(w, "\n## Correlation at scale\n\n%d QoS 1 publishes from one simulated client, at most 100 in flight: %d msgId wraps, %d mismatches, %.0f msgs/s.\n",
			c.Publishes, c.Wraps, c.Mismatches, c.Rate)
	}
	if s := rep.Scale; s != nil {
		fmt.Fprintf(w, "\n## Scale\n\n%d simulated controllers on one emulator, QoS 1 at 10 msgs/s each: %d publishes, %d answered, peak RSS %.0f MB, p99 publish to onPublish %s.\n",
			s.Controllers, s.Publishes, s.Answered, float64(s.RSSBytes)/1e6, ms(s.P99))
	}
	if len(rep.Targets) > 0 {
		fmt.Fprintln(w, "\n## Targets\n\n| target | measured | met |\n|---|---|---|")
		for _, t := range rep.Targets {
			met := "no"
			if t.Met {
				met = "yes"
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", t.Target, t.Value, met)
		}
	}
}
