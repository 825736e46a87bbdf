// Package emulator is the broker emulator: an embedded mochi-mqtt broker
// with two listeners, one for the device under test (faults and the wire
// journal apply) and one for control and observers (never faulted).
//
// Start it the way net/http/httptest starts a server:
//
//	b := emulator.StartTest(t, emulator.Options{})
//	// connect the device under test to b.DUTAddr
//	b.Faults.Add(faults.Rule{Name: "lose-ack", Match: ..., Action: faults.Drop{}})
package emulator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/faults/wire"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// Listener ids inside mochi.
const (
	DUTListener     = "dut"
	ControlListener = "control"
)

// DefaultConnectTimeout is how long a DUT connection may take to send its
// CONNECT when Options.ConnectTimeout is 0.
const DefaultConnectTimeout = wire.DefaultConnectTimeout

// DefaultWritesPending is the length of each client's outbound queue in
// mochi. mochi makes that queue, a channel of pointers, at its full length
// when a client connects (8 bytes an entry, idle or not), and drops a
// message for a client whose queue is full, QoS 1 and 2 as well as 0;
// every such drop is journaled (drops.go).
//
// mochi's own default is 8192 (64 KiB a client): long, because the queue
// is what absorbs a publisher running ahead of the goroutine that writes
// to a subscriber, which a busy machine holds up for tens of milliseconds
// at a time. Here two things do that instead, so the queue can be short:
// writes towards a client never wait on its socket (what it does not take
// at once waits in a backlog of up to wire.DefaultBacklogWrites writes
// that costs nothing while empty, wire.Spooled and the fault layer's
// connection), and a publisher waits, for up to Options.FlowWait, while a
// subscriber's queue is more than half full (flow.go). Without that wait
// a 1,024-long queue lost 394 of 128,107 QoS 1 messages in a bench run on
// a loaded machine, messages bare mochi delivered.
const DefaultWritesPending = 256

// readBuffer is the size of mochi's read buffer for each client.
const readBuffer = 512

// Options configure a broker. The zero value is a broker on two free
// loopback ports, anonymous access, the default profile and seed 1.
type Options struct {
	DUTAddr     string // default 127.0.0.1:0
	ControlAddr string // default 127.0.0.1:0
	// Listen binds the DUT and control listeners, and the DUT listener
	// again after a restart; nil binds real sockets. An in-memory
	// network's Listen (memnet.Network.Listen) keeps the broker off the
	// host's network, as a synctest bubble needs; the fault layer and
	// the journal work the same on it.
	Listen wire.ListenFunc

	Profile Profile

	// Credentials per listener: user name to password. An empty map means
	// any client may connect, unless the listener is bound to an address
	// that is not loopback and AllowAnonymous is false.
	DUTAuth        map[string]string
	ControlAuth    map[string]string
	AllowAnonymous bool
	// OpenDUT lets DUT-listener clients use the control channel's topics
	// (ControlTopics) and $SYS, which they are kept out of otherwise; for
	// tests that stand the DUT listener, which can be bounced, in for the
	// control listener.
	OpenDUT bool

	// DUTTLS, when set, makes the DUT listener speak TLS; the fault layer
	// works on the MQTT stream inside it.
	DUTTLS *tls.Config

	Seed       int64         // for the fault rules' randomness; 0 means 1
	Rules      []faults.Rule // armed at start
	Plan       *faults.Plan  // armed at start, after Rules, with Plan.Arm
	JournalCap int           // records kept in memory; 0 means journal.DefaultCap
	// JournalBytes bounds the memory the kept records take; 0 means
	// journal.DefaultMaxBytes, < 0 no bound beyond JournalCap.
	JournalBytes int64
	// WritesPending is how many packets mochi queues for one client
	// before it drops what comes next (a message is then lost, journaled
	// as a drop); 0 means DefaultWritesPending. Each client costs 8
	// bytes of it up front. Behind the queue, up to
	// max(WritesPending, wire.DefaultBacklogWrites) writes towards the
	// client may wait for its socket.
	WritesPending int
	// FlowWait is the longest a publisher waits for a subscriber whose
	// queue is more than half full to make room (flow.go): 0 means
	// DefaultFlowWait, negative never waits, as bare mochi does not.
	FlowWait time.Duration

	// ConnectTimeout closes a DUT connection that has not sent a whole
	// CONNECT by then: 0 means wire.DefaultConnectTimeout (5 s), negative
	// never. Before CONNECT a packet over 64 KiB is refused; after it,
	// Profile.MaximumPacketSize is enforced from the fixed header.
	ConnectTimeout time.Duration
	// MaxHeldBytes bounds the bytes the fault layer holds for one DUT
	// connection (a packet being read, packets behind a delay): 0 means
	// wire.DefaultHeld (32 MiB). Past it the connection is closed.
	MaxHeldBytes int

	// FaultLimits bound the armed rules: how many, and how long their
	// delays, stalls and windows may be (defaults 10,000 and 1 h).
	FaultLimits faults.Limits
	// APIToken, when set, is the bearer token every request to the HTTP
	// API but GET /healthz must carry (Authorization: Bearer TOKEN).
	APIToken string
	Logger   *slog.Logger // default: discard; passwords and the API token are redacted
	// LogRate is how many log lines of one kind (level and message) go
	// through per second; the rest are counted. 0: DefaultLogRate,
	// negative: no limit.
	LogRate int
	Sink    io.Writer // journal records streamed as JSONL, if set
}

// Broker is a running emulator.
type Broker struct {
	DUTAddr     string
	ControlAddr string
	Seed        int64
	Faults      *faults.Set
	Journal     *journal.Journal
	Profile     Profile

	apiToken  string
	server    *mqtt.Server
	dut       *wire.Listener
	listeners []*mochiListener
	stopped   chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Stopped is closed when a listener has ended on an accept error it could
// not wait out; Err then says which. Close does not close it.
func (b *Broker) Stopped() <-chan struct{} { return b.stopped }

// Err is the accept error that ended a listener, nil while both serve.
func (b *Broker) Err() error {
	if err := b.dut.Err(); err != nil {
		return fmt.Errorf("DUT listener: %w", err)
	}
	for _, l := range b.listeners {
		if err := l.Err(); err != nil {
			return fmt.Errorf("%s listener: %w", l.id, err)
		}
	}
	return nil
}

// Start starts a broker and returns once both listeners accept
// connections. ctx bounds the start only.
func Start(ctx context.Context, opts Options) (*Broker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.DUTAddr == "" {
		opts.DUTAddr = "127.0.0.1:0"
	}
	if opts.ControlAddr == "" {
		opts.ControlAddr = "127.0.0.1:0"
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.Logger = brokerLogger(opts)
	if err := opts.Profile.Validate(); err != nil {
		return nil, fmt.Errorf("emulator: profile: %w", err)
	}
	for name, addr := range map[string]string{"DUT": opts.DUTAddr, "control": opts.ControlAddr} {
		auth := opts.DUTAuth
		if name == "control" {
			auth = opts.ControlAuth
		}
		if len(auth) == 0 && !opts.AllowAnonymous && !IsLoopback(addr) {
			return nil, fmt.Errorf("emulator: %s listener %s is not on loopback: give credentials or allow anonymous clients", name, addr)
		}
	}

	set := faults.NewSet(opts.Seed)
	set.SetLimits(opts.FaultLimits)
	for _, r := range opts.Rules {
		if err := set.Add(r); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
	}
	if opts.Plan != nil {
		if _, err := opts.Plan.Arm(set); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
	}
	j := journal.New(opts.JournalCap)
	j.SetMaxBytes(opts.JournalBytes)
	if opts.Sink != nil {
		j.SetSink(opts.Sink)
	}

	listen := opts.Listen
	if listen == nil {
		listen = new(net.ListenConfig).Listen
	}
	// The DUT listener is bound again after each restart: TLS must come
	// back with it.
	dutListen := listen
	if opts.DUTTLS != nil {
		dutListen = func(ctx context.Context, network, address string) (net.Listener, error) {
			l, err := listen(ctx, network, address)
			if err != nil {
				return nil, err
			}
			return tls.NewListener(l, opts.DUTTLS), nil
		}
	}
	dutInner, err := dutListen(ctx, "tcp", opts.DUTAddr)
	if err != nil {
		return nil, fmt.Errorf("emulator: DUT listener: %w", err)
	}
	ctlInner, err := listen(ctx, "tcp", opts.ControlAddr)
	if err != nil {
		dutInner.Close()
		return nil, fmt.Errorf("emulator: control listener: %w", err)
	}
	dut := wire.NewListener(dutInner, set, j)
	dut.SetListen(dutListen)
	dut.SetLogger(opts.Logger)
	pending := DefaultWritesPending
	if opts.WritesPending > 0 {
		pending = opts.WritesPending
	}
	flowWait := opts.FlowWait
	if flowWait == 0 {
		flowWait = DefaultFlowWait
	}
	if outboundField == nil && opts.WritesPending == 0 {
		// A mochi whose queue flowHook cannot see: its own long queue.
		pending, flowWait = 8192, -1
	}
	backlog := max(pending, wire.DefaultBacklogWrites)
	dut.SetLimits(wire.Limits{ConnectTimeout: opts.ConnectTimeout, MaxPacket: opts.Profile.MaximumPacketSize, Held: opts.MaxHeldBytes, Writes: backlog})

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = int32(pending)
	opts.Profile.apply(caps)
	drops := &dropRecorder{journal: j, listener: DUTListener}
	server := mqtt.New(&mqtt.Options{
		InlineClient: true,
		Capabilities: caps,
		// mochi's read buffer per client, made when the client connects
		// (2 KiB by default). On the DUT listener it reads from the fault
		// layer, which holds whole packets already; a read larger than
		// the buffer bypasses it.
		ClientNetReadBufferSize: readBuffer,
		Logger:                  slog.New(&dropLog{next: opts.Logger.Handler(), rec: drops}),
	})
	drops.server = server
	if err := server.AddHook(&dropHook{rec: drops}, nil); err != nil {
		dut.Close()
		ctlInner.Close()
		return nil, err
	}
	// Before authHook: mochi asks the ACL hooks in order until one grants,
	// and flowHook, which waits for room, grants nothing.
	if flowWait > 0 && outboundField != nil {
		if err := server.AddHook(newFlowHook(pending, flowWait), nil); err != nil {
			dut.Close()
			ctlInner.Close()
			return nil, err
		}
	}
	// mochi calls a hook that handles packet encoding for every packet it
	// sends, with the whole packet by value: only a profile that has
	// something to add to CONNACK gets one.
	if opts.Profile.completesConnack() {
		if err := server.AddHook(&profileHook{profile: opts.Profile}, nil); err != nil {
			dut.Close()
			ctlInner.Close()
			return nil, err
		}
	}
	if err := server.AddHook(&authHook{openDUT: opts.OpenDUT, byListener: map[string]map[string]string{
		DUTListener:     opts.DUTAuth,
		ControlListener: opts.ControlAuth,
	}}, nil); err != nil {
		dut.Close()
		ctlInner.Close()
		return nil, err
	}
	// The DUT listener's fault layer waits out temporary errors itself,
	// and journals and logs them: what reaches its mochi listener is the
	// end, logged already.
	dutML := newMochiListener(DUTListener, dut, func(string, error, bool) {})
	ctlML := newMochiListener(ControlListener, spoolingListener{ctlInner, backlog, opts.MaxHeldBytes}, func(id string, err error, retrying bool) {
		switch {
		case retrying:
			opts.Logger.Warn("control listener: accepting fails, retrying with backoff", "error", err)
		case err == nil:
			opts.Logger.Info("control listener: accepting again")
		default:
			opts.Logger.Error("control listener stopped", "error", err)
			j.Add(journal.Record{Kind: journal.KindFault, Action: "accept", Cause: "control listener stopped: " + err.Error()})
		}
	})
	if err := server.AddListener(dutML); err != nil {
		dut.Close()
		ctlInner.Close()
		return nil, err
	}
	if err := server.AddListener(ctlML); err != nil {
		dut.Close()
		ctlInner.Close()
		return nil, err
	}
	if err := server.Serve(); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	stopped := make(chan struct{})
	go func() {
		// Ends with the listeners: Close closes both done channels.
		select {
		case <-dut.Stopped():
		case <-ctlML.stopped:
		case <-ctlML.done:
			return
		}
		close(stopped)
	}()
	return &Broker{
		stopped:     stopped,
		apiToken:    opts.APIToken,
		DUTAddr:     dutInner.Addr().String(),
		ControlAddr: ctlInner.Addr().String(),
		Seed:        opts.Seed,
		Faults:      set,
		Journal:     j,
		Profile:     opts.Profile,
		server:      server,
		dut:         dut,
		listeners:   []*mochiListener{dutML, ctlML},
	}, nil
}

// StartTest starts a broker on loopback for the test and closes it when the
// test ends. Address options left empty bind free ports.
func StartTest(t testing.TB, opts Options) *Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start broker emulator: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close broker emulator: %v", err)
		}
	})
	return b
}

// Server is the mochi server underneath, for what the emulator does not
// wrap.
func (b *Broker) Server() *mqtt.Server { return b.server }

// Restart closes the DUT listener and every connection on it, and accepts
// connections again after downFor. Sessions are kept. It returns at once;
// Listener().Up reports when the listener is back.
func (b *Broker) Restart(downFor time.Duration) error {
	return b.dut.Bounce(downFor, "restart requested")
}

// Listener is the DUT listener's fault layer.
func (b *Broker) Listener() *wire.Listener { return b.dut }

// Close stops the broker: both listeners, every connection. It flushes the
// journal's sink and returns its error, if any.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		var err error
		for _, l := range b.listeners {
			if !l.shutdown(5 * time.Second) {
				err = errors.Join(err, fmt.Errorf("%s listener: clients still open after 5s", l.id))
			}
		}
		b.dut.Close()
		b.server.Close()
		if ferr := b.Journal.Flush(); ferr != nil {
			err = errors.Join(err, fmt.Errorf("journal: %w", ferr))
		}
		b.closeErr = err
	})
	return b.closeErr
}

// IsLoopback reports whether a listen address is on loopback ("localhost"
// counts): off loopback, listeners need credentials unless anonymous
// clients are allowed on purpose.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
