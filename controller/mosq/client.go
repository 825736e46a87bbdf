//go:build libmosquitto

package mosq

/*
#cgo LDFLAGS: -lmosquitto
#include <stdlib.h>
#include "mosq.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/internal/clientset"
	"github.com/mqtthil/mqtthil/controller/internal/eventloop"
)

// loopTimeout bounds one turn of the network loop (mqh_loop): how long a Connect,
// Reconnect or Destroy may wait for the network loop to let go.
const loopTimeout = 20 // milliseconds

var (
	initOnce sync.Once
	initErr  error // mosquitto_lib_init's failure; every NewClient reports it
)

func libInit() {
	initOnce.Do(func() {
		if rc := C.mosquitto_lib_init(); rc != 0 {
			initErr = fmt.Errorf("mosq: mosquitto_lib_init: %s (%d)", errString(int(rc)), int(rc))
		}
	})
}

// Version is libmosquitto's version, as the library reports it.
func Version() string {
	var major, minor, rev C.int
	C.mosquitto_lib_version(&major, &minor, &rev)
	return fmt.Sprintf("%d.%d.%d", major, minor, rev)
}

// Controller makes libmosquitto clients.
type Controller struct {
	clients clientset.Set[*Client]
}

// New returns a controller whose clients are libmosquitto clients.
func New() *Controller {
	libInit()
	return &Controller{}
}

var _ controller.Controller = (*Controller)(nil)

// Identity names libmosquitto and its version.
func (c *Controller) Identity() controller.Identity {
	return controller.Identity{
		Kind:          "mosq",
		Model:         "libmosquitto reference client",
		Firmware:      "libmosquitto " + Version(),
		DriverVersion: "mosq",
	}
}

// NewClient creates a client like C4:MQTT(clientId, cleanSession):
// mosquitto_new. An empty id passes NULL, so libmosquitto picks.
func (c *Controller) NewClient(clientID string, cleanSession bool) (controller.Client, error) {
	return c.NewMosqClient(clientID, cleanSession)
}

// NewClientEmptyID is C4:MQTT("", cleanSession). The binding this package
// stands in for takes an empty id for none, as the API's documentation
// says, so it passes NULL as NewClient("") does; libmosquitto itself
// refuses "" (mosquitto_new sets EINVAL and returns NULL).
func (c *Controller) NewClientEmptyID(cleanSession bool) (controller.Client, error) {
	return c.NewMosqClient("", cleanSession)
}

// NewMosqClient is NewClient returning the concrete type.
func (c *Controller) NewMosqClient(clientID string, cleanSession bool) (*Client, error) {
	if clientID == "" && !cleanSession {
		return nil, errors.New("mosq: a client without an id must use a clean session (invalid arguments)")
	}
	if strings.IndexByte(clientID, 0) >= 0 {
		return nil, errors.New("mosq: client id is not valid UTF-8 (malformed UTF-8)")
	}
	if initErr != nil {
		return nil, initErr
	}
	cl, err := c.clients.Add(func() (*Client, error) { return newClient(c, clientID, cleanSession) })
	if errors.Is(err, clientset.ErrClosed) {
		return nil, fmt.Errorf("mosq: %w", err)
	}
	return cl, err
}

func (c *Controller) forget(cl *Client) { c.clients.Forget(cl) }

// Close destroys every client object.
func (c *Controller) Close() error {
	c.clients.Close()
	return nil
}

// Client is one C4:MQTT object on a struct mosquitto.
type Client struct {
	ctl    *Controller
	id     string
	handle cgo.Handle

	// callMu serialises the calls, and the delivery of each event against
	// them: an event caused during a call waits until the call returned.
	callMu    sync.Mutex
	m         *C.struct_mosquitto
	ctx       *C.mqh_ctx
	destroyed bool
	protocol  atomic.Int32

	// loopMu is held by the network loop while it is inside
	// a turn of it; Connect and Reconnect take it so that they never
	// replace the socket under a running select.
	loopMu   sync.Mutex
	kick     chan struct{} // wakes the loop after Connect/Reconnect
	stop     chan struct{}
	loopDone chan struct{}

	// ev delivers the callbacks, gated by callMu.
	ev *eventloop.Loop
}

var _ controller.Client = (*Client)(nil)

// live counts client objects not yet destroyed, for the leak test.
var live atomic.Int64

func newClient(ctl *Controller, id string, clean bool) (*Client, error) {
	cl := &Client{
		ctl:      ctl,
		id:       id,
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	cl.ev = eventloop.New(&cl.callMu)
	cl.protocol.Store(311)
	cl.handle = cgo.NewHandle(cl)
	var cid *C.char
	if id != "" {
		cid = C.CString(id)
		defer C.free(unsafe.Pointer(cid))
	}
	cleanFlag := C.int(0)
	if clean {
		cleanFlag = 1
	}
	var ctx *C.mqh_ctx
	m := C.mqh_new(cid, cleanFlag, C.uintptr_t(cl.handle), &ctx)
	if m == nil {
		cl.handle.Delete()
		cl.ev.Close()
		return nil, errors.New("mosq: mosquitto_new failed (invalid arguments or out of memory)")
	}
	cl.m, cl.ctx = m, ctx
	live.Add(1)
	go cl.loop()
	return cl, nil
}

// loop runs libmosquitto's network loop while there is a socket, and
// waits for a Connect or Reconnect while there is none.
func (cl *Client) loop() {
	defer close(cl.loopDone)
	for {
		select {
		case <-cl.stop:
			return
		default:
		}
		cl.loopMu.Lock()
		// Ends with the keep-alive check: PINGREQ when due, and the
		// connection ends with 19 when no PINGRESP came.
		rc := C.mqh_loop(cl.m, cl.ctx, loopTimeout)

		noSocket := rc != 0 && C.mosquitto_socket(cl.m) < 0
		cl.loopMu.Unlock()
		if noSocket {
			select {
			case <-cl.stop:
				return
			case <-cl.kick:
			}
		}
	}
}

func (cl *Client) wake() {
	select {
	case cl.kick <- struct{}{}:
	default:
	}
}

func ret(code C.int) controller.Ret {
	if code == 0 {
		return controller.Ret{}
	}
	return controller.Ret{Code: int(code), Err: errString(int(code))}
}

func retInt(code int) controller.Ret { return ret(C.int(code)) }

func errString(code int) string { return C.GoString(C.mosquitto_strerror(C.int(code))) }

// cstr converts a string that C will read as NUL-terminated; ok is false
// when it holds a NUL (which no valid MQTT string does).
func cstr(s string) (*C.char, bool) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, false
	}
	return C.CString(s), true
}

func cfree(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

// payloadPtr passes a payload without copying: the memory holds no Go
// pointers and libmosquitto copies what it keeps.
func payloadPtr(b []byte) (unsafe.Pointer, C.int) {
	if len(b) == 0 {
		return nil, 0
	}
	n := len(b)
	if n > math.MaxInt32 {
		n = math.MaxInt32
	}
	return unsafe.Pointer(&b[0]), C.int(n)
}

// Events delivers the callbacks in order.
func (cl *Client) Events() <-chan controller.Event { return cl.ev.Events() }

// ErrorCodeToString is mosquitto_strerror.
func (cl *Client) ErrorCodeToString(code int) string { return errString(code) }

// ReasonCodeToString is mosquitto_reason_string.
func (cl *Client) ReasonCodeToString(code int) string {
	return C.GoString(C.mosquitto_reason_string(C.int(code)))
}

// ForceMqttVersion: mosquitto_int_option(MOSQ_OPT_PROTOCOL_VERSION). Like
// the controller's binding it refuses (3) while a socket exists.
func (cl *Client) ForceMqttVersion(version int) controller.Ret {
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed || C.mosquitto_socket(cl.m) >= 0 {
		return retInt(controller.ErrInval)
	}
	var v C.int
	switch version {
	case 3:
		v = C.MQTT_PROTOCOL_V31
	case 311:
		v = C.MQTT_PROTOCOL_V311
	case 5:
		v = C.MQTT_PROTOCOL_V5
	default:
		return retInt(controller.ErrInval)
	}
	rc := C.mosquitto_int_option(cl.m, C.MOSQ_OPT_PROTOCOL_VERSION, v)
	if rc == 0 {
		cl.protocol.Store(int32(version))
	}
	return ret(rc)
}

// SetUsernameAndPassword: mosquitto_username_pw_set.
func (cl *Client) SetUsernameAndPassword(username string, password *string) controller.Ret {
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	// The library refuses a user name over 65,535 bytes itself. It takes a
	// password of any length and writes its length into CONNECT as 16
	// bits, a packet the broker cannot read; the model refuses such a
	// password with 3, and so does this client, to keep that packet off
	// the wire.
	if password != nil && len(*password) > 65535 {
		return retInt(controller.ErrInval)
	}
	u, ok := cstr(username)
	if !ok {
		return retInt(controller.ErrMalformedUTF8)
	}
	defer cfree(u)
	var p *C.char
	if password != nil {
		// A password is binary data in MQTT, but libmosquitto takes a C
		// string: a NUL ends it.
		s := *password
		if i := strings.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		p = C.CString(s)
		defer cfree(p)
	}
	return ret(C.mosquitto_username_pw_set(cl.m, u, p))
}

// SetTlsPsk: mosquitto_tls_psk_set.
func (cl *Client) SetTlsPsk(psk, identity, ciphers string) controller.Ret {
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	cp, ok1 := cstr(psk)
	ci, ok2 := cstr(identity)
	defer cfree(cp)
	defer cfree(ci)
	if !ok1 || !ok2 || psk == "" || identity == "" {
		return retInt(controller.ErrInval)
	}
	var cc *C.char
	if ciphers != "" {
		var ok bool
		if cc, ok = cstr(ciphers); !ok {
			return retInt(controller.ErrInval)
		}
		defer cfree(cc)
	}
	return ret(C.mosquitto_tls_psk_set(cl.m, cp, ci, cc))
}

// SetTlsCertificates: mosquitto_tls_set with a CA file, and a client
// certificate and key; the key's password is handed to OpenSSL by a C
// callback.
func (cl *Client) SetTlsCertificates(cafile, certfile, keyfile, password string) controller.Ret {
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	opt := func(s string) (*C.char, bool) {
		if s == "" {
			return nil, true
		}
		return cstr(s)
	}
	ca, ok1 := opt(cafile)
	cert, ok2 := opt(certfile)
	key, ok3 := opt(keyfile)
	pw, ok4 := opt(password)
	defer cfree(ca)
	defer cfree(cert)
	defer cfree(key)
	defer cfree(pw)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return retInt(controller.ErrInval)
	}
	return ret(C.mqh_tls_set(cl.m, cl.ctx, ca, cert, key, pw))
}

// SetTlsInsecure: mosquitto_tls_insecure_set.
func (cl *Client) SetTlsInsecure(insecure bool) controller.Ret {
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	return ret(C.mosquitto_tls_insecure_set(cl.m, C.bool(insecure)))
}

// SetMaxInflightMessages: mosquitto_max_inflight_messages_set.
func (cl *Client) SetMaxInflightMessages(n int) controller.Ret {
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	// A C binding hands the Lua number over as it is: a negative one
	// arrives as a large unsigned value, which the library refuses.
	return ret(C.mosquitto_max_inflight_messages_set(cl.m, C.uint(cInt(n))))
}

// SetMessageRetries: mosquitto_message_retry_set, which libmosquitto 2.0
// keeps only for compatibility: it does nothing.
func (cl *Client) SetMessageRetries(n int) controller.Ret {
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	if n < 0 {
		n = 0
	}
	if n > math.MaxInt32 {
		n = math.MaxInt32
	}
	C.mosquitto_message_retry_set(cl.m, C.uint(n))
	return ret(0)
}

// SetWill: mosquitto_will_set_v5, which owns the properties on success.
func (cl *Client) SetWill(topic string, payload []byte, qos int, retain bool, props controller.Props) controller.Ret {
	pl, rc := cProps(props)
	if rc != 0 {
		return retInt(rc)
	}
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		freeProps(pl)
		return retInt(controller.ErrInval)
	}
	ct, ok := cstr(topic)
	if !ok {
		freeProps(pl)
		return retInt(controller.ErrMalformedUTF8)
	}
	defer cfree(ct)
	var r C.int
	if len(payload) > 268435455 {
		// libmosquitto takes the length as an int and checks it before the
		// payload; it answers for itself.
		r = C.mosquitto_will_set_v5(cl.m, ct, C.int(268435456), nil, cInt(qos), C.bool(retain), pl)
	} else {
		ptr, n := payloadPtr(payload)
		r = C.mosquitto_will_set_v5(cl.m, ct, n, ptr, cInt(qos), C.bool(retain), pl)
	}
	if r != 0 {
		freeProps(pl)
	}
	return ret(r)
}

// ClearWill: mosquitto_will_clear.
func (cl *Client) ClearWill() controller.Ret {
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	return ret(C.mosquitto_will_clear(cl.m))
}

// Connect: mosquitto_connect_bind_async, which returns while the TCP
// connect is pending. libmosquitto has no asynchronous connect that takes
// CONNECT properties, so with properties it is mosquitto_connect_bind_v5,
// whose TCP connect blocks (immediate against a local broker).
func (cl *Client) Connect(host string, port int, keepalive int, props controller.Props) controller.Ret {
	pl, rc := cProps(props)
	if rc != 0 {
		return retInt(rc)
	}
	defer freeProps(pl)
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	// The library checks the port and keep-alive and resolves the host
	// itself (an empty host is a failed lookup, 15); only values C cannot
	// carry are turned into ones it refuses.
	ch, ok := cstr(host)
	if !ok {
		return retInt(controller.ErrInval)
	}
	defer cfree(ch)
	cl.loopMu.Lock()
	var r C.int
	if pl != nil {
		r = C.mosquitto_connect_bind_v5(cl.m, ch, cInt(port), cInt(keepalive), nil, pl)
	} else {
		r = C.mosquitto_connect_bind_async(cl.m, ch, cInt(port), cInt(keepalive), nil)
	}
	cl.loopMu.Unlock()
	cl.wake()
	return ret(r)
}

// Reconnect: mosquitto_reconnect_async.
func (cl *Client) Reconnect() controller.Ret {
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	cl.loopMu.Lock()
	r := C.mosquitto_reconnect_async(cl.m)
	cl.loopMu.Unlock()
	cl.wake()
	return ret(r)
}

// Disconnect: mosquitto_disconnect_v5 with reason 0.
func (cl *Client) Disconnect(props controller.Props) controller.Ret {
	pl, rc := cProps(props)
	if rc != 0 {
		return retInt(rc)
	}
	defer freeProps(pl)
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	r := C.mosquitto_disconnect_v5(cl.m, 0, pl)
	C.mqh_wake(cl.ctx)
	return ret(r)
}

// withMessage runs a call that sends one message: the properties and the
// topic or filter are converted for C and the call lock is held. fn
// returns libmosquitto's code and the message id it took.
func (cl *Client) withMessage(props controller.Props, s string, fn func(pl *C.mosquitto_property, cs *C.char, mid *C.int) C.int) controller.Ret {
	pl, rc := cProps(props)
	if rc != 0 {
		return retInt(rc)
	}
	defer freeProps(pl)
	cl.callMu.Lock()
	defer cl.callMu.Unlock()
	if cl.destroyed {
		return retInt(controller.ErrInval)
	}
	cs, ok := cstr(s)
	if !ok {
		return retInt(controller.ErrMalformedUTF8)
	}
	defer cfree(cs)
	var mid C.int
	r := fn(pl, cs, &mid)
	// A packet queued by a threaded client waits for the loop.
	C.mqh_wake(cl.ctx)
	if r != 0 {
		return ret(r)
	}
	return controller.Ret{MsgID: int(mid)}
}

// cInt passes a number on to C as written, or as -1 (which every
// argument it is used for refuses) when it does not fit in a C int.
func cInt(n int) C.int {
	if n < math.MinInt32 || n > math.MaxInt32 {
		n = -1
	}
	return C.int(n)
}

// Publish: mosquitto_publish_v5.
func (cl *Client) Publish(topic string, payload []byte, qos int, retain bool, props controller.Props) controller.Ret {
	return cl.withMessage(props, topic, func(pl *C.mosquitto_property, ct *C.char, mid *C.int) C.int {
		if len(payload) > 268435455 {
			// libmosquitto takes the length as an int; it would say the same.
			return C.mosquitto_publish_v5(cl.m, mid, ct, C.int(268435456), nil, cInt(qos), C.bool(retain), pl)
		}
		ptr, n := payloadPtr(payload)
		return C.mosquitto_publish_v5(cl.m, mid, ct, n, ptr, cInt(qos), C.bool(retain), pl)
	})
}

// Subscribe: mosquitto_subscribe_v5 with no subscription options.
func (cl *Client) Subscribe(sub string, qos int, props controller.Props) controller.Ret {
	return cl.withMessage(props, sub, func(pl *C.mosquitto_property, cs *C.char, mid *C.int) C.int {
		return C.mosquitto_subscribe_v5(cl.m, mid, cs, cInt(qos), 0, pl)
	})
}

// Unsubscribe: mosquitto_unsubscribe_v5.
func (cl *Client) Unsubscribe(sub string, props controller.Props) controller.Ret {
	return cl.withMessage(props, sub, func(pl *C.mosquitto_property, cs *C.char, mid *C.int) C.int {
		return C.mosquitto_unsubscribe_v5(cl.m, mid, cs, pl)
	})
}

// Destroy stops the network loop, then mosquitto_destroy closes the
// socket (no DISCONNECT, no callbacks) and frees the client. Events not
// yet delivered are dropped. It returns when the client's goroutines have
// ended.
func (cl *Client) Destroy() {
	cl.callMu.Lock()
	if cl.destroyed {
		cl.callMu.Unlock()
		return
	}
	cl.destroyed = true
	close(cl.stop)
	cl.callMu.Unlock()
	// The loop leaves within one loopTimeout; no callback can come after.
	<-cl.loopDone
	cl.ev.Close()
	cl.callMu.Lock()
	C.mqh_destroy(cl.m, cl.ctx)
	cl.m, cl.ctx = nil, nil
	cl.callMu.Unlock()
	cl.handle.Delete()
	live.Add(-1)
	cl.ctl.forget(cl)
}

// emit queues an event from a libmosquitto callback; it never waits for
// the driver, as the network loop must not.
func (cl *Client) emit(ev controller.Event) { cl.ev.Emit(cl.id, ev) }
