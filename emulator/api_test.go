package emulator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/emulator"
	faultwire "github.com/mqtthil/mqtthil/emulator/faults/wire"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// apiBroker starts a broker and serves its API on a test server.
func apiBroker(t *testing.T, opts emulator.Options) (*emulator.Broker, *httptest.Server) {
	t.Helper()
	b := emulator.StartTest(t, opts)
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	return b, srv
}

type apiResp struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, srv *httptest.Server, method, path, body string) apiResp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResp{resp.StatusCode, resp.Header, data}
}

// expectStatus checks the status and, for errors, that the body is a JSON
// error containing want.
func (r apiResp) expect(t *testing.T, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if status >= 400 {
		var e struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
			t.Fatalf("error body is not {\"error\": ...}: %s", r.body)
		}
		if !strings.Contains(e.Error, want) {
			t.Fatalf("error %q, want it to contain %q", e.Error, want)
		}
	}
}

func (r apiResp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// mqttClient is a bare MQTT 3.1.1 client written byte by byte, enough to
// put packets through the DUT listener.
type mqttClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func connectV4(t *testing.T, addr, id string) *mqttClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return connectV4On(t, conn, id)
}

// connectV4On is connectV4 on a connection made already.
func connectV4On(t *testing.T, conn net.Conn, id string) *mqttClient {
	t.Helper()
	c := &mqttClient{t: t, conn: conn, br: bufio.NewReader(conn)}
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, byte(len(id))}
	body = append(body, id...)
	c.write(0x10, body)
	if raw := c.read(5 * time.Second); raw == nil || raw[0] != 0x20 || raw[3] != 0 {
		t.Fatalf("CONNACK: got % x", raw)
	}
	return c
}

func (c *mqttClient) write(first byte, body []byte) {
	c.t.Helper()
	pkt := append([]byte{first, byte(len(body))}, body...)
	if len(body) > 127 {
		c.t.Fatal("mqttClient writes only short packets")
	}
	if _, err := c.conn.Write(pkt); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *mqttClient) publishQoS1(topic string, id uint16, payload string) {
	body := []byte{0, byte(len(topic))}
	body = append(body, topic...)
	body = append(body, byte(id>>8), byte(id))
	body = append(body, payload...)
	c.write(0x32, body)
}

// read returns the next frame, or nil when none comes within d or the
// connection ends.
func (c *mqttClient) read(d time.Duration) []byte {
	c.conn.SetReadDeadline(time.Now().Add(d))
	raw, err := faultwire.ReadFrame(c.br)
	if err != nil {
		return nil
	}
	return raw
}

// closed waits up to d for the broker to end the connection.
func (c *mqttClient) closed(d time.Duration) bool {
	c.conn.SetReadDeadline(time.Now().Add(d))
	for {
		_, err := faultwire.ReadFrame(c.br)
		if err == nil {
			continue
		}
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
}

func TestAPIFaultLifecycle(t *testing.T) {
	_, srv := apiBroker(t, emulator.Options{Seed: 9})

	var list emulator.FaultList
	call(t, srv, "GET", "/faults", "").decode(t, &list)
	if list.Seed != 9 || len(list.Rules) != 0 {
		t.Fatalf("fresh broker lists %+v", list)
	}

	rule := `{"name":"slow-acks","match":{"direction":"to_client","packet":["PUBACK","PUBCOMP"]},"times":3,"delay":{"duration":"300ms","jitter":"20ms"}}`
	r := call(t, srv, "POST", "/faults", rule)
	r.expect(t, http.StatusCreated, "")
	if loc := r.header.Get("Location"); loc != "/faults/slow-acks" {
		t.Errorf("Location %q", loc)
	}
	call(t, srv, "POST", "/faults", rule).expect(t, http.StatusConflict, `"slow-acks" is armed already`)

	call(t, srv, "GET", "/faults", "").decode(t, &list)
	if len(list.Rules) != 1 {
		t.Fatalf("rules %+v", list.Rules)
	}
	got := list.Rules[0]
	if got.Action != "delay" || got.Matched != 0 || got.Fired != 0 || got.ArmedAt.IsZero() {
		t.Errorf("listed %+v", got)
	}
	// What GET lists, POST takes back.
	spec, _ := json.Marshal(got.Rule)
	if string(spec) != rule {
		t.Errorf("listed rule\n %s\nposted\n %s", spec, rule)
	}

	// A batch is armed whole or not at all.
	call(t, srv, "POST", "/faults", `{"rules":[{"name":"a","drop":{}},{"name":"slow-acks","drop":{}}]}`).
		expect(t, http.StatusConflict, "armed already")
	call(t, srv, "GET", "/faults", "").decode(t, &list)
	if len(list.Rules) != 1 {
		t.Fatalf("refused batch armed some rules: %+v", list.Rules)
	}
	call(t, srv, "POST", "/faults", `{"rules":[{"name":"a","drop":{}},{"name":"b","match":{"packet":"CONNECT"},"refuse":{"code":5}}]}`).
		expect(t, http.StatusCreated, "")
	call(t, srv, "GET", "/faults", "").decode(t, &list)
	if len(list.Rules) != 3 || list.Rules[2].Rule.Name != "b" || list.Rules[2].Action != "refuse" {
		t.Fatalf("after batch: %+v", list.Rules)
	}

	call(t, srv, "DELETE", "/faults/a", "").expect(t, http.StatusNoContent, "")
	call(t, srv, "DELETE", "/faults/a", "").expect(t, http.StatusNotFound, `no rule named "a"`)
	call(t, srv, "DELETE", "/faults/slow-acks", "").expect(t, http.StatusNoContent, "")

	var reset map[string]any
	call(t, srv, "POST", "/reset", "").decode(t, &reset)
	if reset["rules_cleared"] != 1.0 {
		t.Errorf("reset said %v", reset)
	}
	call(t, srv, "GET", "/faults", "").decode(t, &list)
	if len(list.Rules) != 0 {
		t.Fatalf("after reset: %+v", list.Rules)
	}
}

func TestAPIBadRequests(t *testing.T) {
	_, srv := apiBroker(t, emulator.Options{})
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/faults", `{"name":"a","match":{"probability":1.5},"drop":{}}`, 400, "match.probability: 1.5 is outside 0..1"},
		{"POST", "/faults", `{"name":"a","drop":{},"colour":"red"}`, 400, "colour: unknown key"},
		{"POST", "/faults", `{"name":"a","match":{"packet":"PUBACK"},"reason":{"code":146}}`, 400, "reason code 146 is not valid for PUBACK"},
		{"POST", "/faults", `{"name":"a","drop":{},"delay":{"duration":"1s"}}`, 400, "give exactly one"},
		{"POST", "/faults", `{"name":"a"}`, 400, "has no action"},
		{"POST", "/faults", `{"name":"a","delay":{"duration":"soon"}}`, 400, `delay.duration: "soon" is not a duration`},
		{"POST", "/faults", `{"rules":[{"name":"a","drop":{}},{"name":"a","drop":{}}]}`, 400, `rules[1].name: rule name "a" is taken`},
		{"POST", "/faults", `not json`, 400, "JSON: invalid character"},
		{"POST", "/faults", ``, 400, "JSON: empty body"},
		{"POST", "/faults", `{"name":"a","drop":{}}`[:10], 400, "JSON: unexpected end"},
		{"POST", "/faults", `{"name":"a","drop":{}}` + strings.Repeat(" ", 2<<20), 400, "larger than"},
		{"POST", "/faults?dry=1", `{"name":"a","drop":{}}`, 400, "unknown query parameter dry"},
		{"POST", "/reset?journal=maybe", "", 400, `journal="maybe"`},
		{"POST", "/reset?all=1", "", 400, "unknown query parameter all: want journal"},
		{"GET", "/journal?typ=PUBACK", "", 400, "unknown query parameter typ"},
		{"GET", "/journal?type=PUBAK", "", 400, `type="PUBAK"`},
		{"GET", "/journal?dir=up", "", 400, `dir="up"`},
		{"GET", "/journal?kind=packets", "", 400, `kind="packets"`},
		{"GET", "/journal?packet_id=0", "", 400, "packet_id="},
		{"GET", "/journal?after_seq=-1", "", 400, "after_seq="},
		{"GET", "/journal?format=xml", "", 400, `format="xml"`},
		{"POST", "/broker/restart", `{"down_for":"2 seconds"}`, 400, "JSON:"},
		{"POST", "/broker/restart", `{"downfor":"2s"}`, 400, `unknown field "downfor"`},
		{"POST", "/broker/restart", `{"down_for":"-1s"}`, 400, "must not be negative"},
		{"POST", "/clients/nobody/disconnect", "", 404, `no client with id "nobody"`},
		{"GET", "/nowhere", "", 404, "no such endpoint"},
		{"PUT", "/faults", "", 405, "use GET or POST"},
		{"GET", "/faults/x", "", 405, "use DELETE"},
		{"GET", "/reset", "", 405, "use POST"},
	}
	for _, c := range cases {
		r := call(t, srv, c.method, c.path, c.body)
		if r.status != c.status {
			t.Errorf("%s %s %.60s: status %d, want %d; %s", c.method, c.path, c.body, r.status, c.status, r.body)
			continue
		}
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(r.body, &e); err != nil || !strings.Contains(e.Error, c.want) {
			t.Errorf("%s %s %.60s: body %s, want an error containing %q", c.method, c.path, c.body, r.body, c.want)
		}
	}
	var e struct{ Error, Field string }
	call(t, srv, "POST", "/faults", `{"name":"a","match":{"qos":3},"drop":{}}`).decode(t, &e)
	if e.Field != "match.qos" {
		t.Errorf("error %+v does not name the field match.qos", e)
	}
}

// A rule armed over the API acts on the wire, its counters move, and the
// journal shows what it did.
func TestAPIRuleOnTheWire(t *testing.T) {
	b, srv := apiBroker(t, emulator.Options{})
	call(t, srv, "POST", "/faults", `{"name":"lose-first-puback","match":{"direction":"to_client","packet":"PUBACK","nth":1},"drop":{}}`).
		expect(t, http.StatusCreated, "")

	c := connectV4(t, b.DUTAddr, "pub-1")
	c.publishQoS1("a/b", 1, "one")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.Journal.WaitFor(ctx, journal.Filter{Type: "PUBACK", Dropped: "yes"}, 1); err != nil {
		t.Fatal(err)
	}
	c.publishQoS1("a/b", 2, "two")
	raw := c.read(5 * time.Second)
	if raw == nil || raw[0] != 0x40 || raw[3] != 2 {
		t.Fatalf("want PUBACK for id 2 (the first one lost), got % x", raw)
	}

	var list emulator.FaultList
	call(t, srv, "GET", "/faults", "").decode(t, &list)
	if st := list.Rules[0]; st.Matched != 2 || st.Fired != 1 {
		t.Errorf("counters matched=%d fired=%d, want 2 and 1", st.Matched, st.Fired)
	}

	var recs []journal.Record
	call(t, srv, "GET", "/journal?type=puback&dir=to_client&format=json", "").decode(t, &recs)
	if len(recs) != 2 || !recs[0].Dropped || recs[0].Rule != "lose-first-puback" || recs[0].PacketID != 1 || recs[1].Dropped {
		t.Fatalf("PUBACK records: %+v", recs)
	}
	r := call(t, srv, "GET", "/journal?packet_id=2&client=pub-1", "")
	if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	if len(lines) != 2 {
		t.Fatalf("JSONL for packet id 2: %q", r.body)
	}
	for i, want := range []string{"PUBLISH", "PUBACK"} {
		var rec journal.Record
		if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil || rec.Type != want {
			t.Errorf("line %d: %s, want %s", i, lines[i], want)
		}
	}
	if r.header.Get("X-Journal-Lost") != "0" || r.header.Get("X-Journal-Kept") == "" {
		t.Errorf("journal headers %v", r.header)
	}
	last := recs[1].Seq
	call(t, srv, "GET", "/journal?format=json&after_seq="+itoa(last), "").decode(t, &recs)
	for _, rec := range recs {
		if rec.Seq <= last {
			t.Errorf("after_seq=%d gave #%d", last, rec.Seq)
		}
	}
	r = call(t, srv, "GET", "/journal?kind=open", "")
	if n := strings.Count(string(r.body), "\n"); n != 1 {
		t.Errorf("open records: %s", r.body)
	}

	// Reset with the journal: rules and records go.
	call(t, srv, "POST", "/reset?journal=1", "").expect(t, http.StatusOK, "")
	call(t, srv, "GET", "/journal?format=json", "").decode(t, &recs)
	if len(recs) != 0 {
		t.Errorf("journal after reset: %+v", recs)
	}
	// Without journal=1 the journal stays.
	c.publishQoS1("a/b", 3, "three")
	if raw := c.read(5 * time.Second); raw == nil || raw[0] != 0x40 {
		t.Fatalf("want PUBACK with no rules armed, got % x", raw)
	}
	call(t, srv, "POST", "/reset", "").expect(t, http.StatusOK, "")
	call(t, srv, "GET", "/journal?format=json", "").decode(t, &recs)
	if len(recs) == 0 {
		t.Errorf("reset without journal=1 cleared the journal")
	}
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestAPIClientsAndDisconnect(t *testing.T) {
	b, srv := apiBroker(t, emulator.Options{})
	c := connectV4(t, b.DUTAddr, "dev-1")

	var clients []emulator.ClientInfo
	call(t, srv, "GET", "/clients", "").decode(t, &clients)
	if len(clients) != 1 {
		t.Fatalf("clients %+v", clients)
	}
	cl := clients[0]
	if cl.ID != "dev-1" || cl.Listener != emulator.DUTListener || cl.ProtocolVersion != 4 || !cl.Connected || cl.Remote == "" {
		t.Errorf("client %+v", cl)
	}

	var out map[string]string
	call(t, srv, "POST", "/clients/dev-1/disconnect", "").decode(t, &out)
	if out["disconnected"] != "dev-1" || out["mode"] != "close" {
		t.Errorf("disconnect said %v", out)
	}
	if !c.closed(5 * time.Second) {
		t.Fatal("connection still open after disconnect")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.Journal.WaitFor(ctx, journal.Filter{Kind: journal.KindClose, Client: "dev-1"}, 1); err != nil {
		t.Fatal(err)
	}
}

func TestAPIRestartAndHealth(t *testing.T) {
	b, srv := apiBroker(t, emulator.Options{Seed: 4})
	var h emulator.Health
	call(t, srv, "GET", "/healthz", "").decode(t, &h)
	if h.Status != "ok" || h.DUTAddr != b.DUTAddr || h.ControlAddr != b.ControlAddr || !h.DUTUp || h.Seed != 4 {
		t.Fatalf("health %+v", h)
	}

	c := connectV4(t, b.DUTAddr, "dev-2")
	call(t, srv, "POST", "/broker/restart", `{"down_for":"300ms"}`).expect(t, http.StatusAccepted, "")
	if !c.closed(5 * time.Second) {
		t.Fatal("connection survived the restart")
	}
	select {
	case <-b.Listener().Up():
	case <-time.After(10 * time.Second):
		t.Fatal("DUT listener did not come back")
	}
	call(t, srv, "GET", "/healthz", "").decode(t, &h)
	if !h.DUTUp {
		t.Errorf("health after the restart: %+v", h)
	}
	connectV4(t, b.DUTAddr, "dev-2")
	// An empty body restarts with no downtime.
	call(t, srv, "POST", "/broker/restart", "").expect(t, http.StatusAccepted, "")
}

// An MQTT 5 client cut off over the API hears why: DISCONNECT with reason
// 0x98 (administrative action).
func TestAPIDisconnectMQTT5(t *testing.T) {
	b, srv := apiBroker(t, emulator.Options{})
	conn, err := net.DialTimeout("tcp", b.DUTAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &mqttClient{t: t, conn: conn, br: bufio.NewReader(conn)}
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, 6}, "dev-v5"...)
	c.write(0x10, body)
	if raw := c.read(5 * time.Second); raw == nil || raw[0] != 0x20 || raw[3] != 0 {
		t.Fatalf("CONNACK: % x", raw)
	}
	var clients []emulator.ClientInfo
	call(t, srv, "GET", "/clients", "").decode(t, &clients)
	if len(clients) != 1 || clients[0].ProtocolVersion != 5 {
		t.Fatalf("clients %+v", clients)
	}
	var out map[string]string
	call(t, srv, "POST", "/clients/dev-v5/disconnect", "").decode(t, &out)
	if out["mode"] != "mqtt" {
		t.Errorf("disconnect said %v", out)
	}
	raw := c.read(5 * time.Second)
	if len(raw) < 3 || raw[0] != 0xe0 || raw[2] != 0x98 {
		t.Fatalf("want DISCONNECT with reason 0x98, got % x", raw)
	}
	if !c.closed(5 * time.Second) {
		t.Fatal("connection still open after DISCONNECT")
	}
	// Accept: application/json gives an array.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/journal?type=DISCONNECT", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var recs []journal.Record
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Dir != "to_client" || recs[0].Reason == nil || *recs[0].Reason != 0x98 {
		t.Errorf("DISCONNECT records %+v", recs)
	}
}
