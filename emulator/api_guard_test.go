package emulator_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
)

// send makes one request with the headers given ("Host" sets the Host).
func send(t *testing.T, base, method, path, body string, headers map[string]string) apiResp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return apiResp{resp.StatusCode, resp.Header, data}
}

const dropRule = `{"name":"x","match":{"packet":"PUBACK"},"drop":{}}`

// Requests a web page could make from another site are refused: a form
// post (text/plain), a fetch carrying the page's Origin, a page reached
// through a rebound DNS name.
func TestAPIRefusesCrossSite(t *testing.T) {
	b, srv := apiBroker(t, emulator.Options{})
	json := map[string]string{"Content-Type": "application/json"}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
		want    string
	}{
		{"form post", map[string]string{"Content-Type": "text/plain"}, 415, "POST bodies are application/json"},
		{"urlencoded", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "POST bodies"},
		{"no content type", nil, 415, "POST bodies"},
		{"foreign origin", map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, 403, "cross-site"},
		{"fetch metadata", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403, "cross-site"},
		{"rebound host", map[string]string{"Content-Type": "application/json", "Host": "evil.example:8080"}, 403, "Host"},
	} {
		r := send(t, srv.URL, "POST", "/faults", dropRule, tc.headers)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: status %d %s, want %d and %q", tc.name, r.status, r.body, tc.status, tc.want)
		}
	}
	if n := b.Faults.Len(); n != 0 {
		t.Fatalf("%d rules armed by refused requests", n)
	}
	send(t, srv.URL, "POST", "/faults", dropRule, json).expect(t, 201, "")
	same := map[string]string{"Content-Type": "application/json", "Origin": srv.URL}
	send(t, srv.URL, "POST", "/faults", strings.Replace(dropRule, `"x"`, `"y"`, 1), same).expect(t, 201, "")
}

func TestAPIToken(t *testing.T) {
	b, srv := apiBroker(t, emulator.Options{APIToken: "s3cret"})
	json := map[string]string{"Content-Type": "application/json"}
	send(t, srv.URL, "POST", "/faults", dropRule, json).expect(t, 401, "API token")
	send(t, srv.URL, "GET", "/faults", "", map[string]string{"Authorization": "Bearer wrong"}).expect(t, 401, "API token")
	send(t, srv.URL, "GET", "/healthz", "", nil).expect(t, 200, "")
	json["Authorization"] = "Bearer s3cret"
	json["Host"] = "broker:8080" // with a token, any Host name will do
	send(t, srv.URL, "POST", "/faults", dropRule, json).expect(t, 201, "")
	if !b.Faults.Has("x") {
		t.Error("the rule posted with the token is not armed")
	}
}

// POST /faults takes a fault plan in YAML; its seed is its rules' seed.
func TestAPIPostsYAMLPlan(t *testing.T) {
	b, srv := apiBroker(t, emulator.Options{Seed: 5})
	plan := "seed: 42\nrules:\n  - name: lose-ack\n    match: {direction: to_client, packet: PUBACK, nth: 1}\n    drop: {}\n  - name: slow\n    match: {packet: PUBLISH}\n    delay: {duration: 20ms}\n"
	for _, ct := range []string{"application/yaml", "text/yaml"} {
		b.Faults.Reset()
		send(t, srv.URL, "POST", "/faults", plan, map[string]string{"Content-Type": ct}).expect(t, 201, "")
		list := b.Faults.List()
		if len(list) != 2 || list[0].Rule.Name != "lose-ack" || list[0].Rule.Seed == nil || *list[0].Rule.Seed != 42 {
			t.Errorf("%s: armed %+v", ct, list)
		}
	}
	r := send(t, srv.URL, "POST", "/faults", "rules:\n  - name: bad\n    delay: {duration: soon}\n", map[string]string{"Content-Type": "application/yaml"})
	r.expect(t, 400, "duration")
}

func TestAPILimits(t *testing.T) {
	b, srv := apiBroker(t, emulator.Options{FaultLimits: faults.Limits{MaxRules: 2}})
	json := map[string]string{"Content-Type": "application/json"}
	r := send(t, srv.URL, "POST", "/faults", `{"name":"d","delay":{"duration":"1000000h"}}`, json)
	r.expect(t, 400, "longer than the limit of 1h0m0s")
	var e struct{ Field string }
	r.decode(t, &e)
	if e.Field != "delay.duration" {
		t.Errorf("error names field %q, want delay.duration", e.Field)
	}
	send(t, srv.URL, "POST", "/broker/restart", `{"down_for":"2h"}`, json).expect(t, 400, "longer than the limit")
	batch := `{"rules":[{"name":"a","drop":{}},{"name":"b","drop":{}},{"name":"c","drop":{}}]}`
	send(t, srv.URL, "POST", "/faults", batch, json).expect(t, 409, "limit is 2")
	if n := b.Faults.Len(); n != 0 {
		t.Errorf("a refused batch armed %d rules", n)
	}
}
