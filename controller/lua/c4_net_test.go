package lua_test

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller/lua"
)

// listen opens a loopback listener and hands each connection to serve.
func listen(t *testing.T, serve func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serve(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

func TestNetworkBinding(t *testing.T) {
	got := make(chan string, 1)
	port := listen(t, func(c net.Conn) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
		c.Write([]byte("a\r\nb\r\nc"))
		c.Close()
	})
	rt := newRuntime(t, lua.Options{})
	evalLua(t, rt, fmt.Sprintf(`
		status, rx = {}, {}
		function OnConnectionStatusChanged(id, port, s)
			status[#status+1] = id .. ':' .. s
			if s == 'ONLINE' then C4:SendToNetwork(id, port, 'POWER ON\n') end
		end
		function ReceivedFromNetwork(id, port, data) rx[#rx+1] = data end
		C4:CreateNetworkConnection(6001, '127.0.0.1', 'TCP')
		C4:NetPortOptions(6001, %d, 'TCP', {DELIMITER = '0d0a'})
		C4:NetConnect(6001, %d)
		C4:NetConnect(6002, %d)`, port, port, closedPort(t)))
	select {
	case line := <-got:
		if line != "POWER ON\n" {
			t.Errorf("the device got %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SendToNetwork sent nothing")
	}
	awaitLua(t, rt, "#status == 3")
	out := evalLua(t, rt, `table.sort(status) return table.concat(status, ','), table.concat(rx, '|')`)
	if fmtAny(out) != fmtAny([]any{"6001:OFFLINE,6001:ONLINE,6002:OFFLINE", "a\r\n|b\r\n"}) {
		t.Errorf("got %#v", out)
	}
	waitTrace(t, rt, "SendToNetwork in the trace", func(es []lua.Entry) bool {
		for _, e := range es {
			if e.Client == "net" && e.Name == "SendToNetwork" && len(e.Args) == 3 && e.Args[2] == "POWER ON\n" {
				return true
			}
		}
		return false
	})
}

func TestTCPClient(t *testing.T) {
	port := listen(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		if line, _ := r.ReadString('\n'); line == "ping\n" {
			c.Write([]byte("pong\nrest"))
		}
		c.Close()
	})
	rt := newRuntime(t, lua.Options{})
	evalLua(t, rt, fmt.Sprintf(`
		ev = {}
		client = C4:CreateTCPClient()
			:OnConnect(function(c) ev[#ev+1] = 'connect'; c:Write('ping\n'):ReadUntil('\n') end)
			:OnWrite(function(c) ev[#ev+1] = 'write' end)
			:OnRead(function(c, data)
				ev[#ev+1] = 'read ' .. data
				if data == 'pong\n' then c:ReadUpTo(100) end
			end)
			:OnDisconnect(function(c, code, msg) ev[#ev+1] = 'disconnect ' .. code end)
			:OnError(function(c, code, msg) ev[#ev+1] = 'error ' .. code end)
			:Connect('!loopback', %d)
		refused = {}
		C4:CreateTCPClient():OnError(function(c, code, msg) refused.code, refused.msg = code, msg end):Connect('127.0.0.1', '%d')`, port, closedPort(t)))
	awaitLua(t, rt, "ev[#ev] == 'disconnect 0' and refused.code ~= nil")
	out := evalLua(t, rt, `return table.concat(ev, '|'), refused.code, type(refused.msg)`)
	want := []any{"connect|write|read pong\n|read rest|disconnect 0", int64(111), "string"}
	if fmtAny(out) != fmtAny(want) {
		t.Errorf("got  %#v\nwant %#v", out, want)
	}
}

func TestTCPServer(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	evalLua(t, rt, `
		server = C4:CreateTCPServer()
			:OnListen(function(s, ep) listening = ep.port end)
			:OnAccept(function(s, c)
				c:OnRead(function(c, data) c:Write('echo:' .. data) end):ReadUntil('\n')
			end)
			:Listen('!loopback', 0)`)
	awaitLua(t, rt, "listening ~= nil")
	out := evalLua(t, rt, `return listening, server:GetLocalAddress().port == listening`)
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(out[0].(int64))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hi\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if line != "echo:hi\n" || out[1] != true {
		t.Errorf("server answered %q (%v), address check %v", line, err, out[1])
	}
}

func TestCreateServer(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	evalLua(t, rt, `
		ev, data = {}, {}
		function OnServerStatusChanged(port, status, ident) ev[#ev+1] = status .. ' ' .. ident; srvPort = port end
		function OnServerConnectionStatusChanged(h, port, status, ip, ident) ev[#ev+1] = 'conn ' .. status .. ' ' .. ip; handle = h end
		function OnServerDataIn(h, d, ip, port, ident)
			data[#data+1] = d
			C4:ServerSend(h, 'ack ' .. d)
		end
		ok = C4:CreateServer(0, '\n', false, 'api')
		udpOk, udpErr = C4:CreateServer(0, '', true)`)
	awaitLua(t, rt, "srvPort ~= nil")
	out := evalLua(t, rt, `return ok, udpOk, type(udpErr), srvPort`)
	if out[0] != true || out[1] != false || out[2] != "string" {
		t.Fatalf("CreateServer returned %v", out)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(out[3].(int64))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello\nwor"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if line != "ack hello\n" {
		t.Errorf("client got %q", line)
	}
	evalLua(t, rt, `C4:DestroyServer()`)
	awaitLua(t, rt, "#ev == 4")
	// The OFFLINE of the connection and of the server may come in either
	// order: compare sorted.
	out = evalLua(t, rt, `table.sort(ev) return table.concat(ev, '|'), table.concat(data, '|')`)
	want := []any{"OFFLINE api|ONLINE api|conn OFFLINE 127.0.0.1|conn ONLINE 127.0.0.1", "hello\n"}
	if fmtAny(out) != fmtAny(want) {
		t.Errorf("got  %#v\nwant %#v", out, want)
	}
}

func TestCloseEndsSockets(t *testing.T) {
	port := listen(t, func(c net.Conn) {}) // accepts and never answers
	rt, err := lua.New(lua.Options{})
	if err != nil {
		t.Fatal(err)
	}
	evalLua(t, rt, fmt.Sprintf(`
		C4:CreateNetworkConnection(6001, '127.0.0.1')
		C4:NetConnect(6001, %d)
		C4:CreateTCPClient():OnConnect(function(c) c:ReadUntil('\n') connected = true end):Connect('127.0.0.1', %d)
		C4:CreateServer(0)
		C4:CreateTCPServer():Listen('!loopback', 0)`, port, port))
	awaitLua(t, rt, "connected == true")
	closed := make(chan error, 1)
	go func() { closed <- rt.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the sockets")
	}
}

func TestTCPClientOnResolve(t *testing.T) {
	port := listen(t, func(c net.Conn) { c.Write([]byte("hello\n")); c.Close() })
	rt := newRuntime(t, lua.Options{})
	evalLua(t, rt, fmt.Sprintf(`
		C4:CreateTCPClient()
			:OnResolve(function(c, eps, choose) resolved = eps[1].ip .. ':' .. eps[1].port; choose(1) end)
			:OnConnect(function(c) c:ReadUntil('\n') end)
			:OnRead(function(c, data) got = data end)
			:Connect('127.0.0.1', %d)
		C4:CreateTCPClient()
			:OnResolve(function() return 0 end)
			:OnError(function(c, code) cancelled = code end)
			:Connect('127.0.0.1', %d)`, port, port))
	awaitLua(t, rt, "got ~= nil and cancelled ~= nil")
	out := evalLua(t, rt, `return resolved, got, cancelled`)
	want := []any{"127.0.0.1:" + strconv.Itoa(port), "hello\n", int64(22)}
	if fmtAny(out) != fmtAny(want) {
		t.Errorf("got  %#v\nwant %#v", out, want)
	}
}
