package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Station files follow the credentials rule of `mqtthil broker`.
func TestStationCredentialsRule(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, err string
	}{
		{"control on loopback, anonymous", "control: {listen: 127.0.0.1:1884}\n", ""},
		{"control off loopback, anonymous", "control: {listen: 0.0.0.0:1884}\n", "control.listen 0.0.0.0:1884 is not on loopback"},
		{"control off loopback, credentials", "control: {listen: 0.0.0.0:1884, user: probe, password: pw}\n", ""},
		{"user without password", "control: {listen: 0.0.0.0:1884, user: probe}\n", "control.user needs control.password"},
		{"control off loopback, allowed", "allow_anonymous: true\ncontrol: {listen: 0.0.0.0:1884}\n", ""},
		{"dut off loopback", "control: {listen: 127.0.0.1:1884}\ndut: {listen: 0.0.0.0:0}\n", "dut.listen 0.0.0.0:0 is not on loopback"},
		{"dut off loopback, allowed", "allow_anonymous: true\ncontrol: {listen: 127.0.0.1:1884}\ndut: {listen: 0.0.0.0:0}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "station.yaml")
			if err := os.WriteFile(p, []byte("station_id: b\n"+tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadStation(p)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}
