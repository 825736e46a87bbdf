// Which libmosquitto release a controller behaves like. Scenarios written
// for one model carry its tag and are skipped under the others; the
// fingerprint runs the short set of cases that tell the models apart
// (controller.Changes) against any controller, so that a run on hardware
// can record which release the firmware's client acts like.
package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/testcerts"
)

func init() {
	def("model", "the controller behaves like model {text}",
		"Runs the fingerprint cases (`mqtthil fingerprint`) on new clients of the scenario's kind of controller and requires every case to match the named model.",
		`the controller behaves like model "libmosquitto-2.0.11"`, "", (*World).behavesLikeModel)
	def("model", "client {name} calls Connect with host {text} and port {int}",
		"Connect to exactly this host and port (keep-alive 60), without waiting: the library resolves the name inside the call, so a name that does not resolve fails the call itself.",
		`client "sensor" calls Connect with host "no-such-host.invalid" and port 1883`, "", (*World).callsConnectWithHostPort)
}

func (w *World) callsConnectWithHostPort(name, host string, port int) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	cl.keepalive = 60
	w.note(cl, "Connect", fmt.Sprintf("host %q port %d", host, port), cl.c.Connect(host, port, 60, nil))
	return nil
}

// modelSkip says why the run's model does not run the scenario: "" when
// it does.
func modelSkip(model string, s *godog.Scenario) string {
	tags := make([]string, len(s.Tags))
	for i, t := range s.Tags {
		tags[i] = t.Name
	}
	m, err := controller.LookupModel(model)
	if err != nil {
		// A release the table does not list (a linked library's own) is
		// still a release that tags can name.
		v := strings.TrimPrefix(model, "libmosquitto-")
		m = controller.Model{Name: "libmosquitto-" + v, Version: v}
	}
	return controller.ModelSkip(m, tags)
}

func (w *World) behavesLikeModel(name string) error {
	want, err := controller.LookupModel(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fp, err := Fingerprint(ctx, FingerprintOptions{NewController: w.opts.NewController, DUTListen: w.opts.DUTListen, DUTHost: w.opts.DUTHost})
	if err != nil {
		return fmt.Errorf("%w: fingerprint: %v", ErrHarness, err)
	}
	var off []string
	for _, c := range fp.Cases {
		if c.Err == "" && !c.Matches(want) {
			off = append(off, fmt.Sprintf("%s: %s", c.Change.Key, c.Observed))
		}
	}
	if len(off) > 0 {
		return fmt.Errorf("the controller does not behave like %s: %s", want.Name, strings.Join(off, "; "))
	}
	return nil
}

// FingerprintOptions say how to reach the controller.
type FingerprintOptions struct {
	NewController func() (controller.Controller, error)
	// DUTListen and DUTHost are as in Options.
	DUTListen, DUTHost string
	// Quiet bounds how long a case waits for a callback that a model may
	// not send; 0 means 3 seconds.
	Quiet time.Duration
}

// FingerprintCase is one case's outcome.
type FingerprintCase struct {
	Change controller.Change
	// Changed: the controller showed the behaviour the release brought.
	Changed  bool
	Observed string
	// Err is set when the case could not be run; it then matches nothing.
	Err string
}

// Matches reports whether the case's outcome is what the model shows.
func (c FingerprintCase) Matches(m controller.Model) bool {
	return c.Err == "" && m.Has(c.Change.Key) == c.Changed
}

// Like names the models whose behaviour the case's outcome shows.
func (c FingerprintCase) Like() []string {
	var like []string
	for _, name := range controller.Models() {
		if c.Matches(controller.MustModel(name)) {
			like = append(like, name)
		}
	}
	return like
}

// FingerprintResult is every case, and the models all of them match.
type FingerprintResult struct {
	Identity controller.Identity
	Cases    []FingerprintCase
	Matching []string
}

// fingerprintCase runs one case on a fresh broker and client; it returns
// whether the changed behaviour showed, and what was seen.
type fingerprintCase struct {
	key string
	run func(ctx context.Context, f *fpRun) (bool, string, error)
}

// fingerprintCases leave out the Maximum Packet Size window on purpose:
// a 2.0.11 library aborts there, taking a real controller's driver down.
var fingerprintCases = []fingerprintCase{
	{controller.ChangePayloadFormatCheck, func(ctx context.Context, f *fpRun) (bool, string, error) {
		return f.publishRefused(ctx, controller.Props{"PAYLOAD_FORMAT_INDICATOR": 2})
	}},
	{controller.ChangeResponseTopicCheck, func(ctx context.Context, f *fpRun) (bool, string, error) {
		return f.publishRefused(ctx, controller.Props{"RESPONSE_TOPIC": "reply/+"})
	}},
	{controller.ChangeTLSFailureCallback, func(ctx context.Context, f *fpRun) (bool, string, error) {
		return f.tlsFailure(ctx)
	}},
}

// Fingerprint runs every case and names the models that match them all.
func Fingerprint(ctx context.Context, o FingerprintOptions) (FingerprintResult, error) {
	if o.Quiet <= 0 {
		o.Quiet = 3 * time.Second
	}
	var res FingerprintResult
	for _, fc := range fingerprintCases {
		ch, ok := changeOf(fc.key)
		if !ok {
			return res, fmt.Errorf("fingerprint case %s is not in controller.Changes", fc.key)
		}
		f := &fpRun{o: o}
		changed, seen, err := fc.run(ctx, f)
		f.close()
		if f.id.Kind != "" {
			res.Identity = f.id
		}
		c := FingerprintCase{Change: ch, Changed: changed, Observed: seen}
		if err != nil {
			c.Err = err.Error()
		}
		res.Cases = append(res.Cases, c)
	}
	for _, name := range controller.Models() {
		m := controller.MustModel(name)
		all := true
		for _, c := range res.Cases {
			all = all && (c.Err != "" || c.Matches(m))
		}
		if all {
			res.Matching = append(res.Matching, name)
		}
	}
	return res, nil
}

// Print writes the result case by case, then the verdict.
func (r FingerprintResult) Print(out io.Writer) {
	fmt.Fprintf(out, "controller: %s (%s, %s)\n", r.Identity.Kind, r.Identity.Model, r.Identity.Firmware)
	for _, c := range r.Cases {
		var like []string
		for _, name := range c.Like() {
			like = append(like, strings.TrimPrefix(name, "libmosquitto-"))
		}
		seen := c.Observed
		if c.Err != "" {
			seen = "not run: " + c.Err
		}
		if len(like) == 0 {
			like = []string{"none"}
		}
		fmt.Fprintf(out, "  %-22s since %-7s %-55s like %s\n", c.Change.Key, c.Change.Since, seen, strings.Join(like, ", "))
	}
	if len(r.Matching) == 0 {
		fmt.Fprintln(out, "behaves like: no single model")
		return
	}
	fmt.Fprintf(out, "behaves like: %s\n", strings.Join(r.Matching, " or "))
}

func changeOf(key string) (controller.Change, bool) {
	for _, c := range controller.Changes {
		if c.Key == key {
			return c, true
		}
	}
	return controller.Change{}, false
}

// fpRun is one case's broker, controller and client.
type fpRun struct {
	o   FingerprintOptions
	b   *emulator.Broker
	ctl controller.Controller
	c   controller.Client
	r   *controller.Recorder
	id  controller.Identity
	dir string
}

func (f *fpRun) close() {
	if f.c != nil {
		f.c.Destroy()
	}
	if f.ctl != nil {
		_ = f.ctl.Close() // the case's outcome is already known
	}
	if f.b != nil {
		_ = f.b.Close()
	}
	if f.dir != "" {
		_ = os.RemoveAll(f.dir)
	}
}

// start brings up a broker and a client of the controller speaking the
// MQTT version (3, 311 or 5).
func (f *fpRun) start(ctx context.Context, opts emulator.Options, version int) error {
	if f.o.DUTListen != "" {
		opts.DUTAddr = f.o.DUTListen
	}
	b, err := emulator.Start(ctx, opts)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	f.b = b
	if f.ctl, err = f.o.NewController(); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	f.id = f.ctl.Identity()
	if f.c, err = f.ctl.NewClient("fingerprint", true); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	f.r = controller.NewRecorder(f.c)
	if r := f.c.ForceMqttVersion(version); r.Code != 0 {
		return fmt.Errorf("ForceMqttVersion(%d) returned %d", version, r.Code)
	}
	return nil
}

func (f *fpRun) hostPort() (string, int, error) {
	host, p, err := net.SplitHostPort(f.b.DUTAddr)
	if err != nil {
		return "", 0, err
	}
	if f.o.DUTHost != "" {
		host = f.o.DUTHost
	}
	port, err := strconv.Atoi(p)
	return host, port, err
}

func (f *fpRun) connect(ctx context.Context) error {
	host, port, err := f.hostPort()
	if err != nil {
		return err
	}
	if r := f.c.Connect(host, port, 60, nil); r.Code != 0 {
		return fmt.Errorf("Connect returned %d", r.Code)
	}
	ev, err := f.r.WaitFor(ctx, func(e controller.Event) bool {
		return e.Kind == controller.OnConnect || e.Kind == controller.OnDisconnect
	})
	if err != nil {
		return fmt.Errorf("waiting for onConnect: %w", err)
	}
	if ev.Kind != controller.OnConnect || ev.Reason != 0 {
		return fmt.Errorf("%s reason %d", ev.Kind, ev.Reason)
	}
	return nil
}

// publishRefused publishes QoS 1 with the properties: refused with 2 is
// the changed behaviour, 0 and onPublish the old one.
func (f *fpRun) publishRefused(ctx context.Context, props controller.Props) (bool, string, error) {
	if err := f.start(ctx, emulator.Options{}, 5); err != nil {
		return false, "", err
	}
	if err := f.connect(ctx); err != nil {
		return false, "", err
	}
	r := f.c.Publish("fingerprint", []byte("x"), 1, false, props)
	switch {
	case r.Code == controller.ErrProtocol:
		return true, "Publish returns 2", nil
	case r.Code != 0:
		return false, "", fmt.Errorf("Publish returned %d", r.Code)
	}
	if _, err := f.r.WaitFor(ctx, controller.Is(controller.OnPublish, r.MsgID)); err != nil {
		return false, "", fmt.Errorf("no onPublish for the accepted publish: %w", err)
	}
	return false, "Publish returns 0, onPublish follows", nil
}

// tlsFailure connects to a broker whose certificate names another host:
// onDisconnect(8) is the changed behaviour, silence the old one.
func (f *fpRun) tlsFailure(ctx context.Context) (bool, string, error) {
	dir, err := os.MkdirTemp("", "mqtthil-fingerprint-")
	if err != nil {
		return false, "", err
	}
	f.dir = dir
	certs, err := testcerts.Write(dir)
	if err != nil {
		return false, "", err
	}
	if err := f.start(ctx, emulator.Options{DUTTLS: certs.WrongName}, 311); err != nil {
		return false, "", err
	}
	if f.id.Kind == "remote" {
		return false, "", errors.New("the certificate files are on this host, not on the controller")
	}
	host, port, err := f.hostPort()
	if err != nil {
		return false, "", err
	}
	// libmosquitto goes as far into the handshake as it can inside
	// Connect: when the broker's answer is already there (loopback), the
	// call itself returns 8. Only a handshake that fails in the network
	// loop tells the releases apart, so the case tries again.
	for attempt := 1; ; attempt++ {
		if r := f.c.SetTlsCertificates(certs.CAFile, "", "", ""); r.Code != 0 {
			return false, "", fmt.Errorf("SetTlsCertificates returned %d", r.Code)
		}
		r := f.c.Connect(host, port, 60, nil)
		if r.Code == 0 {
			break
		}
		if r.Code != controller.ErrTLS || attempt == 10 {
			return false, "", fmt.Errorf("Connect returned %d", r.Code)
		}
		f.c.Destroy()
		if f.c, err = f.ctl.NewClient("fingerprint", true); err != nil {
			return false, "", fmt.Errorf("client: %w", err)
		}
		f.r = controller.NewRecorder(f.c)
	}
	wctx, cancel := context.WithTimeout(ctx, f.o.Quiet)
	defer cancel()
	ev, err := f.r.WaitFor(wctx, func(e controller.Event) bool {
		return e.Kind == controller.OnConnect || e.Kind == controller.OnDisconnect
	})
	switch {
	case err != nil && ctx.Err() == nil:
		return false, fmt.Sprintf("no callback within %s", f.o.Quiet), nil
	case err != nil:
		return false, "", err
	case ev.Kind == controller.OnDisconnect && ev.Reason == controller.ErrTLS:
		return true, "onDisconnect(8)", nil
	}
	return false, "", fmt.Errorf("unexpected %s reason %d", ev.Kind, ev.Reason)
}
