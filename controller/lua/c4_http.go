// C4:url() transfers and the legacy C4:urlGet... functions. Requests go out
// through the runtime's stubTransport (httpstub.go): answered by the
// HTTPStub for the hosts it declares, sent to the network only when
// Options.AllowNetwork is set, and otherwise failed as an unknown host.
// The transfer runs on its own goroutine; its callbacks are posted to the
// loop and run there, one after the other, as the controller delivers them.
package lua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// httpState is the HTTP area of one runtime. Only the loop goroutine uses
// it, except client, which transfers share.
type httpState struct {
	client    *http.Client
	transport *stubTransport
	ctx       context.Context // cancelled when the runtime closes
	nextID    int
	running   map[int]*transfer
	timeout   time.Duration // urlSetTimeout
	options   map[string]glua.LValue
	jar       map[string]map[string]*cookie // domain -> name -> cookie
}

// cookie is one entry of the driver's jar, as urlGetCookies shows it.
type cookie struct {
	domain, path, name, value string
	secure, wildcard          bool
	expires                   int64 // epoch seconds, 0 = session
}

func (r *Runtime) httpOf() *httpState {
	s := r.ioOf()
	if s.http == nil {
		ctx, cancel := context.WithCancel(context.Background())
		tr := newStubTransport(r.opts.HTTP, r.opts.AllowNetwork)
		s.onClose(func() { cancel(); tr.close() })
		s.http = &httpState{
			transport: tr,
			ctx:       ctx,
			client: &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 10 {
					return errors.New("stopped after 10 redirects")
				}
				return nil
			}},
			running: map[int]*transfer{},
			timeout: 300 * time.Second,
			options: map[string]glua.LValue{"max_host_connections": glua.LNumber(1), "pipelining": glua.LFalse},
			jar:     map[string]map[string]*cookie{},
		}
	}
	return s.http
}

// transfer is one request, from C4:url() or a legacy call.
type transfer struct {
	r       *Runtime
	ud      *glua.LUserData // the C4:url() object; nil for legacy calls
	id      int             // ticket while running, else 0
	started bool
	done    bool
	cancel  context.CancelFunc
	options map[string]glua.LValue
	// C4:url() callbacks
	onHeaders, onBodyChunk, onBody, onDone glua.LValue
	// legacy completion: callback, or ReceivedAsync when nil
	legacy   bool
	callback glua.LValue
	url      *url.URL // the request's, once started
	download string   // DownloadFile's destination path
	name     string   // "url:Get", "urlPost" ... for the trace
}

// response is one HTTP response of a transfer (redirects give several).
type response struct {
	code    int
	headers http.Header
	body    []byte
}

// result is what the transfer's goroutine hands the loop.
type result struct {
	responses []response
	errCode   int
	errMsg    string
}

func (t *transfer) opt(name string, def glua.LValue) glua.LValue {
	if v, ok := t.options[name]; ok && v != glua.LNil {
		return v
	}
	return def
}

func (r *Runtime) httpFunctions() map[string]glua.LGFunction {
	legacy := func(name, method string, hasMethod, hasData bool) glua.LGFunction {
		return func(L *glua.LState) int {
			u, m, data, i := requestArgs(L, method, hasMethod, hasData)
			headers := L.Get(i)
			callback := L.Get(i + 2)
			flags := L.Get(i + 3)
			t := &transfer{r: r, legacy: true, name: name, options: map[string]glua.LValue{"fail_on_error": glua.LFalse}}
			if callback.Type() == glua.LTFunction {
				t.callback = callback
			}
			if ft, ok := flags.(*glua.LTable); ok {
				ft.ForEach(func(k, v glua.LValue) { t.options[k.String()] = v })
			}
			L.Push(glua.LNumber(t.start(L, m, u, data, headers)))
			return 1
		}
	}
	return map[string]glua.LGFunction{
		"url":       r.c4URL,
		"urlGet":    legacy("urlGet", "GET", false, false),
		"urlPost":   legacy("urlPost", "POST", false, true),
		"urlPut":    legacy("urlPut", "PUT", false, true),
		"urlDelete": legacy("urlDelete", "DELETE", false, false),
		"urlCustom": legacy("urlCustom", "", true, true),
		"urlCancel": func(L *glua.LState) int {
			t, ok := r.httpOf().running[int(L.CheckNumber(2))]
			if ok {
				t.abort()
			}
			L.Push(glua.LBool(ok))
			return 1
		},
		"urlCancelAll": func(L *glua.LState) int {
			ids := r.httpOf().tickets()
			out := L.NewTable()
			for _, id := range ids {
				r.httpOf().running[id].abort()
				out.Append(glua.LNumber(id))
			}
			L.Push(out)
			return 1
		},
		"urlGetTickets": func(L *glua.LState) int {
			out := L.NewTable()
			for _, id := range r.httpOf().tickets() {
				out.Append(glua.LNumber(id))
			}
			L.Push(out)
			return 1
		},
		"urlSetTimeout": func(L *glua.LState) int {
			if s := L.CheckNumber(2); s > 0 {
				r.httpOf().timeout = time.Duration(float64(s) * float64(time.Second))
			}
			return 0
		},
		// urlSetOption: out-of-range values are ignored, as documented.
		"urlSetOption": func(L *glua.LState) int {
			h := r.httpOf()
			switch name := L.CheckString(2); name {
			case "max_host_connections":
				if n, ok := L.Get(3).(glua.LNumber); ok && n >= 1 && n <= 5 {
					h.options[name] = n
				}
			case "pipelining":
				if b, ok := L.Get(3).(glua.LBool); ok {
					h.options[name] = b
				}
			}
			return 0
		},
		"urlGetOption": func(L *glua.LState) int {
			v, ok := r.httpOf().options[L.CheckString(2)]
			if !ok {
				v = glua.LNil
			}
			L.Push(v)
			return 1
		},
		"urlGetCookies": func(L *glua.LState) int {
			h := r.httpOf()
			out := L.NewTable()
			for _, d := range sortedKeys(h.jar) {
				if L.GetTop() >= 2 && L.Get(2) != glua.LNil && !strings.EqualFold(d, L.CheckString(2)) {
					continue
				}
				out.RawSetString(d, cookiesTable(L, h.jar[d]))
			}
			L.Push(out)
			return 1
		},
		"urlGetCookiesForDomain": func(L *glua.LState) int {
			L.Push(cookiesTable(L, r.httpOf().jar[strings.ToLower(L.CheckString(2))]))
			return 1
		},
		"urlClearCookies":        func(L *glua.LState) int { L.Push(glua.LNumber(r.httpOf().clearCookies(false))); return 1 },
		"urlClearSessionCookies": func(L *glua.LState) int { L.Push(glua.LNumber(r.httpOf().clearCookies(true))); return 1 },
	}
}

// requestArgs reads url[, method][, data] from argument 2 on (Custom
// names its method, Post and Put carry data) and returns the index of the
// next argument.
func requestArgs(L *glua.LState, method string, hasMethod, hasData bool) (u, m, data string, next int) {
	i := 2
	u = L.CheckString(i)
	i++
	m = method
	if hasMethod {
		m = strings.ToUpper(L.CheckString(i))
		if m == "" {
			L.ArgError(i, "an HTTP method is required")
		}
		i++
	}
	if hasData {
		data = L.OptString(i, "")
		i++
	}
	return u, m, data, i
}

func (h *httpState) tickets() []int {
	ids := make([]int, 0, len(h.running))
	for id := range h.running {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func cookiesTable(L *glua.LState, jar map[string]*cookie) *glua.LTable {
	out := L.NewTable()
	for _, name := range sortedKeys(jar) {
		c := jar[name]
		t := L.NewTable()
		t.RawSetString("domain", glua.LString(c.domain))
		t.RawSetString("path", glua.LString(c.path))
		t.RawSetString("name", glua.LString(c.name))
		t.RawSetString("value", glua.LString(c.value))
		t.RawSetString("secure", glua.LBool(c.secure))
		t.RawSetString("wildcard", glua.LBool(c.wildcard))
		t.RawSetString("expires", glua.LNumber(c.expires))
		out.RawSetString(name, t)
	}
	return out
}

func (h *httpState) clearCookies(sessionOnly bool) int {
	n := 0
	for d, byName := range h.jar {
		for name, c := range byName {
			if !sessionOnly || c.expires == 0 {
				delete(byName, name)
				n++
			}
		}
		if len(byName) == 0 {
			delete(h.jar, d)
		}
	}
	return n
}

// cookieHeader is the Cookie header for u from the jar.
func (h *httpState) cookieHeader(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	var parts []string
	for _, d := range sortedKeys(h.jar) {
		if host != d && !strings.HasSuffix(host, "."+d) {
			continue
		}
		for _, name := range sortedKeys(h.jar[d]) {
			c := h.jar[d][name]
			if strings.HasPrefix(u.Path, c.path) && (!c.secure || u.Scheme == "https") {
				parts = append(parts, c.name+"="+c.value)
			}
		}
	}
	return strings.Join(parts, "; ")
}

// keepCookies stores the Set-Cookie headers of a response.
func (h *httpState) keepCookies(u *url.URL, hdr http.Header) {
	resp := http.Response{Header: hdr}
	for _, c := range resp.Cookies() {
		domain := strings.ToLower(strings.TrimPrefix(c.Domain, "."))
		wildcard := c.Domain != ""
		if domain == "" {
			domain = strings.ToLower(u.Hostname())
		}
		path := c.Path
		if path == "" {
			path = "/"
		}
		var expires int64
		switch {
		case c.MaxAge < 0:
			expires = -1
		case c.MaxAge > 0:
			expires = time.Now().Unix() + int64(c.MaxAge)
		case !c.Expires.IsZero():
			expires = c.Expires.Unix()
		}
		if expires == -1 || (expires > 0 && expires <= time.Now().Unix()) {
			delete(h.jar[domain], c.Name)
			continue
		}
		if h.jar[domain] == nil {
			h.jar[domain] = map[string]*cookie{}
		}
		h.jar[domain][c.Name] = &cookie{domain: domain, path: path, name: c.Name, value: c.Value,
			secure: c.Secure, wildcard: wildcard, expires: expires}
	}
}

// c4URL is C4:url(): a transfer object whose setters chain.
func (r *Runtime) c4URL(L *glua.LState) int {
	t := &transfer{r: r, options: map[string]glua.LValue{}}
	t.ud = L.NewUserData()
	t.ud.Value = t
	self := func(L *glua.LState) *transfer {
		ud := L.CheckUserData(1)
		tt, ok := ud.Value.(*transfer)
		if !ok {
			L.ArgError(1, "a C4:url() object is expected (called with '.' instead of ':'?)")
		}
		return tt
	}
	chain := func(fn func(L *glua.LState, t *transfer)) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int {
			tt := self(L)
			fn(L, tt)
			L.Push(tt.ud)
			return 1
		})
	}
	setter := func(field *glua.LValue) *glua.LFunction {
		return chain(func(L *glua.LState, tt *transfer) { *field = L.CheckFunction(2) })
	}
	start := func(method string, hasMethod, hasData bool) *glua.LFunction {
		return chain(func(L *glua.LState, tt *transfer) {
			if tt.started {
				L.RaiseError("C4:url(): a transfer object cannot be started twice")
			}
			u, m, data, i := requestArgs(L, method, hasMethod, hasData)
			tt.name = "url:" + strings.ToUpper(m[:1]) + strings.ToLower(m[1:])
			tt.start(L, m, u, data, L.Get(i))
		})
	}
	methods := L.NewTable()
	for name, fn := range map[string]*glua.LFunction{
		"SetOption": chain(func(L *glua.LState, tt *transfer) { tt.options[L.CheckString(2)] = L.Get(3) }),
		"SetOptions": chain(func(L *glua.LState, tt *transfer) {
			L.CheckTable(2).ForEach(func(k, v glua.LValue) { tt.options[k.String()] = v })
		}),
		"OnHeaders":   setter(&t.onHeaders),
		"OnBodyChunk": setter(&t.onBodyChunk),
		"OnBody":      setter(&t.onBody),
		"OnDone":      setter(&t.onDone),
		"Get":         start("GET", false, false),
		"Post":        start("POST", false, true),
		"Put":         start("PUT", false, true),
		"Delete":      start("DELETE", false, false),
		"Custom":      start("", true, true),
		// DownloadFile(url, alias, filename[, headers]): the body goes to
		// a file under a path alias; only OnDone fires.
		"DownloadFile": chain(func(L *glua.LState, tt *transfer) {
			if tt.started {
				L.RaiseError("C4:url(): a transfer object cannot be started twice")
			}
			u := L.CheckString(2)
			fs, err := r.filesOf()
			var p string
			if err == nil {
				p, err = fs.aliasPath(L.CheckString(3), L.CheckString(4))
			}
			if err == nil {
				err = fs.writable(p)
			}
			tt.name = "url:DownloadFile"
			if err != nil {
				tt.started = true
				r.fileTrace(L, "url:DownloadFile", err)
				tt.finishLater(result{errCode: 23, errMsg: "Failed writing received data to disk: " + err.Error()})
				return
			}
			tt.download = p
			tt.start(L, "GET", u, "", L.Get(5))
		}),
		"Cancel": chain(func(L *glua.LState, tt *transfer) { tt.abort() }),
		"TicketId": L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LNumber(self(L).id))
			return 1
		}),
	} {
		methods.RawSetString(name, fn)
	}
	mt := L.NewTable()
	mt.RawSetString("__index", methods)
	L.SetMetatable(t.ud, mt)
	L.Push(t.ud)
	return 1
}

// start sends the request on a goroutine and returns the ticket id (0 when
// the runtime is closing).
func (t *transfer) start(L *glua.LState, method, rawURL, data string, headers glua.LValue) int {
	r := t.r
	h := r.httpOf()
	t.started = true
	hdr := http.Header{}
	if ht, ok := headers.(*glua.LTable); ok {
		ht.ForEach(func(k, v glua.LValue) { hdr.Set(k.String(), L.ToStringMeta(v).String()) })
	}
	h.nextID++
	t.id = h.nextID
	args := []any{method, rawURL, headerMap(hdr)}
	if data != "" {
		args = append(args, data)
	}
	r.trace.add(Entry{Client: "http", Kind: KindCall, Name: t.name, Args: args, Ret: []any{int64(t.id)}})

	req, err := http.NewRequest(method, rawURL, strings.NewReader(data))
	if err != nil {
		t.url = &url.URL{}
		t.finishLater(result{errCode: 3, errMsg: "URL using bad/illegal format or missing URL: " + err.Error()})
		return t.id
	}
	t.url = req.URL
	if data == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	// The controller's defaults: no User-Agent (an empty value keeps Go's
	// out), Accept */*, and one connection per transfer.
	req.Header = hdr
	if req.Header.Get("User-Agent") == "" {
		req.Header["User-Agent"] = []string{""}
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "*/*")
	}
	req.Close = true
	if glua.LVAsBool(t.opt("cookies_enable", glua.LFalse)) {
		if c := h.cookieHeader(req.URL); c != "" {
			req.Header.Set("Cookie", c)
		}
	}
	timeout := h.timeout
	if n, ok := t.opt("timeout", glua.LNil).(glua.LNumber); ok && n > 0 {
		timeout = time.Duration(float64(n) * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(h.ctx, timeout)
	t.cancel = cancel
	h.running[t.id] = t
	failOnError := glua.LVAsBool(t.opt("fail_on_error", glua.LTrue))
	limit := int64(-1)
	if method == "GET" {
		limit = 4194304
	}
	client := h.client
	if !r.ioOf().goIO(func() {
		res := fetch(ctx, client, req, failOnError, limit)
		cancel()
		r.post(func() { t.finish(res) })
	}) {
		cancel()
		delete(h.running, t.id)
		return 0
	}
	return t.id
}

// fetch runs the request and reads every response (redirects included).
func fetch(ctx context.Context, client *http.Client, req *http.Request, failOnError bool, limit int64) result {
	var res result
	c := *client
	c.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if resp := next.Response; resp != nil {
			res.responses = append(res.responses, response{code: resp.StatusCode, headers: resp.Header, body: []byte{}})
		}
		return client.CheckRedirect(next, via)
	}
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		res.errCode, res.errMsg = curlError(ctx, err)
		return res
	}
	defer resp.Body.Close()
	last := response{code: resp.StatusCode, headers: resp.Header}
	if failOnError && resp.StatusCode >= 400 {
		res.responses = append(res.responses, last)
		res.errCode, res.errMsg = 22, fmt.Sprintf("The requested URL returned error: %d", resp.StatusCode)
		return res
	}
	body := io.Reader(resp.Body)
	if limit > 0 {
		body = io.LimitReader(body, limit)
	}
	last.body, err = io.ReadAll(body)
	res.responses = append(res.responses, last)
	if err != nil {
		res.errCode, res.errMsg = curlError(ctx, err)
	}
	return res
}

// curlError maps a Go transport error to the curl code and message the
// controller's transfer reports.
func curlError(ctx context.Context, err error) (int, string) {
	var dns *net.DNSError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || os.IsTimeout(err):
		return 28, "Timeout was reached"
	case errors.Is(ctx.Err(), context.Canceled):
		return -1, "Transfer cancelled"
	case errors.As(err, &dns):
		return 6, "Couldn't resolve host name: " + dns.Name
	case errors.Is(err, syscall.ECONNREFUSED):
		return 7, "Couldn't connect to server"
	}
	return 56, "Failure when receiving data from the peer: " + err.Error()
}

// finishLater delivers a result that needs no goroutine (a bad URL, a
// refused download path).
func (t *transfer) finishLater(res result) {
	if t.id == 0 {
		h := t.r.httpOf()
		h.nextID++
		t.id = h.nextID
	}
	t.r.httpOf().running[t.id] = t
	t.cancel = func() {}
	t.r.post(func() { t.finish(res) })
}

// abort stops a running transfer. C4:url() objects still get OnDone with
// -1; legacy calls get nothing more, as urlCancel documents.
func (t *transfer) abort() {
	if t.done || !t.started {
		t.done = true
		return
	}
	t.cancel()
	if t.legacy {
		t.done = true
		delete(t.r.httpOf().running, t.id)
		t.r.trace.add(Entry{Client: "http", Kind: KindCall, Name: "urlCancel", Args: []any{int64(t.id)}})
		t.id = 0
		return
	}
	t.r.trace.add(Entry{Client: "http", Kind: KindCall, Name: "url:Cancel", Args: []any{int64(t.id)}})
	t.finish(result{errCode: -1, errMsg: "Transfer cancelled"})
}

// headersTable is a response's headers: the last value of each name, or
// every value in an array when response_headers_duplicates is set.
func headersTable(L *glua.LState, hdr http.Header, dups bool) *glua.LTable {
	t := L.NewTable()
	for name, vals := range hdr {
		if dups && len(vals) > 1 {
			arr := L.NewTable()
			for _, v := range vals {
				arr.Append(glua.LString(v))
			}
			t.RawSetString(name, arr)
			continue
		}
		t.RawSetString(name, glua.LString(vals[len(vals)-1]))
	}
	return t
}

func headerMap(hdr http.Header) map[string]any {
	out := map[string]any{}
	for k, v := range hdr {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

// finish runs on the loop: the callbacks in the documented order, then
// OnDone (or the legacy callback / ReceivedAsync), once.
func (t *transfer) finish(res result) {
	if t.done {
		return
	}
	t.done = true
	r := t.r
	h := r.httpOf()
	delete(h.running, t.id)
	id := t.id
	t.id = 0
	L := r.L
	if glua.LVAsBool(t.opt("cookies_enable", glua.LFalse)) && glua.LVAsBool(t.opt("cookies_save_to_jar", glua.LTrue)) {
		for _, resp := range res.responses {
			h.keepCookies(t.url, resp.headers)
		}
	}
	dups := glua.LVAsBool(t.opt("response_headers_duplicates", glua.LFalse))
	last := 0
	if n := len(res.responses); n > 0 {
		last = res.responses[n-1].code
	}
	r.trace.add(Entry{Client: "http", Kind: KindCallback, Name: t.name + " done", Args: []any{int64(id), int64(last), int64(res.errCode), res.errMsg}})
	if t.legacy {
		t.finishLegacy(L, id, res, dups)
		return
	}
	if t.download != "" {
		t.finishDownload(res)
		return
	}
	tables := L.NewTable()
	errCode, errMsg := res.errCode, res.errMsg
	aborted := false
	// call runs one callback; true when it asked to abort.
	call := func(name string, fn glua.LValue, args ...glua.LValue) bool {
		if fn == nil || fn == glua.LNil {
			return false
		}
		out, err := r.call("url:"+name, fn, append([]glua.LValue{t.ud}, args...)...)
		if err != nil {
			r.addAsyncError(err)
			return false
		}
		return len(out) > 0 && glua.LVAsBool(out[0])
	}
	for _, resp := range res.responses {
		rt := L.NewTable()
		rt.RawSetString("code", glua.LNumber(resp.code))
		rt.RawSetString("headers", headersTable(L, resp.headers, dups))
		tables.Append(rt)
		if aborted = call("OnHeaders", t.onHeaders, rt); aborted {
			break
		}
		if resp.body == nil {
			// The transfer failed before the body (fail_on_error, a
			// broken connection): no body callbacks.
			continue
		}
		if t.onBodyChunk != nil && t.onBodyChunk != glua.LNil {
			if len(resp.body) > 0 {
				if aborted = call("OnBodyChunk", t.onBodyChunk, rt, glua.LString(resp.body)); aborted {
					break
				}
			}
		} else {
			rt.RawSetString("body", glua.LString(resp.body))
		}
		if aborted = call("OnBody", t.onBody, rt); aborted {
			break
		}
	}
	if aborted {
		errCode, errMsg = -1, "Transfer aborted by a callback"
	}
	msg := glua.LValue(glua.LNil)
	if errCode != 0 {
		msg = glua.LString(errMsg)
	}
	call("OnDone", t.onDone, tables, glua.LNumber(errCode), msg)
}

// finishLegacy calls callback(ticketId, data, responseCode, tHeaders,
// strError), or the global ReceivedAsync with the same arguments.
func (t *transfer) finishLegacy(L *glua.LState, id int, res result, dups bool) {
	data, code := "", 0
	hdr := http.Header{}
	if n := len(res.responses); n > 0 {
		last := res.responses[n-1]
		data, code, hdr = string(last.body), last.code, last.headers
	}
	strErr := glua.LValue(glua.LNil)
	if res.errCode != 0 {
		strErr = glua.LString(res.errMsg)
	}
	args := []glua.LValue{glua.LNumber(id), glua.LString(data), glua.LNumber(code), headersTable(L, hdr, dups), strErr}
	var err error
	if t.callback != nil {
		_, err = t.r.call(t.name+" callback", t.callback, args...)
	} else {
		err = t.r.callGlobal("ReceivedAsync", args...)
	}
	if err != nil {
		t.r.addAsyncError(err)
	}
}

// finishDownload writes the body of a DownloadFile transfer and calls
// OnDone.
func (t *transfer) finishDownload(res result) {
	L := t.r.L
	tables := L.NewTable()
	for _, resp := range res.responses {
		rt := L.NewTable()
		rt.RawSetString("code", glua.LNumber(resp.code))
		rt.RawSetString("headers", headersTable(L, resp.headers, false))
		tables.Append(rt)
	}
	if res.errCode == 0 && len(res.responses) > 0 {
		if err := os.WriteFile(t.download, res.responses[len(res.responses)-1].body, 0o644); err != nil {
			res.errCode, res.errMsg = 23, "Failed writing received data to disk: "+err.Error()
		}
	}
	msg := glua.LValue(glua.LNil)
	if res.errCode != 0 {
		msg = glua.LString(res.errMsg)
	}
	if t.onDone == nil || t.onDone == glua.LNil {
		return
	}
	if _, err := t.r.call("url:OnDone", t.onDone, t.ud, tables, glua.LNumber(res.errCode), msg); err != nil {
		t.r.addAsyncError(err)
	}
}
