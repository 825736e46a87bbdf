// Network bindings (CreateNetworkConnection, NetConnect, SendToNetwork ...),
// C4:CreateTCPClient, C4:CreateTCPServer and the entry-point server sockets
// (CreateServer ...), on real sockets. Drivers that talk to a device over
// TCP run against a local listener the test provides; every connection,
// write and delivery is recorded in the trace under the client "net".
package lua

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// netState is the networking area of one runtime; the loop owns it.
type netState struct {
	ctx      context.Context // cancelled when the runtime closes
	bindings map[int]*netBinding
	servers  map[int]*entryServer // CreateServer, by port
	handles  map[int]*sockConn    // CreateServer clients, by handle
	next     int
}

// netBinding is one network binding and its ports.
type netBinding struct {
	id      int
	address string
	kind    string
	ports   map[int]*bindingPort
}

type bindingPort struct {
	delim   []byte
	options map[string]string
	conn    *sockConn
	dialing bool
}

func (r *Runtime) netOf() *netState {
	s := r.ioOf()
	if s.net == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.onClose(cancel)
		s.net = &netState{ctx: ctx, bindings: map[int]*netBinding{}, servers: map[int]*entryServer{}, handles: map[int]*sockConn{}, next: 1}
	}
	return s.net
}

// netTrace records a call or callback of the networking area.
func (r *Runtime) netTrace(kind, name string, args ...any) {
	r.trace.add(Entry{Client: "net", Kind: kind, Name: name, Args: args})
}

// hostOf maps the controller's host aliases to addresses.
func hostOf(h string) string {
	switch strings.ToLower(h) {
	case "!local", "!loopback", "localhost":
		return "127.0.0.1"
	case "*", "!all", "!any", "":
		return ""
	}
	return h
}

func (r *Runtime) netFunctions() map[string]glua.LGFunction {
	fns := map[string]glua.LGFunction{
		"CreateNetworkConnection": func(L *glua.LState) int {
			id := L.CheckInt(2)
			n := r.netOf()
			b := &netBinding{id: id, address: L.CheckString(3), kind: strings.ToUpper(L.OptString(4, "TCP")), ports: map[int]*bindingPort{}}
			if old, ok := n.bindings[id]; ok {
				b.ports = old.ports
			}
			n.bindings[id] = b
			r.netTrace(KindCall, "CreateNetworkConnection", int64(id), b.address, b.kind)
			return 0
		},
		"DestroyNetworkConnection": func(L *glua.LState) int {
			id := L.CheckInt(2)
			n := r.netOf()
			if b, ok := n.bindings[id]; ok {
				for _, p := range b.ports {
					if p.conn != nil {
						p.conn.close(false)
					}
				}
				delete(n.bindings, id)
			}
			r.netTrace(KindCall, "DestroyNetworkConnection", int64(id))
			return 0
		},
		"NetPortOptions": func(L *glua.LState) int {
			id, port := L.CheckInt(2), L.CheckInt(3)
			p := r.bindingPort(id, port)
			if opts, ok := L.Get(5).(*glua.LTable); ok {
				opts.ForEach(func(k, v glua.LValue) { p.options[strings.ToUpper(k.String())] = L.ToStringMeta(v).String() })
			}
			if d, ok := p.options["DELIMITER"]; ok {
				delim, err := hex.DecodeString(d)
				if err != nil {
					L.ArgError(5, fmt.Sprintf("DELIMITER %q is not hex: %v", d, err))
				}
				p.delim = delim
			}
			r.netTrace(KindCall, "NetPortOptions", traceArgs(L, 2)...)
			return 0
		},
		"NetConnect": func(L *glua.LState) int {
			r.netConnect(L.CheckInt(2), L.CheckInt(3), strings.ToUpper(L.OptString(4, "TCP")))
			return 0
		},
		"NetDisconnect": func(L *glua.LState) int {
			id, port := L.CheckInt(2), L.CheckInt(3)
			r.netTrace(KindCall, "NetDisconnect", int64(id), int64(port))
			p := r.bindingPort(id, port)
			if p.conn != nil {
				p.conn.close(false)
				p.conn = nil
				r.post(func() { r.connectionStatus(id, port, "OFFLINE") })
			}
			return 0
		},
		"SendToNetwork": func(L *glua.LState) int {
			id, port, data := L.CheckInt(2), L.CheckInt(3), L.CheckString(4)
			p := r.bindingPort(id, port)
			sent := p.conn != nil
			if sent {
				p.conn.write([]byte(data))
			}
			r.trace.add(Entry{Client: "net", Kind: KindCall, Name: "SendToNetwork", Args: []any{int64(id), int64(port), data}, Ret: []any{sent}})
			return 0
		},
		"CreateTCPClient": func(L *glua.LState) int {
			L.Push(r.newTCPClient(L, nil).ud)
			return 1
		},
		"CreateTCPServer": r.c4CreateTCPServer,
	}
	for k, v := range r.entryServerFunctions() {
		fns[k] = v
	}
	return fns
}

func (r *Runtime) bindingPort(id, port int) *bindingPort {
	n := r.netOf()
	b, ok := n.bindings[id]
	if !ok {
		b = &netBinding{id: id, ports: map[int]*bindingPort{}}
		n.bindings[id] = b
	}
	p, ok := b.ports[port]
	if !ok {
		p = &bindingPort{options: map[string]string{}}
		b.ports[port] = p
	}
	return p
}

// connectionStatus delivers OnConnectionStatusChanged on the loop.
func (r *Runtime) connectionStatus(id, port int, status string) {
	r.netTrace(KindCallback, "OnConnectionStatusChanged", int64(id), int64(port), status)
	if err := r.callGlobal("OnConnectionStatusChanged", glua.LNumber(id), glua.LNumber(port), glua.LString(status)); err != nil {
		r.addAsyncError(err)
	}
}

// netConnect dials a binding's address on a goroutine; the outcome comes
// back as OnConnectionStatusChanged.
func (r *Runtime) netConnect(id, port int, ipType string) {
	n := r.netOf()
	b := n.bindings[id]
	p := r.bindingPort(id, port)
	r.netTrace(KindCall, "NetConnect", int64(id), int64(port), ipType)
	if p.conn != nil || p.dialing {
		return
	}
	if b == nil || b.address == "" {
		r.post(func() { r.connectionStatus(id, port, "OFFLINE") })
		return
	}
	network := "tcp"
	if ipType == "UDP" {
		network = "udp"
	}
	addr := net.JoinHostPort(hostOf(b.address), strconv.Itoa(port))
	p.dialing = true
	ctx := n.ctx
	r.ioOf().goIO(func() {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, network, addr)
		r.post(func() {
			p.dialing = false
			if err != nil {
				r.netTrace(KindCallback, "NetConnect failed", int64(id), int64(port), err.Error())
				r.connectionStatus(id, port, "OFFLINE")
				return
			}
			sc := newSockConn(r, c)
			sp := &splitter{delim: p.delim}
			sc.onData = func(data []byte) {
				for _, frame := range sp.push(data) {
					r.netTrace(KindCallback, "ReceivedFromNetwork", int64(id), int64(port), string(frame))
					if err := r.callGlobal("ReceivedFromNetwork", glua.LNumber(id), glua.LNumber(port), glua.LString(frame)); err != nil {
						r.addAsyncError(err)
					}
				}
			}
			sc.onClosed = func(error) {
				if p.conn == sc {
					p.conn = nil
				}
				r.connectionStatus(id, port, "OFFLINE")
			}
			p.conn = sc
			if sc.start() {
				r.connectionStatus(id, port, "ONLINE")
			}
		})
	})
}

// tcpClient is a C4:CreateTCPClient object, or a connection a
// C4:CreateTCPServer accepted.
type tcpClient struct {
	r   *Runtime
	ud  *glua.LUserData
	cbs map[string]glua.LValue // OnConnect, OnRead, ... as the driver set them
	sc  *sockConn
	buf []byte
	// read is the pending read request: it returns how many bytes of buf
	// to hand OnRead and how many to consume (0, 0 while unmet).
	read       func(buf []byte, eof bool) (deliver, consume int, replacement []byte)
	connecting bool
	closed     bool
	local      net.Addr
	remote     net.Addr
}

var tcpCallbacks = []string{"OnConnect", "OnResolve", "OnRead", "OnWrite", "OnDisconnect", "OnError"}

func (r *Runtime) newTCPClient(L *glua.LState, c net.Conn) *tcpClient {
	t := &tcpClient{r: r, cbs: map[string]glua.LValue{}}
	t.ud = L.NewUserData()
	t.ud.Value = t
	methods := L.NewTable()
	self := func(L *glua.LState) *tcpClient {
		tc, ok := L.CheckUserData(1).Value.(*tcpClient)
		if !ok {
			L.ArgError(1, "a TCP client object is expected (called with '.' instead of ':'?)")
		}
		return tc
	}
	for _, name := range tcpCallbacks {
		methods.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			tc := self(L)
			tc.cbs[name] = L.CheckFunction(2)
			L.Push(tc.ud)
			return 1
		}))
	}
	// readReq makes a Read... method from a request builder; it returns
	// the object, or nil when the arguments are invalid.
	readReq := func(build func(L *glua.LState) func([]byte, bool) (int, int, []byte)) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int {
			tc := self(L)
			req := build(L)
			if req == nil || tc.closed {
				L.Push(glua.LNil)
				return 1
			}
			tc.read = req
			tc.r.post(tc.serveRead)
			L.Push(tc.ud)
			return 1
		})
	}
	for name, fn := range map[string]*glua.LFunction{
		"Connect": L.NewFunction(func(L *glua.LState) int {
			tc := self(L)
			if tc.connecting || tc.sc != nil {
				L.Push(glua.LNil)
				return 1
			}
			tc.connect(L.CheckString(2), L.ToStringMeta(L.Get(3)).String())
			L.Push(tc.ud)
			return 1
		}),
		"Write": L.NewFunction(func(L *glua.LState) int {
			tc := self(L)
			data := L.CheckString(2)
			tc.r.netTrace(KindCall, "TCPClient:Write", data)
			if tc.sc == nil || tc.closed {
				L.Push(glua.LNil)
				return 1
			}
			tc.sc.write([]byte(data))
			L.Push(tc.ud)
			return 1
		}),
		"ReadUntil": readReq(func(L *glua.LState) func([]byte, bool) (int, int, []byte) {
			switch v := L.Get(2).(type) {
			case glua.LString:
				if len(v) == 0 {
					return nil
				}
				delim := []byte(v)
				return func(buf []byte, _ bool) (int, int, []byte) {
					if i := strings.Index(string(buf), string(delim)); i >= 0 {
						return i + len(delim), i + len(delim), nil
					}
					return 0, 0, nil
				}
			case *glua.LFunction:
				return func(buf []byte, _ bool) (int, int, []byte) { return t.matchWith(v, buf) }
			}
			return nil
		}),
		"ReadUntilOneOf": readReq(func(L *glua.LState) func([]byte, bool) (int, int, []byte) {
			return readUntilSet(L.CheckString(2), true)
		}),
		"ReadUntilOneNotOf": readReq(func(L *glua.LState) func([]byte, bool) (int, int, []byte) {
			return readUntilSet(L.CheckString(2), false)
		}),
		"ReadAtLeast": readReq(func(L *glua.LState) func([]byte, bool) (int, int, []byte) {
			n := L.CheckInt(2)
			if n < 1 || n > 1024*1024 {
				return nil
			}
			return func(buf []byte, eof bool) (int, int, []byte) {
				if len(buf) >= n || (eof && len(buf) > 0) {
					return len(buf), len(buf), nil
				}
				return 0, 0, nil
			}
		}),
		"ReadUpTo": readReq(func(L *glua.LState) func([]byte, bool) (int, int, []byte) {
			n := L.CheckInt(2)
			if n < 1 || n > 4096*1024 {
				return nil
			}
			return func(buf []byte, _ bool) (int, int, []byte) {
				k := min(n, len(buf))
				return k, k, nil
			}
		}),
		"Close": L.NewFunction(func(L *glua.LState) int {
			tc := self(L)
			tc.r.netTrace(KindCall, "TCPClient:Close")
			wasConnecting := tc.connecting
			tc.closed = true
			tc.connecting = false
			if tc.sc != nil {
				tc.sc.close(L.OptBool(2, false))
			}
			if wasConnecting {
				tc.r.post(func() { tc.callback("OnError", glua.LNumber(125), glua.LString("Operation canceled")) })
			}
			L.Push(tc.ud)
			return 1
		}),
		// Option: keepalive, nodelay and linger are accepted; on loopback
		// they change nothing a test can see.
		"Option": L.NewFunction(func(L *glua.LState) int {
			switch L.CheckString(2) {
			case "keepalive", "nodelay", "linger":
				L.Push(self(L).ud)
			default:
				L.Push(glua.LNil)
			}
			return 1
		}),
		"GetLocalAddress":  L.NewFunction(func(L *glua.LState) int { L.Push(addrTable(L, self(L).local)); return 1 }),
		"GetRemoteAddress": L.NewFunction(func(L *glua.LState) int { L.Push(addrTable(L, self(L).remote)); return 1 }),
	} {
		methods.RawSetString(name, fn)
	}
	mt := L.NewTable()
	mt.RawSetString("__index", methods)
	L.SetMetatable(t.ud, mt)
	if c != nil {
		t.attach(c)
	}
	return t
}

// matchWith runs a ReadUntil function: fn(data) returns matched,
// consumeBytes[, replacement].
func (t *tcpClient) matchWith(fn *glua.LFunction, buf []byte) (int, int, []byte) {
	out, err := t.r.call("TCPClient:ReadUntil", fn, glua.LString(buf))
	if err != nil {
		t.r.addAsyncError(err)
		return 0, 0, nil
	}
	if len(out) == 0 || !glua.LVAsBool(out[0]) {
		return 0, 0, nil
	}
	n := len(buf)
	if len(out) > 1 {
		if v, ok := out[1].(glua.LNumber); ok {
			n = max(0, min(int(v), len(buf)))
		}
	}
	var repl []byte
	if len(out) > 2 && out[2].Type() == glua.LTString {
		repl = []byte(out[2].String())
	}
	return n, n, repl
}

func readUntilSet(set string, in bool) func([]byte, bool) (int, int, []byte) {
	if set == "" {
		return nil
	}
	return func(buf []byte, _ bool) (int, int, []byte) {
		for i, c := range buf {
			if strings.IndexByte(set, c) >= 0 == in {
				return i + 1, i + 1, nil
			}
		}
		return 0, 0, nil
	}
}

func addrTable(L *glua.LState, a net.Addr) glua.LValue {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return glua.LNil
	}
	t := L.NewTable()
	t.RawSetString("ip", glua.LString(ta.IP.String()))
	t.RawSetString("port", glua.LNumber(ta.Port))
	return t
}

func (t *tcpClient) callback(name string, args ...glua.LValue) []glua.LValue {
	fn, ok := t.cbs[name]
	t.r.trace.add(Entry{Client: "net", Kind: KindCallback, Name: "TCPClient:" + name, Args: traceValues(args), Unhandled: !ok})
	if !ok {
		return nil
	}
	out, err := t.r.call("TCPClient:"+name, fn, append([]glua.LValue{t.ud}, args...)...)
	if err != nil {
		t.r.addAsyncError(err)
	}
	return out
}

func traceValues(vals []glua.LValue) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = fromLua(v, 0)
	}
	return out
}

// connect resolves and dials on a goroutine; OnResolve, when set, picks
// the endpoint (0 cancels, as documented, with error 22).
func (t *tcpClient) connect(host, service string) {
	r := t.r
	t.connecting = true
	r.netTrace(KindCall, "TCPClient:Connect", host, service)
	ctx := r.netOf().ctx
	r.ioOf().goIO(func() {
		port, err := net.DefaultResolver.LookupPort(ctx, "tcp", service)
		var ips []string
		if err == nil {
			if h := hostOf(host); net.ParseIP(h) != nil {
				ips = []string{h}
			} else {
				ips, err = net.DefaultResolver.LookupHost(ctx, h)
			}
		}
		r.post(func() {
			if !t.connecting {
				return
			}
			if err != nil {
				t.connecting = false
				t.callback("OnError", glua.LNumber(errnoOf(err)), glua.LString(err.Error()), glua.LString("resolve"))
				return
			}
			if _, ok := t.cbs["OnResolve"]; ok {
				t.resolve(ips, port)
				return
			}
			t.dial(net.JoinHostPort(ips[0], strconv.Itoa(port)))
		})
	})
}

// resolve offers the endpoints to OnResolve: an index it returns, or one
// it passes to choose later, selects the endpoint.
func (t *tcpClient) resolve(ips []string, port int) {
	L := t.r.L
	eps := L.NewTable()
	for _, ip := range ips {
		e := L.NewTable()
		e.RawSetString("ip", glua.LString(ip))
		e.RawSetString("port", glua.LNumber(port))
		eps.Append(e)
	}
	chosen := false
	pick := func(i int) {
		if chosen || !t.connecting {
			return
		}
		chosen = true
		if i < 1 || i > len(ips) {
			t.connecting = false
			t.callback("OnError", glua.LNumber(22), glua.LString("Invalid argument"), glua.LString("resolve"))
			return
		}
		t.dial(net.JoinHostPort(ips[i-1], strconv.Itoa(port)))
	}
	choose := L.NewFunction(func(L *glua.LState) int {
		i := L.OptInt(1, 1)
		t.r.post(func() { pick(i) })
		return 0
	})
	out := t.callback("OnResolve", eps, choose)
	if len(out) > 0 {
		if n, ok := out[0].(glua.LNumber); ok {
			pick(int(n))
		}
	}
}

func (t *tcpClient) dial(addr string) {
	r := t.r
	ctx := r.netOf().ctx
	r.ioOf().goIO(func() {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		r.post(func() {
			if !t.connecting {
				if c != nil {
					c.Close()
				}
				return
			}
			t.connecting = false
			if err != nil {
				t.callback("OnError", glua.LNumber(errnoOf(err)), glua.LString(err.Error()), glua.LString("connect"))
				return
			}
			if t.attach(c) {
				t.callback("OnConnect")
			}
		})
	})
}

// attach starts the socket of a connected client.
func (t *tcpClient) attach(c net.Conn) bool {
	t.local, t.remote = c.LocalAddr(), c.RemoteAddr()
	sc := newSockConn(t.r, c)
	sc.onData = func(data []byte) {
		t.buf = append(t.buf, data...)
		t.serveRead()
	}
	sc.onWritten = func() { t.callback("OnWrite") }
	sc.onClosed = func(err error) {
		t.read = wrapEOF(t.read)
		t.serveRead()
		t.closed = true
		msg := glua.LValue(glua.LNil)
		if code := errnoOf(err); code != 0 {
			msg = glua.LString(err.Error())
		}
		t.callback("OnDisconnect", glua.LNumber(errnoOf(err)), msg)
	}
	t.sc = sc
	return sc.start()
}

// wrapEOF lets a pending read take what is left at the end of the stream.
func wrapEOF(read func([]byte, bool) (int, int, []byte)) func([]byte, bool) (int, int, []byte) {
	if read == nil {
		return nil
	}
	return func(buf []byte, _ bool) (int, int, []byte) { return read(buf, true) }
}

// serveRead hands OnRead what the pending read asked for, as often as the
// driver asks again inside OnRead and the buffer can answer.
func (t *tcpClient) serveRead() {
	for t.read != nil && len(t.buf) > 0 {
		deliver, consume, repl := t.read(t.buf, false)
		if deliver == 0 && consume == 0 {
			return
		}
		data := append([]byte(nil), t.buf[:deliver]...)
		if repl != nil {
			data = repl
		}
		t.buf = t.buf[consume:]
		t.read = nil
		t.callback("OnRead", glua.LString(data))
	}
}

// c4CreateTCPServer is C4:CreateTCPServer(): Listen, OnListen, OnAccept ...
func (r *Runtime) c4CreateTCPServer(L *glua.LState) int {
	type tcpServer struct {
		ud  *glua.LUserData
		cbs map[string]glua.LValue
		ln  net.Listener
	}
	s := &tcpServer{cbs: map[string]glua.LValue{}}
	s.ud = L.NewUserData()
	s.ud.Value = s
	callback := func(name string, args ...glua.LValue) {
		fn, ok := s.cbs[name]
		r.trace.add(Entry{Client: "net", Kind: KindCallback, Name: "TCPServer:" + name, Args: traceValues(args), Unhandled: !ok})
		if ok {
			if _, err := r.call("TCPServer:"+name, fn, append([]glua.LValue{s.ud}, args...)...); err != nil {
				r.addAsyncError(err)
			}
		}
	}
	methods := L.NewTable()
	for _, name := range []string{"OnResolve", "OnListen", "OnAccept", "OnError"} {
		methods.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			s.cbs[name] = L.CheckFunction(2)
			L.Push(s.ud)
			return 1
		}))
	}
	methods.RawSetString("Listen", L.NewFunction(func(L *glua.LState) int {
		host, service := L.CheckString(2), L.ToStringMeta(L.Get(3)).String()
		r.netTrace(KindCall, "TCPServer:Listen", host, service)
		ln, err := net.Listen("tcp", net.JoinHostPort(hostOf(host), service))
		if err != nil {
			r.post(func() { callback("OnError", glua.LNumber(errnoOf(err)), glua.LString(err.Error())) })
			L.Push(s.ud)
			return 1
		}
		s.ln = ln
		r.post(func() { callback("OnListen", addrTable(r.L, ln.Addr())) })
		r.acceptLoop(ln, func(c net.Conn) {
			tc := r.newTCPClient(r.L, c)
			callback("OnAccept", tc.ud)
		})
		L.Push(s.ud)
		return 1
	}))
	methods.RawSetString("Close", L.NewFunction(func(L *glua.LState) int {
		r.netTrace(KindCall, "TCPServer:Close")
		if s.ln != nil {
			s.ln.Close()
		}
		L.Push(s.ud)
		return 1
	}))
	methods.RawSetString("Option", L.NewFunction(func(L *glua.LState) int { L.Push(s.ud); return 1 }))
	methods.RawSetString("GetLocalAddress", L.NewFunction(func(L *glua.LState) int {
		if s.ln == nil {
			L.Push(glua.LNil)
			return 1
		}
		L.Push(addrTable(L, s.ln.Addr()))
		return 1
	}))
	mt := L.NewTable()
	mt.RawSetString("__index", methods)
	L.SetMetatable(s.ud, mt)
	L.Push(s.ud)
	return 1
}

// entryServer is one C4:CreateServer port.
type entryServer struct {
	port  int
	ln    net.Listener
	delim []byte
	ident glua.LValue
	conns map[int]bool
}

func (r *Runtime) entryServerFunctions() map[string]glua.LGFunction {
	call := func(name string, args ...glua.LValue) {
		r.netTrace(KindCallback, name, traceValues(args)...)
		if err := r.callGlobal(name, args...); err != nil {
			r.addAsyncError(err)
		}
	}
	destroy := func(s *entryServer) {
		n := r.netOf()
		s.ln.Close()
		delete(n.servers, s.port)
		for _, h := range sortedInts(s.conns) {
			if sc, ok := n.handles[h]; ok {
				sc.shutdown(false)
			}
		}
		r.post(func() { call("OnServerStatusChanged", glua.LNumber(s.port), glua.LString("OFFLINE"), s.ident) })
	}
	return map[string]glua.LGFunction{
		// CreateServer(port[, delimiter[, useUDP[, identifier]]]): the
		// delimiter is the raw bytes ending a frame. UDP servers are not
		// emulated and fail with a message.
		"CreateServer": func(L *glua.LState) int {
			port := L.CheckInt(2)
			delim := L.OptString(3, "")
			udp := L.OptBool(4, false)
			ident := L.Get(5)
			r.netTrace(KindCall, "CreateServer", traceArgs(L, 2)...)
			fail := func(msg string) int {
				L.Push(glua.LFalse)
				L.Push(glua.LString(msg))
				return 2
			}
			if udp {
				return fail("UDP server sockets are not emulated")
			}
			n := r.netOf()
			if _, ok := n.servers[port]; ok && port != 0 {
				return fail(fmt.Sprintf("port %d is already served", port))
			}
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return fail(err.Error())
			}
			s := &entryServer{port: ln.Addr().(*net.TCPAddr).Port, ln: ln, delim: []byte(delim), ident: ident, conns: map[int]bool{}}
			n.servers[s.port] = s
			r.post(func() { call("OnServerStatusChanged", glua.LNumber(s.port), glua.LString("ONLINE"), ident) })
			r.acceptLoop(ln, func(c net.Conn) { r.serverAccept(s, c, call) })
			L.Push(glua.LTrue)
			return 1
		},
		"ServerSend": func(L *glua.LState) int {
			h, data := L.CheckInt(2), L.CheckString(3)
			sc, ok := r.netOf().handles[h]
			if ok {
				sc.write([]byte(data))
			}
			r.trace.add(Entry{Client: "net", Kind: KindCall, Name: "ServerSend", Args: []any{int64(h), data}, Ret: []any{ok}})
			return 0
		},
		"ServerCloseClient": func(L *glua.LState) int {
			h := L.CheckInt(2)
			r.netTrace(KindCall, "ServerCloseClient", int64(h))
			n := r.netOf()
			if sc, ok := n.handles[h]; ok {
				sc.shutdown(true)
			}
			return 0
		},
		"DestroyServer": func(L *glua.LState) int {
			r.netTrace(KindCall, "DestroyServer", traceArgs(L, 2)...)
			n := r.netOf()
			if L.Get(2) == glua.LNil {
				for _, p := range sortedInts(n.serverPorts()) {
					destroy(n.servers[p])
				}
				return 0
			}
			if s, ok := n.servers[L.CheckInt(2)]; ok {
				destroy(s)
			}
			return 0
		},
	}
}

func (n *netState) serverPorts() map[int]bool {
	out := map[int]bool{}
	for p := range n.servers {
		out[p] = true
	}
	return out
}

func sortedInts(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// serverAccept gives a new CreateServer connection a handle and delivers
// its status and data to the entry points.
func (r *Runtime) serverAccept(s *entryServer, c net.Conn, call func(string, ...glua.LValue)) {
	n := r.netOf()
	h := n.next
	n.next++
	remote := c.RemoteAddr().(*net.TCPAddr)
	ip, rport := glua.LString(remote.IP.String()), glua.LNumber(remote.Port)
	sc := newSockConn(r, c)
	sp := &splitter{delim: s.delim}
	sc.onData = func(data []byte) {
		for _, frame := range sp.push(data) {
			call("OnServerDataIn", glua.LNumber(h), glua.LString(frame), ip, rport, s.ident)
		}
	}
	sc.onClosed = func(error) {
		delete(n.handles, h)
		delete(s.conns, h)
		call("OnServerConnectionStatusChanged", glua.LNumber(h), glua.LNumber(s.port), glua.LString("OFFLINE"), ip, s.ident)
	}
	n.handles[h] = sc
	s.conns[h] = true
	if sc.start() {
		call("OnServerConnectionStatusChanged", glua.LNumber(h), glua.LNumber(s.port), glua.LString("ONLINE"), ip, s.ident)
	}
}
