package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
)

func init() {
	register(command{
		name:    "broker",
		summary: "run the broker emulator, with a fault plan and the HTTP control API",
		run:     runBroker,
	})
}

// optInt is an int flag that knows whether it was given.
type optInt struct {
	v   int
	set bool
}

func (o *optInt) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.Itoa(o.v)
}

func (o *optInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want a whole number")
	}
	o.v, o.set = v, true
	return nil
}

// optBool is a bool flag that knows whether it was given.
type optBool struct {
	v   bool
	set bool
}

func (o *optBool) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatBool(o.v)
}

func (o *optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	o.v, o.set = v, true
	return nil
}

func (o *optBool) IsBoolFlag() bool { return true }

type brokerFlags struct {
	dut, control, api   string
	plan                string
	seed                optInt64
	maxQoS              optInt
	receiveMaximum      int
	retainAvailable     optBool
	maxPacketSize       int
	topicAliasMax       int
	journal             string
	journalCap          int
	journalBytes        byteSize
	writesPending       int
	allowAnonymous      bool
	user, password      string
	tlsCert, tlsKey     string
	tlsClientCA         string
	ctlUser, ctlPass    string
	verbose             bool
	logLevel            string
	apiToken            string
	maxRules            int
	maxDuration         time.Duration
	connectTimeout      time.Duration
	journalFlushEvery   time.Duration
	shutdownGracePeriod time.Duration
}

// optInt64 is an int64 flag that knows whether it was given.
type optInt64 struct {
	v   int64
	set bool
}

func (o *optInt64) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatInt(o.v, 10)
}

func (o *optInt64) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("want a whole number")
	}
	o.v, o.set = v, true
	return nil
}

// byteSize is a flag of a number of bytes, with an optional KiB, MiB or
// GiB unit.
type byteSize int64

func (b *byteSize) String() string {
	if b == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *byteSize) Set(s string) error {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v > math.MaxInt64/mult {
		return errors.New("want a whole number of bytes, with KiB, MiB or GiB if you like")
	}
	*b = byteSize(v * mult)
	return nil
}

func brokerFlagSet(f *brokerFlags, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mqtthil broker", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.dut, "dut", "127.0.0.1:1883", "`address` of the device-under-test listener (faults and journal apply); port 0 picks a free one")
	fs.StringVar(&f.control, "control", "127.0.0.1:1884", "`address` of the control listener (never faulted)")
	fs.StringVar(&f.api, "api", "127.0.0.1:8080", "`address` of the HTTP/JSON control API; empty turns it off")
	fs.StringVar(&f.plan, "plan", "", "fault plan `file` (YAML) whose rules are armed at start")
	fs.Var(&f.seed, "seed", "`seed` for the rules' randomness (default: the plan's, else a random one, printed)")
	fs.Var(&f.maxQoS, "max-qos", "Maximum QoS advertised and honoured, 0..2 (default 2)")
	fs.IntVar(&f.receiveMaximum, "receive-maximum", 0, "Receive Maximum advertised, 1..65535 (default: mochi's 1024)")
	fs.Var(&f.retainAvailable, "retain-available", "Retain Available advertised and honoured (default true)")
	fs.IntVar(&f.maxPacketSize, "max-packet-size", 0, "Maximum Packet Size advertised and honoured, in bytes (default: no limit)")
	fs.IntVar(&f.topicAliasMax, "topic-alias-max", 0, "Topic Alias Maximum advertised (default 0: no aliases)")
	fs.StringVar(&f.journal, "journal", "", "write the wire journal to `file` as JSON lines, as it is recorded")
	fs.IntVar(&f.journalCap, "journal-cap", 0, "journal records kept in memory for the API (default: the journal's own cap)")
	fs.Var(&f.journalBytes, "journal-bytes", "`size` bound of the memory the kept journal takes, e.g. 64MiB; records past it are counted lost (default 256MiB; -1: no bound)")
	fs.IntVar(&f.writesPending, "writes-pending", 0, "packets mochi queues for one client before the broker drops what comes next, journaled as a drop (default 256; a publisher waits for a subscriber whose queue is half full, and behind the queue up to 8192 writes wait for the client's socket)")
	fs.BoolVar(&f.allowAnonymous, "allow-anonymous", false, "let clients without credentials in on listeners (and the API) bound off loopback")
	// Credentials may come from the environment, so that they stay out of
	// process listings and compose files.
	fs.StringVar(&f.user, "user", os.Getenv("MQTTHIL_DUT_USER"), "user `name` the DUT listener requires (with --password); env MQTTHIL_DUT_USER")
	fs.StringVar(&f.password, "password", os.Getenv("MQTTHIL_DUT_PASSWORD"), "password the DUT listener requires; env MQTTHIL_DUT_PASSWORD")
	fs.StringVar(&f.ctlUser, "control-user", os.Getenv("MQTTHIL_CONTROL_USER"), "user `name` the control listener requires (with --control-password); env MQTTHIL_CONTROL_USER")
	fs.StringVar(&f.ctlPass, "control-password", os.Getenv("MQTTHIL_CONTROL_PASSWORD"), "password the control listener requires; env MQTTHIL_CONTROL_PASSWORD")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate `file`: the DUT listener speaks TLS (with --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key `file` of --tls-cert")
	fs.StringVar(&f.tlsClientCA, "tls-client-ca", "", "PEM CA `file`: DUT clients must present a certificate it signed")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", emulator.DefaultConnectTimeout, "close a DUT connection that has not sent CONNECT within this `duration`; 0 never")
	fs.BoolVar(&f.verbose, "v", false, "log at debug level (same as --log-level debug)")
	fs.StringVar(&f.logLevel, "log-level", "info", "`level` of the broker's log on stderr: debug, info, warn or error (passwords are redacted, each kind of line limited to 20 a second)")
	fs.StringVar(&f.apiToken, "api-token", os.Getenv("MQTTHIL_API_TOKEN"), "bearer `token` every API request but GET /healthz must carry; env MQTTHIL_API_TOKEN")
	fs.IntVar(&f.maxRules, "max-rules", faults.DefaultMaxRules, "fault rules armed at once, at most; negative: no limit")
	fs.DurationVar(&f.maxDuration, "max-duration", faults.DefaultMaxDuration, "longest delay, stall, down time or time window a rule may have; negative: no limit")
	f.journalFlushEvery = 200 * time.Millisecond
	f.shutdownGracePeriod = 5 * time.Second
	fs.Usage = func() {
		fmt.Fprintln(out, "Usage: mqtthil broker [flags]")
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Runs the broker emulator until SIGINT or SIGTERM. It prints the bound")
		fmt.Fprintln(out, "addresses and the seed as \"key: value\" lines, then \"ready\".")
		fmt.Fprintln(out)
		fs.PrintDefaults()
	}
	return fs
}

// brokerOptions turns the flags into emulator options. It reports where
// the seed came from.
func brokerOptions(f *brokerFlags) (emulator.Options, string, error) {
	opts := emulator.Options{
		DUTAddr:        f.dut,
		ControlAddr:    f.control,
		AllowAnonymous: f.allowAnonymous,
		JournalCap:     f.journalCap,
		JournalBytes:   int64(f.journalBytes),
		WritesPending:  f.writesPending,
		ConnectTimeout: f.connectTimeout,
		APIToken:       f.apiToken,
		FaultLimits:    faults.Limits{MaxRules: f.maxRules, MaxDuration: f.maxDuration},
	}
	if f.maxRules == 0 || f.maxDuration == 0 {
		return opts, "", errors.New("--max-rules and --max-duration must not be 0 (negative: no limit)")
	}
	if f.connectTimeout == 0 {
		opts.ConnectTimeout = -1 // the emulator reads 0 as the default
	}
	if f.journalCap < 0 {
		return opts, "", errors.New("--journal-cap must not be negative")
	}
	if f.writesPending < 0 {
		return opts, "", errors.New("--writes-pending must not be negative")
	}
	if f.journalBytes < -1 {
		return opts, "", errors.New("--journal-bytes must be -1 (no bound), 0 (the default) or a size")
	}
	if f.maxQoS.set {
		q := f.maxQoS.v
		opts.Profile.MaximumQoS = &q
	}
	if f.retainAvailable.set {
		r := f.retainAvailable.v
		opts.Profile.RetainAvailable = &r
	}
	opts.Profile.ReceiveMaximum = f.receiveMaximum
	opts.Profile.MaximumPacketSize = f.maxPacketSize
	opts.Profile.TopicAliasMaximum = f.topicAliasMax
	if err := opts.Profile.Validate(); err != nil {
		return opts, "", fmt.Errorf("profile: %w", err)
	}
	var err error
	if opts.DUTAuth, err = credentials("--user", "--password", f.user, f.password); err != nil {
		return opts, "", err
	}
	if opts.ControlAuth, err = credentials("--control-user", "--control-password", f.ctlUser, f.ctlPass); err != nil {
		return opts, "", err
	}

	if opts.DUTTLS, err = tlsConfig(f.tlsCert, f.tlsKey, f.tlsClientCA); err != nil {
		return opts, "", err
	}

	seedFrom := "random"
	if f.plan != "" {
		p, err := faults.LoadPlan(f.plan)
		if err != nil {
			return opts, "", err
		}
		opts.Plan = p
		if p.HasSeed {
			opts.Seed, seedFrom = p.Seed, "plan"
		}
	}
	if f.seed.set {
		opts.Seed, seedFrom = f.seed.v, "--seed"
	}
	if seedFrom == "random" {
		for opts.Seed == 0 {
			opts.Seed = rand.Int64N(1 << 31)
		}
	}
	if opts.Seed == 0 {
		// The emulator takes 0 for "not given" and uses 1; say so.
		opts.Seed = 1
		seedFrom += ", 0 taken as 1"
	}
	if opts.Plan != nil {
		// The plan's rules draw from the session's seed: the plan's own,
		// or --seed in its place.
		opts.Plan.Seed = opts.Seed
	}
	return opts, seedFrom, nil
}

func credentials(userFlag, passFlag, user, pass string) (map[string]string, error) {
	switch {
	case user == "" && pass == "":
		return nil, nil
	case user == "":
		return nil, fmt.Errorf("%s needs %s", passFlag, userFlag)
	case pass == "":
		return nil, fmt.Errorf("%s needs %s", userFlag, passFlag)
	}
	return map[string]string{user: pass}, nil
}

func runBroker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f brokerFlags
	fs := brokerFlagSet(&f, stderr)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mqtthil broker: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "mqtthil broker: %v\n", err)
		return 1
	}
	opts, seedFrom, err := brokerOptions(&f)
	if err != nil {
		return fail(err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		fmt.Fprintf(stderr, "mqtthil broker: --log-level %q: want debug, info, warn or error\n", f.logLevel)
		return 2
	}
	if f.verbose {
		level = slog.LevelDebug
	}
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var apiLn net.Listener
	if f.api != "" {
		if !f.allowAnonymous && f.apiToken == "" && !emulator.IsLoopback(f.api) {
			return fail(fmt.Errorf("--api %s is not on loopback: give --api-token (or MQTTHIL_API_TOKEN), or --allow-anonymous to serve it without one", f.api))
		}
		if apiLn, err = net.Listen("tcp", f.api); err != nil {
			return fail(fmt.Errorf("API listener: %w", err))
		}
		defer apiLn.Close()
	}

	var journalFile *os.File
	if f.journal != "" {
		if journalFile, err = os.Create(f.journal); err != nil {
			return fail(fmt.Errorf("journal: %w", err))
		}
		defer journalFile.Close()
		opts.Sink = journalFile
	}

	startCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	b, err := emulator.Start(startCtx, opts)
	cancel()
	if err != nil {
		return fail(err)
	}

	fmt.Fprintf(stdout, "dut: %s\n", b.DUTAddr)
	fmt.Fprintf(stdout, "control: %s\n", b.ControlAddr)
	var srv *http.Server
	apiDone := make(chan error, 1)
	if apiLn != nil {
		srv = &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { apiDone <- srv.Serve(apiLn) }()
		fmt.Fprintf(stdout, "api: http://%s\n", apiLn.Addr())
	}
	fmt.Fprintf(stdout, "seed: %d (%s)\n", b.Seed, seedFrom)
	if f.plan != "" {
		fmt.Fprintf(stdout, "plan: %s (%d rules)\n", f.plan, len(opts.Plan.Rules))
	}
	if f.journal != "" {
		fmt.Fprintf(stdout, "journal: %s\n", f.journal)
	}
	fmt.Fprintf(stdout, "profile: %s\n", b.Profile)
	fmt.Fprintln(stdout, "ready")

	// Keep the journal file current for readers that follow it.
	var tick <-chan time.Time
	if journalFile != nil {
		t := time.NewTicker(f.journalFlushEvery)
		defer t.Stop()
		tick = t.C
	}
	code := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick:
			if err := b.Journal.Flush(); err != nil {
				fmt.Fprintf(stderr, "mqtthil broker: journal: %v\n", err)
				code = 1
				break loop
			}
		case err := <-apiDone:
			fmt.Fprintf(stderr, "mqtthil broker: API: %v\n", err)
			code = 1
			break loop
		case <-b.Stopped():
			// A broker whose listener is gone must not look alive to
			// whatever supervises it.
			fmt.Fprintf(stderr, "mqtthil broker: %v\n", b.Err())
			code = 1
			break loop
		}
	}

	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), f.shutdownGracePeriod)
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		cancel()
	}
	if err := b.Close(); err != nil {
		fmt.Fprintf(stderr, "mqtthil broker: close: %v\n", err)
		code = 1
	}
	if journalFile != nil {
		if err := journalFile.Close(); err != nil {
			fmt.Fprintf(stderr, "mqtthil broker: journal: %v\n", err)
			code = 1
		}
	}
	st := b.Journal.Stats()
	fmt.Fprintf(stderr, "mqtthil broker: stopped; journal kept %d records (%d bytes), %d past the cap of %d records or %d bytes\n", st.Kept, st.Bytes, st.Lost, st.Cap, st.MaxBytes)
	return code
}

// tlsConfig builds the DUT listener's TLS settings from the flags; nil when
// none are given.
func tlsConfig(cert, key, clientCA string) (*tls.Config, error) {
	switch {
	case cert == "" && key == "" && clientCA == "":
		return nil, nil
	case cert == "" || key == "":
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificate in it", clientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
