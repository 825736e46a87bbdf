// Package remote drives a real controller over the control channel
// (docs/control-channel.md): every call on a client becomes a request that
// the probe driver executes on a C4:MQTT object, and every callback of
// those objects comes back as an event.
//
// Every request has a deadline. A request without a response, an event
// lost on the way (a gap in the sequence numbers), a restarted probe driver
// or a silent control channel is a problem of the bench, not of the
// controller under test: the controller records it (Err), every later call
// returns at once with the error, and the scenario ends as an error rather
// than hanging or failing.
package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/mqtthil/mqtthil/controller"
)

// ErrBench marks every error of this package: the control channel or the
// probe driver failed, not the controller's MQTT API.
var ErrBench = errors.New("control channel")

// ErrNoResponse marks a request that got no response within its deadline.
var ErrNoResponse = errors.New("no response")

// Config says where the probe driver's control channel is.
type Config struct {
	// Addr is the control listener, host:port.
	Addr string
	// Station is the probe driver's Station ID.
	Station string
	// Username and Password for the control listener, when it asks.
	Username, Password string
	// ClientID of the harness's control connection; default
	// mqtthil-harness-<station>.
	ClientID string
	// Timeout bounds every request, and the hello. 0 means 5 seconds.
	Timeout time.Duration
	// HeartbeatMisses is how many heartbeat periods may pass without any
	// event before the channel counts as lost. 0 means 3; below 0 turns
	// the check off.
	HeartbeatMisses int
	// Reset sends a reset when the controller starts, so that objects a
	// previous run left on the probe are gone. Its own objects are always
	// reset when it closes.
	Reset bool

	// helloWait, when set, bounds the hello instead of Timeout: DialWait
	// asks again soon while the probe is still coming online.
	helloWait time.Duration
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.ClientID == "" {
		c.ClientID = "mqtthil-harness-" + c.Station
	}
	if c.HeartbeatMisses == 0 {
		c.HeartbeatMisses = 3
	}
	return c
}

// Controller is a real controller reached through its probe driver.
type Controller struct {
	cfg      Config
	pc       *paho.Client
	identity controller.Identity
	boot     string

	callMu sync.Mutex // one request at a time, as the probe runs them

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change below
	nextID    int
	waiting   map[string]chan response
	err       error
	closed    bool
	baseline  int64 // events up to this seq belong to before this controller
	expect    int64 // the next seq expected by the dispatcher
	delivered int64 // the last seq the dispatcher has handed over
	call      *callState
	queue     []queued
	clients   map[int]*Client
	labels    map[string]int
	ready     bool // the hello is done; events count from now on

	heartbeat time.Duration
	watchdog  *time.Timer

	failed chan struct{} // closed when err is set
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
}

// callState orders a call against the events around it.
type callState struct {
	answered bool  // its response arrived
	seq      int64 // the response's seq: events up to it came before the return
	returned bool  // the caller has its result
}

type queued struct {
	ev    event
	at    time.Time
	close *Client // a marker: close this client's events here
}

var _ controller.Controller = (*Controller)(nil)

// Dial connects to the control listener, asks the probe driver for its
// identity and returns the controller. ctx bounds the dial only.
func Dial(ctx context.Context, cfg Config) (*Controller, error) {
	cfg = cfg.withDefaults()
	if cfg.Station == "" {
		return nil, fmt.Errorf("%w: no station id", ErrBench)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to %s: %v", ErrBench, cfg.Addr, err)
	}
	c := &Controller{
		cfg:     cfg,
		changed: make(chan struct{}),
		waiting: map[string]chan response{},
		clients: map[int]*Client{},
		labels:  map[string]int{},
		done:    make(chan struct{}),
		failed:  make(chan struct{}),
	}
	c.pc = paho.NewClient(paho.ClientConfig{
		Conn:              conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){c.received},
		OnClientError:     func(err error) { c.fail(fmt.Errorf("%w: connection lost: %v", ErrBench, err)) },
		OnServerDisconnect: func(d *paho.Disconnect) {
			c.fail(fmt.Errorf("%w: the broker disconnected the harness (reason %d)", ErrBench, d.ReasonCode))
		},
	})
	cp := &paho.Connect{ClientID: cfg.ClientID, CleanStart: true, KeepAlive: 30}
	if cfg.Username != "" {
		cp.Username, cp.UsernameFlag = cfg.Username, true
		cp.Password, cp.PasswordFlag = []byte(cfg.Password), true
	}
	ca, err := c.pc.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: MQTT connect to %s: %v", ErrBench, cfg.Addr, err)
	}
	if ca.ReasonCode != 0 {
		conn.Close()
		return nil, fmt.Errorf("%w: the control listener refused the harness (reason %d)", ErrBench, ca.ReasonCode)
	}
	c.wg.Add(1)
	go c.dispatch()
	fail := func(err error) (*Controller, error) {
		c.Close()
		return nil, err
	}
	if _, err := c.pc.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: respTopic(cfg.Station), QoS: 1},
		{Topic: eventTopic(cfg.Station), QoS: 1},
	}}); err != nil {
		return fail(fmt.Errorf("%w: subscribing: %v", ErrBench, err))
	}
	var hello helloResult
	helloWait := cfg.Timeout
	if cfg.helloWait > 0 {
		helloWait = cfg.helloWait
	}
	resp, err := c.askHello(&hello, helloWait)
	if err != nil {
		return fail(err)
	}
	c.identity = identityOf(hello.Identity)
	c.boot = hello.Boot
	c.mu.Lock()
	c.baseline, c.expect, c.delivered, c.ready = resp.Seq, resp.Seq+1, resp.Seq, true
	if hello.HeartbeatS > 0 && cfg.HeartbeatMisses > 0 {
		c.heartbeat = time.Duration(hello.HeartbeatS * float64(cfg.HeartbeatMisses) * float64(time.Second))
		c.watchdog = time.AfterFunc(c.heartbeat, func() {
			c.fail(fmt.Errorf("%w: no event from the probe driver for %v (%d heartbeats)", ErrBench, c.heartbeat, cfg.HeartbeatMisses))
		})
	}
	c.notifyLocked()
	c.mu.Unlock()
	if cfg.Reset {
		if _, err := c.request(&request{Op: "reset"}, nil); err != nil {
			return fail(err)
		}
	}
	return c, nil
}

// DialWait is Dial, tried again while the probe driver does not answer,
// until ctx ends: a probe still connecting or backing off is waited for.
func DialWait(ctx context.Context, cfg Config) (*Controller, error) {
	// A hello sent before the probe has subscribed is lost: the first
	// ones are given little time, doubling up to the request timeout, so
	// that a probe that comes online a moment after the run is answered
	// at once rather than after a whole timeout.
	cfg = cfg.withDefaults()
	cfg.helloWait = min(250*time.Millisecond, cfg.Timeout)
	for {
		c, err := Dial(ctx, cfg)
		cfg.helloWait = min(2*cfg.helloWait, cfg.Timeout)
		if err == nil || !errors.Is(err, ErrNoResponse) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: the probe driver of station %s did not answer: %v", ErrBench, cfg.Station, err)
		default:
		}
	}
}

func identityOf(m identityMsg) controller.Identity {
	id := controller.Identity{Kind: "remote", Model: m.Model, Firmware: m.Firmware, DriverVersion: "probe " + m.ProbeVersion}
	if id.Model == "" {
		id.Model = "Control4 controller"
	}
	if m.DeviceID != nil {
		id.DeviceID = text(m.DeviceID)
	}
	return id
}

// Identity is what the probe driver reported in its hello.
func (c *Controller) Identity() controller.Identity { return c.identity }

// Err is the first problem of the control channel or the probe driver,
// wrapping ErrBench; nil while all is well.
func (c *Controller) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// BenchErr is Err, for controller.BenchChecker.
func (c *Controller) BenchErr() error { return c.Err() }

var _ controller.BenchChecker = (*Controller)(nil)

// fail records the first problem; every waiter wakes up.
func (c *Controller) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && !c.closed {
		c.setErrLocked(err)
	}
	c.notifyLocked()
}

func (c *Controller) setErrLocked(err error) {
	if c.err == nil {
		c.err = err
		close(c.failed)
	}
}

// Failed is closed when the controller has a problem (Err).
func (c *Controller) Failed() <-chan struct{} { return c.failed }

func (c *Controller) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitFor waits until cond holds (checked under mu), the controller fails
// or closes, or the deadline passes. It returns with mu held.
func (c *Controller) waitFor(deadline time.Time, cond func() bool) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if cond() {
			return nil
		}
		if c.err != nil {
			return c.err
		}
		if c.closed {
			return fmt.Errorf("%w: the controller is closed", ErrBench)
		}
		ch := c.changed
		c.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(time.Until(deadline))
		}
		select {
		case <-ch:
			c.mu.Lock()
		case <-timer.C:
			c.mu.Lock()
			if cond() {
				return nil
			}
			return errTimeout
		}
	}
}

var errTimeout = errors.New("deadline passed")

// received runs on paho's goroutine for every message from the probe.
func (c *Controller) received(pr paho.PublishReceived) (bool, error) {
	at := time.Now()
	p := pr.Packet
	switch p.Topic {
	case respTopic(c.cfg.Station):
		var r response
		if err := decode(p.Payload, &r); err != nil || r.V != SchemaVersion {
			c.fail(fmt.Errorf("%w: a response the harness cannot read (schema %d): %q", ErrBench, r.V, p.Payload))
			return true, nil
		}
		c.mu.Lock()
		ch := c.waiting[r.ID]
		delete(c.waiting, r.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	case eventTopic(c.cfg.Station):
		var ev event
		if err := decode(p.Payload, &ev); err != nil || ev.V != SchemaVersion {
			c.fail(fmt.Errorf("%w: an event the harness cannot read (schema %d): %q", ErrBench, ev.V, p.Payload))
			return true, nil
		}
		c.mu.Lock()
		if c.watchdog != nil {
			c.watchdog.Reset(c.heartbeat)
		}
		c.queue = append(c.queue, queued{ev: ev, at: at})
		c.notifyLocked()
		c.mu.Unlock()
	}
	return true, nil
}

// askHello sends the hello request and waits for its response within
// wait. A request sent before the probe subscribed is lost; a probe that
// subscribes says hello on its event topic, to which the harness is
// already subscribed, and is asked again at once rather than when wait
// runs out. A new request gets the whole wait again (one asked a moment
// before the first would have timed out must still have time to be
// sent), up to maxHelloAgain times; after that the last one's wait ends
// the dial as any request's does.
func (c *Controller) askHello(into *helloResult, wait time.Duration) (response, error) {
	for again := 0; ; again++ {
		c.mu.Lock()
		seen := c.helloEventsLocked()
		c.mu.Unlock()
		var cond func() bool
		if again < maxHelloAgain {
			cond = func() bool { return c.helloEventsLocked() > seen }
		}
		resp, err := c.requestUntil(&request{Op: "hello"}, into, wait, cond)
		if !errors.Is(err, errAskAgain) {
			return resp, err
		}
	}
}

// maxHelloAgain bounds how often a probe's hello event makes the harness
// ask again: a probe that keeps saying hello without answering must not
// keep the dial going.
const maxHelloAgain = 3

// helloEventsLocked counts the hello events queued before the hello is
// done (the queue is not served until then).
func (c *Controller) helloEventsLocked() int {
	n := 0
	for _, q := range c.queue {
		if q.close == nil && q.ev.Type == "hello" {
			n++
		}
	}
	return n
}

// errAskAgain ends a request whose again condition came true.
var errAskAgain = errors.New("ask again")

// request sends one request and waits for its response within the
// deadline. into, if set, receives the result. Callers hold callMu or are
// Dial.
func (c *Controller) request(req *request, into any) (response, error) {
	return c.requestWithin(req, into, c.cfg.Timeout)
}

// requestWithin is request with its own time limit.
func (c *Controller) requestWithin(req *request, into any, timeout time.Duration) (response, error) {
	return c.requestUntil(req, into, timeout, nil)
}

// requestUntil is requestWithin that gives up on the response, with
// errAskAgain, once again (checked under mu whenever the controller
// changes) holds.
func (c *Controller) requestUntil(req *request, into any, timeout time.Duration, again func() bool) (response, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return response{}, err
	}
	c.nextID++
	req.V, req.ID = SchemaVersion, strconv.Itoa(c.nextID)
	ch := make(chan response, 1)
	c.waiting[req.ID] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.waiting, req.ID)
		c.mu.Unlock()
	}
	payload, err := jsonMarshal(req)
	if err == nil && len(payload) > maxMessage {
		err = fmt.Errorf("%d bytes is more than the control channel carries in one message", len(payload))
	}
	if err != nil {
		forget()
		return response{}, fmt.Errorf("%w: encoding %s: %v", ErrBench, req.Op, err)
	}
	// Sending is bounded by the channel's request deadline even when the
	// answer is given less (DialWait's first hellos): a send slowed by a
	// busy machine is not a broken channel, and an answer that is late
	// for it is ErrNoResponse, which DialWait asks again on.
	start := time.Now()
	sendCtx, cancelSend := context.WithTimeout(context.Background(), max(timeout, c.cfg.Timeout))
	_, err = c.pc.Publish(sendCtx, &paho.Publish{Topic: reqTopic(c.cfg.Station), QoS: 1, Payload: payload})
	cancelSend()
	if err != nil {
		forget()
		err = fmt.Errorf("%w: sending %s request %s: %v", ErrBench, req.Op, req.ID, err)
		c.fail(err)
		return response{}, err
	}
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(timeout))
	defer cancel()
	c.mu.Lock()
	changed := c.changed
	retry := again != nil && again()
	c.mu.Unlock()
	if retry {
		forget()
		return response{}, errAskAgain
	}
	for {
		select {
		case r := <-ch:
			if !r.OK {
				return r, fmt.Errorf("%w: the probe driver refused %s request %s: %s", ErrBench, req.Op, req.ID, r.Error)
			}
			if into != nil && len(r.Result) > 0 {
				if err := decode(r.Result, into); err != nil {
					return r, fmt.Errorf("%w: reading the result of %s request %s: %v", ErrBench, req.Op, req.ID, err)
				}
			}
			return r, nil
		case <-ctx.Done():
			forget()
			err := fmt.Errorf("%w: %w to %s request %s within %v", ErrBench, ErrNoResponse, req.Op, req.ID, timeout)
			c.fail(err)
			return response{}, err
		case <-changed:
			c.mu.Lock()
			err := c.err
			changed = c.changed
			retry = err == nil && again != nil && again()
			c.mu.Unlock()
			if err != nil {
				forget()
				return response{}, err
			}
			if retry {
				forget()
				return response{}, errAskAgain
			}
		}
	}
}

// do runs one request that may cause callbacks: events the probe emitted
// before its response are handed over before do returns, later ones after.
func (c *Controller) do(req *request, into any) error {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	st := &callState{}
	c.mu.Lock()
	c.call = st
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		st.returned = true
		if c.call == st {
			c.call = nil
		}
		c.notifyLocked()
		c.mu.Unlock()
	}()
	resp, err := c.request(req, into)
	if err != nil {
		if resp.ID != "" {
			// Refused, but answered: it changed nothing on the probe.
			c.fail(err)
		}
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st.answered, st.seq = true, resp.Seq
	c.notifyLocked()
	err = c.waitFor(time.Now().Add(c.cfg.Timeout), func() bool { return c.delivered >= resp.Seq })
	if errors.Is(err, errTimeout) {
		err = fmt.Errorf("%w: events up to %d did not arrive within %v of the response to %s request %s (last %d)", ErrBench, resp.Seq, c.cfg.Timeout, req.Op, req.ID, c.delivered)
		c.setErrLocked(err)
		c.notifyLocked()
	}
	return err
}

// dispatch hands events to their clients in sequence order, checking that
// none is missing, and holds back events that came after a call's return
// until the caller has it.
func (c *Controller) dispatch() {
	defer c.wg.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() {
		for _, cl := range c.clients {
			cl.closeEvents()
		}
		c.clients = map[int]*Client{}
	}()
	for {
		if c.closed {
			return
		}
		for len(c.queue) == 0 || !c.ready {
			if c.closed {
				return
			}
			ch := c.changed
			c.mu.Unlock()
			<-ch
			c.mu.Lock()
		}
		q := c.queue[0]
		if q.close != nil {
			c.queue = c.queue[1:]
			q.close.closeEvents()
			delete(c.clients, q.close.obj)
			continue
		}
		ev := q.ev
		if ev.Seq <= c.baseline && ev.Boot == c.boot {
			c.queue = c.queue[1:]
			continue
		}
		if c.err == nil {
			switch {
			case ev.Boot != c.boot:
				c.setErrLocked(fmt.Errorf("%w: the probe driver restarted (boot %s, was %s): the controller's objects are gone", ErrBench, ev.Boot, c.boot))
			case ev.Seq != c.expect:
				c.setErrLocked(fmt.Errorf("%w: event %d arrived where %d was expected: %d event(s) lost", ErrBench, ev.Seq, c.expect, ev.Seq-c.expect))
			}
			if c.err != nil {
				c.notifyLocked()
			}
		}
		if c.err != nil {
			// The record is incomplete from here; the scenario ends as an
			// error. Events are dropped so that nothing waits on them.
			c.queue = c.queue[1:]
			continue
		}
		// An event after the return of the call in flight waits for the
		// caller to have its result.
		if st := c.call; st != nil && !st.returned && (!st.answered || ev.Seq > st.seq) {
			ch := c.changed
			c.mu.Unlock()
			<-ch
			c.mu.Lock()
			continue
		}
		c.queue = c.queue[1:]
		c.expect = ev.Seq + 1
		if ev.Type == "callback" {
			if cl := c.clients[ev.Obj]; cl != nil {
				out, err := toEvent(ev.CB, ev.Args)
				if err != nil {
					c.setErrLocked(fmt.Errorf("%w: event %d: %v", ErrBench, ev.Seq, err))
				} else {
					out.At, out.Client = q.at, cl.label
					c.mu.Unlock()
					select {
					case cl.out <- out:
					case <-cl.quit:
					case <-c.done:
					}
					c.mu.Lock()
				}
			}
		}
		c.delivered = ev.Seq
		c.notifyLocked()
	}
}

// NewClient creates a C4:MQTT object on the controller.
func (c *Controller) NewClient(clientID string, cleanSession bool) (controller.Client, error) {
	var id *string
	if clientID != "" {
		id = &clientID
	}
	return c.newClient(id, cleanSession)
}

// NewClientEmptyID creates the object with C4:MQTT("", cleanSession): the
// probe passes the empty string on, where NewClient("") passes nil.
func (c *Controller) NewClientEmptyID(cleanSession bool) (controller.Client, error) {
	empty := ""
	return c.newClient(&empty, cleanSession)
}

func (c *Controller) newClient(id *string, cleanSession bool) (controller.Client, error) {
	req := &request{Op: "create", CleanSession: &cleanSession, ClientID: id}
	clientID := ""
	if id != nil {
		clientID = *id
	}
	var res callResult
	if err := c.do(req, &res); err != nil {
		return nil, err
	}
	if res.Obj == 0 {
		return nil, fmt.Errorf("C4:MQTT returned nil: %s", text(pick(res.Ret, 1)))
	}
	label := clientID
	switch {
	case id == nil:
		label = "(no client id)"
	case clientID == "":
		label = "(empty client id)"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.labels[label]++
	if n := c.labels[label]; n > 1 {
		label = fmt.Sprintf("%s#%d", label, n)
	}
	cl := &Client{c: c, obj: res.Obj, label: label, out: make(chan controller.Event, 16), quit: make(chan struct{})}
	c.clients[res.Obj] = cl
	return cl, nil
}

func pick(v []any, i int) any {
	if i < len(v) {
		return v[i]
	}
	return nil
}

// Close destroys the controller's objects on the probe and leaves the
// control channel. It does not wait longer than one request deadline.
func (c *Controller) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	ready := c.ready && c.err == nil
	c.mu.Unlock()
	var err error
	if ready {
		c.callMu.Lock()
		_, err = c.request(&request{Op: "reset"}, nil)
		c.callMu.Unlock()
	}
	c.mu.Lock()
	c.closed = true
	if c.watchdog != nil {
		c.watchdog.Stop()
	}
	close(c.done)
	c.notifyLocked()
	c.mu.Unlock()
	c.pc.Disconnect(&paho.Disconnect{ReasonCode: 0})
	select {
	case <-c.pc.Done():
	case <-time.After(c.cfg.Timeout):
	}
	c.wg.Wait()
	return err
}
