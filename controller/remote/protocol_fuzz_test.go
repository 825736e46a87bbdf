package remote

import (
	"os"
	"path/filepath"
	"testing"
)

// What the probe driver sends back over the control channel is outside
// input: a bench may run an old probe, a broken one or something that is
// not the probe at all. Responses and events must decode to an error or
// to a value, never a panic.
func FuzzProbeMessage(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"id":"3","ok":true,"result":{"code":0,"mid":7},"seq":4}`,
		`{"v":1,"type":"callback","seq":9,"boot":"b","obj":1,"cb":"onMessage","args":[3,{"hex":"6869"},"payload",1,true,{"CONTENT_TYPE":"x","USER_PROPERTY":[["k","v"]]}]}`,
		`{"v":1,"type":"callback","seq":1,"obj":1,"cb":"onSubscribe","args":[1,[0,1,128],{}]}`,
		`{"v":1,"type":"callback","cb":"onConnect","args":[1e999,-5,null,[]]}`,
		`{"v":1,"type":"hello","identity":{"probe_version":"1","device_id":[1]},"heartbeat_s":-1}`,
		`{"v":1,"type":"callback","cb":"onMessage","args":[1,{"hex":"zz"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r response
		_ = decode(data, &r)
		var into map[string]any
		_ = decode(r.Result, &into)
		_ = retOf([]any{into}, true)
		var ev event
		if decode(data, &ev) != nil {
			return
		}
		_, _ = toEvent(ev.CB, ev.Args)
	})
}

// A station file is written by a lab and read on every run.
func FuzzLoadStation(f *testing.F) {
	for _, p := range []string{"../../fixtures/stations/example.yaml", "../../fixtures/stations/pool/bench-1.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("virtual: true\n"))
	f.Add([]byte("station_id: s\ncontrol: {listen: '0.0.0.0:1884'}\ntimeout: -3s\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "station.yaml")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := LoadStation(file)
		if err != nil {
			return
		}
		_ = s.Config("127.0.0.1:1883")
	})
}
