package main

// docker-compose.yml's broker service, started as compose would start it:
// its exact command line and environment, with bench.env.example's values,
// run by the built binary.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mqtthil/mqtthil/emulator"
)

type composeService struct {
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
}

// readEnvFile reads KEY=VALUE lines, as docker-compose --env-file does.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not KEY=VALUE", path, line)
		}
		env[k] = v
	}
	return env
}

var composeVar = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}`)

// interpolate substitutes ${VAR}, ${VAR:-default} and ${VAR:?message} as
// compose does; a missing :? variable fails the test with its message.
func interpolate(t *testing.T, s string, env map[string]string) string {
	t.Helper()
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		g := composeVar.FindStringSubmatch(m)
		v, ok := env[g[1]]
		switch {
		case ok && v != "":
			return v
		case g[2] == ":-":
			return g[3]
		case g[2] == ":?":
			t.Fatalf("compose would refuse to start: %s", g[3])
		}
		return ""
	})
}

// composeServices reads the services of docker-compose.yml in root.
func composeServices(t *testing.T, root string) map[string]composeService {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	return compose.Services
}

func TestComposeBrokerStarts(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	services := composeServices(t, root)
	broker, ok := services["broker"]
	if !ok || len(broker.Command) == 0 {
		t.Fatal("docker-compose.yml has no broker service with a command")
	}
	env := readEnvFile(t, filepath.Join(root, "bench.env.example"))
	// The runner reads its station from the repository's example station
	// folder (the file itself belongs to the station fixtures).
	runner := services["runner"]
	if !slices.Contains(runner.Volumes, "./fixtures/stations:/stations:ro") || !slices.Contains(runner.Command, "--station=/stations/${MQTTHIL_STATION:-example.yaml}") {
		t.Errorf("runner: volumes %q, command %q: want ./fixtures/stations mounted and example.yaml by default", runner.Volumes, runner.Command)
	}

	// Container paths are the volumes' host folders here: the plans from
	// the repository, the journal into a temporary folder.
	mounts := map[string]string{}
	for _, v := range broker.Volumes {
		parts := strings.Split(v, ":")
		host := filepath.Join(root, parts[0])
		if parts[1] == "/journal" {
			host = t.TempDir()
		}
		mounts[parts[1]] = host
	}
	args := make([]string, 0, len(broker.Command))
	for _, a := range broker.Command {
		a = interpolate(t, a, env)
		if k, v, ok := strings.Cut(a, "="); ok {
			// The published ports are fixed (1883, 1884, 8080) and may be
			// taken on a test machine: the port becomes 0, the host stays,
			// so a listener off loopback is still checked as compose runs it.
			if host, port, err := net.SplitHostPort(v); err == nil && port != "0" && !strings.HasPrefix(v, "/") {
				a = k + "=" + net.JoinHostPort(host, "0")
			}
			for cpath, hpath := range mounts {
				if rest, ok := strings.CutPrefix(v, cpath+"/"); ok {
					a = k + "=" + filepath.Join(hpath, rest)
				}
			}
		}
		args = append(args, a)
	}
	if _, err := os.Stat(filepath.Join(root, "fixtures", "plans", interpolate(t, "${MQTTHIL_PLAN:-lose-first-puback.yaml}", env))); err != nil {
		t.Fatalf("the plan compose names: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mqtthilBinary(t), args...)
	cmd.Env = os.Environ()
	for k, v := range broker.Environment {
		cmd.Env = append(cmd.Env, k+"="+interpolate(t, v, env))
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	api := ""
	for l := range lines {
		if v, ok := strings.CutPrefix(l, "api: http://"); ok {
			api = v
		}
		if l == "ready" {
			break
		}
	}
	if api == "" {
		err := <-exited
		t.Fatalf("mqtthil %s: exited (%v) before serving the API\n%s", strings.Join(args, " "), err, stderr.String())
	}
	go func() {
		for range lines {
		}
	}()
	_, port, _ := net.SplitHostPort(api)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%s/healthz", port))
	if err != nil {
		t.Fatal(err)
	}
	var h emulator.Health
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !h.DUTUp || h.Rules == 0 {
		t.Errorf("/healthz: %d %+v %v (want up with the plan's rules)", resp.StatusCode, h, err)
	}
	// The API's other endpoints want the token compose passes.
	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%s/faults", port))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /faults without the token: %d, want 401", resp.StatusCode)
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("stopping the broker: %v\n%s", err, stderr.String())
	}
}
