package emulator

import (
	"bufio"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// maxBody bounds request bodies of the HTTP API.
const maxBody = 1 << 20

// Handler serves the broker's HTTP/JSON control API:
//
//	GET    /faults                  armed rules with their counters
//	POST   /faults                  arm one rule, or {"rules": [...]}, all or none; a YAML fault plan with Content-Type application/yaml
//	DELETE /faults/{name}           disarm a rule
//	POST   /reset                   disarm every rule; ?journal=1 clears the journal too
//	GET    /journal                 records, filtered by query parameters; JSONL or ?format=json;
//	                                ?after=SEQ&limit=N pages with a cursor (X-Journal-Next)
//	GET    /clients                 clients mochi knows, connected or with a kept session
//	POST   /clients/{id}/disconnect cut a client off
//	POST   /broker/restart          {"down_for": "2s"}: bounce the DUT listener
//	GET    /healthz                 liveness and addresses
//
// Rules take the keys of fault plans, in JSON. Errors come back as
// {"error": "..."} (with "field" when one field is to blame) and a 4xx
// status.
func (b *Broker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /faults", b.apiListFaults)
	mux.HandleFunc("POST /faults", b.apiAddFaults)
	mux.HandleFunc("DELETE /faults/{name}", b.apiRemoveFault)
	mux.HandleFunc("POST /reset", b.apiReset)
	mux.HandleFunc("GET /journal", b.apiJournal)
	mux.HandleFunc("GET /clients", b.apiClients)
	mux.HandleFunc("POST /clients/{id}/disconnect", b.apiDisconnectClient)
	mux.HandleFunc("POST /broker/restart", b.apiRestart)
	mux.HandleFunc("GET /healthz", b.apiHealth)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notRouted(mux, w, r) })
	return b.guard(mux)
}

// guard turns away requests the API must not serve, before any handler:
// without the token (when one is set), from another site (a browser's
// Origin that is not the API's own, or Sec-Fetch-Site: cross-site), to a
// Host name that is not loopback or an IP address when no token protects
// the API (a DNS-rebinding page names its own host), and POST bodies that
// are not JSON or YAML (what an HTML form or a no-CORS fetch can send
// without asking).
func (b *Broker) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			u, err := url.Parse(origin)
			if err != nil || u.Host != r.Host {
				apiError(w, http.StatusForbidden, fmt.Errorf("cross-site request from %q refused", origin))
				return
			}
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			apiError(w, http.StatusForbidden, errors.New("cross-site request refused"))
			return
		}
		if b.apiToken == "" && !plainHost(r.Host) {
			apiError(w, http.StatusForbidden, fmt.Errorf("Host %q refused: without an API token the API answers only to loopback names and IP addresses", r.Host))
			return
		}
		public := r.Method == http.MethodGet && r.URL.Path == "/healthz"
		if b.apiToken != "" && !public {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(b.apiToken)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="mqtthil"`)
				apiError(w, http.StatusUnauthorized, errors.New("give the API token: Authorization: Bearer TOKEN"))
				return
			}
		}
		if r.Method == http.MethodPost && (r.ContentLength != 0 || r.Header.Get("Content-Type") != "") {
			if bodyFormat(r) == "" {
				apiError(w, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type %q: POST bodies are application/json, or application/yaml (text/yaml) for POST /faults", r.Header.Get("Content-Type")))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// plainHost reports whether a Host header names loopback or an IP address.
func plainHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	return h == "localhost" || net.ParseIP(h) != nil
}

// bodyFormat is "json" or "yaml" from a request's Content-Type, "" for
// anything else.
func bodyFormat(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	switch mt {
	case "application/json":
		return "json"
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		return "yaml"
	}
	return ""
}

// notRouted answers requests no route took: 405 when the path exists for
// another method, 404 otherwise, both as JSON.
func notRouted(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := mux.Handler(r2); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		apiError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s %s: method not allowed; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
		return
	}
	apiError(w, http.StatusNotFound, fmt.Errorf("%s %s: no such endpoint", r.Method, r.URL.Path))
}

// apiErrorBody is every error the API returns.
type apiErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func apiError(w http.ResponseWriter, status int, err error) {
	body := apiErrorBody{Error: err.Error()}
	var pe *faults.PlanError
	var fe *faults.FieldError
	switch {
	case errors.As(err, &pe):
		body.Field = pe.Path
	case errors.As(err, &fe):
		body.Field = fe.Path
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// checkQuery refuses query parameters the endpoint does not know, so that a
// misspelt filter is an error rather than a silent match-all.
func checkQuery(q url.Values, known ...string) error {
	var unknown []string
	for k := range q {
		if !containsString(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	if len(known) == 0 {
		return fmt.Errorf("unknown query parameter %s: this endpoint takes none", strings.Join(unknown, ", "))
	}
	return fmt.Errorf("unknown query parameter %s: want %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// readBody reads a request body of at most maxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, fmt.Errorf("request body is larger than %d bytes", maxBody)
	}
	return data, err
}

// decodeStrict reads a JSON body into v, refusing unknown fields and
// trailing data. An empty body leaves v as it is.
func decodeStrict(data []byte, v any) error {
	if strings.TrimSpace(string(data)) == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("JSON: %w", err)
	}
	if dec.More() {
		return errors.New("JSON: more than one value in the body")
	}
	return nil
}

// FaultStatus is an armed rule as GET /faults lists it. Rule has the keys
// POST /faults takes, so a listed rule can be posted back as it is.
type FaultStatus struct {
	Rule    faults.RuleSpec `json:"rule"`
	Action  string          `json:"action"`
	ArmedAt time.Time       `json:"armed_at"`
	Matched int             `json:"matched"`
	Fired   int             `json:"fired"`
}

// FaultList is the body of GET /faults.
type FaultList struct {
	Seed  int64         `json:"seed"`
	Rules []FaultStatus `json:"rules"`
}

func (b *Broker) faultList() FaultList {
	list := FaultList{Seed: b.Faults.Seed(), Rules: []FaultStatus{}}
	for _, s := range b.Faults.List() {
		fs := FaultStatus{Rule: faults.RuleToSpec(s.Rule), ArmedAt: s.ArmedAt, Matched: s.Matched, Fired: s.Fired}
		if s.Rule.Action != nil {
			fs.Action = s.Rule.Action.Kind()
		}
		list.Rules = append(list.Rules, fs)
	}
	return list
}

func (b *Broker) apiListFaults(w http.ResponseWriter, r *http.Request) {
	if err := checkQuery(r.URL.Query()); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, b.faultList())
}

// apiAddFaults arms one rule or a batch. A batch is armed whole or not at
// all: a name already armed refuses the batch with 409.
func (b *Broker) apiAddFaults(w http.ResponseWriter, r *http.Request) {
	if err := checkQuery(r.URL.Query()); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	data, err := readBody(w, r)
	if err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	var rules []faults.Rule
	if bodyFormat(r) == "yaml" {
		// A fault plan, as `mqtthil broker --plan` reads it; its seed is
		// its rules' seed, as Plan.Arm has it.
		var p *faults.Plan
		if p, err = faults.ParsePlan("request body", data); err == nil {
			rules = p.Rules
			for i := range rules {
				if p.HasSeed && rules[i].Seed == nil && p.Seed != b.Faults.Seed() {
					seed := p.Seed
					rules[i].Seed = &seed
				}
			}
		}
	} else {
		rules, err = faults.RulesFromJSON(data)
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	if lim := b.Faults.Limits().MaxRules; lim > 0 && b.Faults.Len()+len(rules) > lim {
		apiError(w, http.StatusConflict, fmt.Errorf("%d rules are armed and the limit is %d: %d more do not fit", b.Faults.Len(), lim, len(rules)))
		return
	}
	for _, rule := range rules {
		if b.Faults.Has(rule.Name) {
			apiError(w, http.StatusConflict, fmt.Errorf("a rule named %q is armed already: DELETE /faults/%s first", rule.Name, url.PathEscape(rule.Name)))
			return
		}
	}
	for i, rule := range rules {
		if err := b.Faults.Add(rule); err != nil {
			// Another request armed the same name in between, filled the
			// set, or the rule breaks a limit. Take back what this one
			// armed.
			for _, done := range rules[:i] {
				b.Faults.Remove(done.Name)
			}
			status := http.StatusConflict
			var fe *faults.FieldError
			if errors.As(err, &fe) {
				status = http.StatusBadRequest
			}
			apiError(w, status, err)
			return
		}
	}
	specs := make([]faults.RuleSpec, len(rules))
	for i, rule := range rules {
		specs[i] = faults.RuleToSpec(rule)
	}
	if len(rules) == 1 {
		w.Header().Set("Location", "/faults/"+url.PathEscape(rules[0].Name))
	}
	writeJSON(w, http.StatusCreated, map[string]any{"armed": specs})
}

func (b *Broker) apiRemoveFault(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := checkQuery(r.URL.Query()); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	if !b.Faults.Remove(name) {
		apiError(w, http.StatusNotFound, fmt.Errorf("no rule named %q is armed", name))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (b *Broker) apiReset(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := checkQuery(q, "journal"); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	clearJournal := false
	if v := q.Get("journal"); v != "" {
		var err error
		if clearJournal, err = strconv.ParseBool(v); err != nil {
			apiError(w, http.StatusBadRequest, fmt.Errorf("journal=%q: want 1 or 0", v))
			return
		}
	}
	n := b.Faults.Len()
	b.Faults.Reset()
	if clearJournal {
		b.Journal.Reset()
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules_cleared": n, "journal_cleared": clearJournal})
}

// journalFilter reads a journal.Filter from query parameters named as its
// JSON keys.
func journalFilter(q url.Values) (journal.Filter, error) {
	var f journal.Filter
	f.Kind = q.Get("kind")
	f.Client = q.Get("client")
	f.Dir = q.Get("dir")
	f.Type = q.Get("type")
	f.Topic = q.Get("topic")
	f.Dropped = q.Get("dropped")
	switch f.Dir {
	case "", "to_broker", "to_client":
	default:
		return f, fmt.Errorf("dir=%q: want to_broker or to_client", f.Dir)
	}
	switch f.Kind {
	case "", journal.KindPacket, journal.KindOpen, journal.KindClose, journal.KindFault:
	default:
		return f, fmt.Errorf("kind=%q: want %s, %s, %s or %s", f.Kind, journal.KindPacket, journal.KindOpen, journal.KindClose, journal.KindFault)
	}
	if f.Type != "" {
		if _, err := faults.ParsePacketType(f.Type); err != nil {
			return f, fmt.Errorf("type=%q: %v", f.Type, err)
		}
	}
	switch f.Dropped {
	case "", "yes", "no":
	default:
		return f, fmt.Errorf("dropped=%q: want yes or no", f.Dropped)
	}
	if v := q.Get("packet_id"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return f, fmt.Errorf("packet_id=%q: want a number in 1..65535", v)
		}
		f.PacketID = n
	}
	for _, u := range []struct {
		key string
		dst *uint64
	}{{"after_seq", &f.AfterSeq}, {"conn", &f.Conn}} {
		if v := q.Get(u.key); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return f, fmt.Errorf("%s=%q: want a whole number", u.key, v)
			}
			*u.dst = n
		}
	}
	return f, nil
}

// maxJournalPage bounds ?limit=: a page is gathered in memory before it is
// written, so that its cursor can go in the headers.
const maxJournalPage = 100_000

// apiJournal writes the kept records that the query's filter matches:
// JSON lines by default, a JSON array with ?format=json (or Accept:
// application/json). The journal's fill goes in X-Journal-* headers.
//
// ?after=SEQ&limit=N reads one page: at most N records after the cursor
// SEQ, with X-Journal-Next (the cursor for the next page) and
// X-Journal-More (whether records remain past it). Without a limit the
// whole journal is streamed. Either way records are copied out of the
// journal a chunk at a time, so a reader never holds up recording.
func (b *Broker) apiJournal(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := checkQuery(q, "kind", "client", "conn", "dir", "type", "topic", "packet_id", "after_seq", "after", "limit", "dropped", "format"); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	f, err := journalFilter(q)
	if err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	var after uint64
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			apiError(w, http.StatusBadRequest, fmt.Errorf("after=%q: want a sequence number", v))
			return
		}
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxJournalPage {
			apiError(w, http.StatusBadRequest, fmt.Errorf("limit=%q: want a number in 1..%d", v, maxJournalPage))
			return
		}
	}
	format := q.Get("format")
	if format == "" {
		format = "jsonl"
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			format = "json"
		}
	}
	if format != "jsonl" && format != "json" {
		apiError(w, http.StatusBadRequest, fmt.Errorf("format=%q: want jsonl or json", format))
		return
	}
	st := b.Journal.Stats()
	h := w.Header()
	h.Set("X-Journal-Kept", strconv.Itoa(st.Kept))
	h.Set("X-Journal-Lost", strconv.FormatUint(st.Lost, 10))
	h.Set("X-Journal-Cap", strconv.Itoa(st.Cap))
	h.Set("X-Journal-Seq", strconv.FormatUint(st.Seq, 10))
	h.Set("Content-Type", "application/x-ndjson")
	if format == "json" {
		h.Set("Content-Type", "application/json")
	}
	out := newRecordWriter(w, format)
	if limit > 0 {
		recs, next, more := b.Journal.Page(f, after, limit)
		h.Set("X-Journal-Next", strconv.FormatUint(next, 10))
		h.Set("X-Journal-More", strconv.FormatBool(more))
		for _, rec := range recs {
			if out.write(rec) != nil {
				return
			}
		}
		_ = out.close()
		return
	}
	b.Journal.Scan(f, after, func(rec journal.Record) bool { return out.write(rec) == nil })
	_ = out.close()
}

// recordWriter streams records as JSON lines or as one JSON array, so that
// neither form needs the whole answer in memory.
type recordWriter struct {
	bw    *bufio.Writer
	enc   *json.Encoder
	array bool
	n     int
	err   error
}

func newRecordWriter(w io.Writer, format string) *recordWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &recordWriter{bw: bw, enc: json.NewEncoder(bw), array: format == "json"}
}

func (rw *recordWriter) write(r journal.Record) error {
	if rw.err != nil {
		return rw.err
	}
	if rw.array {
		sep := ",\n"
		if rw.n == 0 {
			sep = "[\n"
		}
		if _, rw.err = rw.bw.WriteString(sep); rw.err != nil {
			return rw.err
		}
	}
	rw.n++
	rw.err = rw.enc.Encode(r) // ends the record with a newline, which JSON allows before a comma
	return rw.err
}

func (rw *recordWriter) close() error {
	if rw.err == nil && rw.array {
		end := "]\n"
		if rw.n == 0 {
			end = "[]\n"
		}
		_, rw.err = rw.bw.WriteString(end)
	}
	if rw.err == nil {
		rw.err = rw.bw.Flush()
	}
	return rw.err
}

// ClientInfo is a client as GET /clients lists it.
type ClientInfo struct {
	ID              string `json:"id"`
	Listener        string `json:"listener"`
	Remote          string `json:"remote"`
	ProtocolVersion int    `json:"protocol_version"`
	Username        string `json:"username,omitempty"`
	Connected       bool   `json:"connected"`
}

func (b *Broker) apiClients(w http.ResponseWriter, r *http.Request) {
	if err := checkQuery(r.URL.Query()); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	out := []ClientInfo{}
	for _, cl := range b.server.Clients.GetAll() {
		if cl.Net.Inline {
			continue
		}
		out = append(out, ClientInfo{
			ID:              cl.ID,
			Listener:        cl.Net.Listener,
			Remote:          cl.Net.Remote,
			ProtocolVersion: int(cl.Properties.ProtocolVersion),
			Username:        string(cl.Properties.Username),
			Connected:       !cl.Closed(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

// apiDisconnectClient cuts a client off: MQTT 5 clients get a DISCONNECT
// with reason 0x98 (administrative action) first; older clients, which
// have no server DISCONNECT, see the connection close.
func (b *Broker) apiDisconnectClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := checkQuery(r.URL.Query()); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	cl, ok := b.server.Clients.Get(id)
	if !ok || cl.Net.Inline {
		apiError(w, http.StatusNotFound, fmt.Errorf("no client with id %q", id))
		return
	}
	if cl.Closed() {
		apiError(w, http.StatusConflict, fmt.Errorf("client %q is not connected", id))
		return
	}
	how := "close"
	if cl.Properties.ProtocolVersion == 5 {
		how = "mqtt"
		_ = b.server.DisconnectClient(cl, packets.ErrAdministrativeAction)
	} else {
		cl.Stop(packets.ErrAdministrativeAction)
	}
	writeJSON(w, http.StatusOK, map[string]any{"disconnected": id, "mode": how})
}

// restartRequest is the body of POST /broker/restart.
type restartRequest struct {
	DownFor faults.Duration `json:"down_for"`
}

func (b *Broker) apiRestart(w http.ResponseWriter, r *http.Request) {
	if err := checkQuery(r.URL.Query()); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	data, err := readBody(w, r)
	if err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	var req restartRequest
	if err := decodeStrict(data, &req); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	if req.DownFor < 0 {
		apiError(w, http.StatusBadRequest, fmt.Errorf("down_for %s must not be negative", time.Duration(req.DownFor)))
		return
	}
	if lim := b.Faults.Limits().MaxDuration; lim > 0 && time.Duration(req.DownFor) > lim {
		apiError(w, http.StatusBadRequest, fmt.Errorf("down_for %s is longer than the limit of %s", time.Duration(req.DownFor), lim))
		return
	}
	if err := b.Restart(time.Duration(req.DownFor)); err != nil {
		apiError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"restarting": true, "down_for": req.DownFor})
}

// Health is the body of GET /healthz.
type Health struct {
	Status      string `json:"status"`
	DUTAddr     string `json:"dut"`
	ControlAddr string `json:"control"`
	DUTUp       bool   `json:"dut_up"`
	ControlUp   bool   `json:"control_up"`
	// ListenerError is the accept error that ended a listener; Status is
	// then "stopped" and the status code 503.
	ListenerError string `json:"listener_error,omitempty"`
	// AcceptRetries counts temporary accept errors (too many open files)
	// waited out on the DUT listener.
	AcceptRetries uint64        `json:"accept_retries"`
	Seed          int64         `json:"seed"`
	Clients       int           `json:"clients"`
	Rules         int           `json:"rules"`
	Journal       journal.Stats `json:"journal"`
}

func (b *Broker) apiHealth(w http.ResponseWriter, r *http.Request) {
	up := false
	select {
	case <-b.dut.Up():
		up = b.dut.Err() == nil
	default:
	}
	status, code, lerr := "ok", http.StatusOK, ""
	if err := b.Err(); err != nil {
		status, code, lerr = "stopped", http.StatusServiceUnavailable, err.Error()
	}
	writeJSON(w, code, Health{
		Status:        status,
		DUTAddr:       b.DUTAddr,
		ControlAddr:   b.ControlAddr,
		DUTUp:         up,
		ControlUp:     b.listeners[1].Err() == nil,
		ListenerError: lerr,
		AcceptRetries: b.dut.AcceptRetries(),
		Seed:          b.Seed,
		Clients:       int(atomic.LoadInt64(&b.server.Info.ClientsConnected)),
		Rules:         len(b.Faults.List()),
		Journal:       b.Journal.Stats(),
	})
}
