// HTTPStub is the web the driver's C4:url and C4:urlGet... requests reach:
// a real local HTTP server whose answers a scenario or a fixture file
// declares, so that drivers run against exact statuses, headers, bodies,
// delays and refused connections without touching the outside network.
package lua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// HTTPAnswer is one rule of the stub: the requests it matches and what it
// answers. Host, Path and URL are alternatives that narrow the match; an
// empty field matches anything.
type HTTPAnswer struct {
	// Method matches case-insensitively; "" any method.
	Method string `yaml:"method" json:"method"`
	// URL matches the whole request URL (scheme, host, path and query);
	// a trailing "*" matches any rest.
	URL string `yaml:"url" json:"url"`
	// Host matches the request's host name (port left out when the URL
	// leaves it out).
	Host string `yaml:"host" json:"host"`
	// Path matches the path (no query); a trailing "*" matches any rest.
	Path string `yaml:"path" json:"path"`

	// Status is the HTTP status; 0 means 200.
	Status  int               `yaml:"status" json:"status"`
	Headers map[string]string `yaml:"headers" json:"headers"`
	Body    string            `yaml:"body" json:"body"`
	// Delay holds the answer back (the driver's timeout can run out).
	Delay time.Duration `yaml:"delay" json:"delay"`
	// Refuse fails the connection as a closed port would, with no answer.
	Refuse bool `yaml:"refuse" json:"refuse"`
	// Times limits how often the rule answers; 0 is always. A used-up
	// rule lets later rules match.
	Times int `yaml:"times" json:"times"`
}

// HTTPRequest is one request the driver sent, as it sent it.
type HTTPRequest struct {
	Method  string
	URL     string
	Headers http.Header
	Body    string
	// Outcome says what became of it: "answer N" (the rule's index),
	// "refused", "unknown host", "no answer declared" or "network".
	Outcome string
}

// HTTPStub serves the declared answers. It is safe for concurrent use and
// may serve several runtimes; Close it when done.
type HTTPStub struct {
	srv  *http.Server
	ln   net.Listener
	quit chan struct{}

	mu      sync.Mutex
	answers []HTTPAnswer
	used    []int
	reqs    []HTTPRequest
	closed  bool
}

// NewHTTPStub starts the stub's server on a loopback port.
func NewHTTPStub(answers ...HTTPAnswer) (*HTTPStub, error) {
	for i, a := range answers {
		if err := a.validate(); err != nil {
			return nil, fmt.Errorf("http stub: answer %d: %w", i, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("http stub: %w", err)
	}
	s := &HTTPStub{ln: ln, quit: make(chan struct{}), answers: answers, used: make([]int, len(answers))}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Add declares more answers; they match after the ones already declared.
func (s *HTTPStub) Add(answers ...HTTPAnswer) error {
	for i, a := range answers {
		if err := a.validate(); err != nil {
			return fmt.Errorf("http stub: answer %d: %w", i, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, answers...)
	s.used = append(s.used, make([]int, len(answers))...)
	return nil
}

// Requests returns every request sent so far, in order.
func (s *HTTPStub) Requests() []HTTPRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]HTTPRequest(nil), s.reqs...)
}

// Close stops the server; delayed answers end at once.
func (s *HTTPStub) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	return s.srv.Close()
}

// Addr is the server's loopback address.
func (s *HTTPStub) Addr() string { return s.ln.Addr().String() }

func (a HTTPAnswer) validate() error {
	if a.Status != 0 && (a.Status < 100 || a.Status > 999) {
		return fmt.Errorf("status %d is not an HTTP status", a.Status)
	}
	if a.Delay < 0 {
		return fmt.Errorf("delay %v is negative", a.Delay)
	}
	if a.Times < 0 {
		return fmt.Errorf("times %d is negative", a.Times)
	}
	if a.URL != "" {
		u, err := url.Parse(strings.TrimSuffix(a.URL, "*"))
		if err != nil || u.Host == "" {
			return fmt.Errorf("url %q is not an absolute URL", a.URL)
		}
	}
	if a.URL == "" && a.Host == "" {
		return errors.New("an answer needs a url or a host")
	}
	return nil
}

// hostOf is the host an answer is for.
func (a HTTPAnswer) hostOf() string {
	if a.Host != "" {
		return a.Host
	}
	u, _ := url.Parse(strings.TrimSuffix(a.URL, "*"))
	return u.Host
}

func globMatch(pattern, s string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return pattern == s
}

func (a HTTPAnswer) matches(method string, u *url.URL) bool {
	if a.Method != "" && !strings.EqualFold(a.Method, method) {
		return false
	}
	if a.URL != "" && !globMatch(a.URL, u.String()) {
		return false
	}
	if a.Host != "" && !strings.EqualFold(a.Host, u.Host) && !strings.EqualFold(a.Host, u.Hostname()) {
		return false
	}
	if a.Path != "" && !globMatch(a.Path, u.EscapedPath()) {
		return false
	}
	return true
}

// declares reports whether any answer is for u's host.
func (s *HTTPStub) declares(u *url.URL) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.answers {
		h := a.hostOf()
		if strings.EqualFold(h, u.Host) || strings.EqualFold(h, u.Hostname()) {
			return true
		}
	}
	return false
}

// pick chooses the first matching answer that is not used up and counts
// the use; -1 when none matches.
func (s *HTTPStub) pick(method string, u *url.URL) (int, HTTPAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range s.answers {
		if a.Times > 0 && s.used[i] >= a.Times {
			continue
		}
		if a.matches(method, u) {
			s.used[i]++
			return i, a
		}
	}
	return -1, HTTPAnswer{}
}

func (s *HTTPStub) record(q HTTPRequest) {
	s.mu.Lock()
	s.reqs = append(s.reqs, q)
	s.mu.Unlock()
}

// answerHeader carries the chosen answer from the transport to the server;
// the server takes it out before anything else sees the request.
const answerHeader = "X-Mqtthil-Answer"

func (s *HTTPStub) serve(w http.ResponseWriter, req *http.Request) {
	i, err := strconv.Atoi(req.Header.Get(answerHeader))
	s.mu.Lock()
	ok := err == nil && i >= 0 && i < len(s.answers)
	var a HTTPAnswer
	if ok {
		a = s.answers[i]
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "mqtthil http stub: no answer chosen", http.StatusBadGateway)
		return
	}
	if a.Delay > 0 {
		t := time.NewTimer(a.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-req.Context().Done():
			return
		case <-s.quit:
			return
		}
	}
	for k, v := range a.Headers {
		w.Header().Set(k, v)
	}
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write([]byte(a.Body))
}

// stubTransport sends a runtime's requests: to the stub for the hosts it
// declares, to the network when allowed, and otherwise fails them as an
// unknown host.
type stubTransport struct {
	stub     *HTTPStub // may be nil
	allowNet bool
	local    *http.Transport // to the stub's server
	net      *http.Transport // the outside network
}

func newStubTransport(stub *HTTPStub, allowNet bool) *stubTransport {
	t := &stubTransport{stub: stub, allowNet: allowNet}
	if stub != nil {
		addr := stub.Addr()
		t.local = &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
			DisableKeepAlives: true,
		}
	}
	if allowNet {
		t.net = http.DefaultTransport.(*http.Transport).Clone()
	}
	return t
}

func (t *stubTransport) close() {
	if t.local != nil {
		t.local.CloseIdleConnections()
	}
	if t.net != nil {
		t.net.CloseIdleConnections()
	}
}

func (t *stubTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	q := HTTPRequest{Method: req.Method, URL: req.URL.String(), Headers: req.Header.Clone()}
	if req.Body != nil {
		var b bytes.Buffer
		_, err := b.ReadFrom(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		q.Body = b.String()
		body := b.Bytes()
		req.Body = nopBody{bytes.NewReader(body)}
	}
	record := func(outcome string) {
		q.Outcome = outcome
		if t.stub != nil {
			t.stub.record(q)
		}
	}
	if t.stub != nil && t.stub.declares(req.URL) {
		i, a := t.stub.pick(req.Method, req.URL)
		switch {
		case i < 0:
			record("no answer declared")
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		case a.Refuse:
			record("refused")
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		}
		record("answer " + strconv.Itoa(i))
		out := req.Clone(req.Context())
		out.Header.Set(answerHeader, strconv.Itoa(i))
		out.URL.Scheme = "http"
		return t.local.RoundTrip(out)
	}
	if t.allowNet {
		record("network")
		return t.net.RoundTrip(req)
	}
	record("unknown host")
	return nil, &net.DNSError{Err: "no such host", Name: req.URL.Hostname(), IsNotFound: true}
}

type nopBody struct{ *bytes.Reader }

func (nopBody) Close() error { return nil }

// httpAnswersFile is the fixture format: a list of answers under
// "answers". YAML, and so JSON too.
type httpAnswersFile struct {
	Answers []httpAnswerYAML `yaml:"answers"`
}

// httpAnswerYAML is HTTPAnswer as written in a fixture: the delay is text
// such as "250ms".
type httpAnswerYAML struct {
	Method  string            `yaml:"method"`
	URL     string            `yaml:"url"`
	Host    string            `yaml:"host"`
	Path    string            `yaml:"path"`
	Status  int               `yaml:"status"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	Delay   string            `yaml:"delay"`
	Refuse  bool              `yaml:"refuse"`
	Times   int               `yaml:"times"`
}

// ParseHTTPAnswers reads a fixture of answers; name is the file's name for
// messages.
func ParseHTTPAnswers(name string, data []byte) ([]HTTPAnswer, error) {
	var f httpAnswersFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("http answers %s: %w", name, err)
	}
	out := make([]HTTPAnswer, 0, len(f.Answers))
	for i, y := range f.Answers {
		a := HTTPAnswer{Method: y.Method, URL: y.URL, Host: y.Host, Path: y.Path, Status: y.Status,
			Headers: y.Headers, Body: y.Body, Refuse: y.Refuse, Times: y.Times}
		if y.Delay != "" {
			d, err := time.ParseDuration(y.Delay)
			if err != nil {
				return nil, fmt.Errorf("http answers %s: answers[%d].delay: %w", name, i, err)
			}
			a.Delay = d
		}
		if err := a.validate(); err != nil {
			return nil, fmt.Errorf("http answers %s: answers[%d]: %w", name, i, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// LoadHTTPAnswers reads a fixture file of answers.
func LoadHTTPAnswers(path string) ([]HTTPAnswer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("http answers: %w", err)
	}
	return ParseHTTPAnswers(path, data)
}
