package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
)

// Broker is a broker under measurement.
type Broker struct {
	Name  string
	Addr  string
	close func() error
	// Emulator is set for the emulator in this process, so a run can check
	// its journal.
	Emulator *emulator.Broker
	// Pid is the broker's process when it runs in one of its own.
	Pid int
}

// Close stops the broker.
func (b *Broker) Close() error { return b.close() }

// IdleRules are ten armed rules that look at every PUBLISH and ack and act
// on none, so the emulator is measured with its rule matching at work.
func IdleRules() []faults.Rule {
	var rules []faults.Rule
	for i := range 5 {
		rules = append(rules,
			faults.Rule{Name: fmt.Sprintf("idle-publish-%d", i), Action: faults.Drop{},
				Match: faults.Match{Direction: faults.Both, Packets: []byte{3}, Topic: fmt.Sprintf("never/%d/+", i)}},
			faults.Rule{Name: fmt.Sprintf("idle-ack-%d", i), Action: faults.Drop{},
				Match: faults.Match{Direction: faults.ToClient, Packets: []byte{4, 5, 6, 7}, Client: fmt.Sprintf("nobody-%d-*", i)}})
	}
	return rules
}

// JournalCap is the emulator's journal cap in the bench: room for every
// record of a run a few seconds long (two to four records a message).
const JournalCap = 4 << 20

// StartEmulator starts the broker emulator with its journal on and the idle
// rules armed.
func StartEmulator(ctx context.Context) (*Broker, error) {
	e, err := emulator.Start(ctx, emulator.Options{Rules: IdleRules(), JournalCap: JournalCap})
	if err != nil {
		return nil, err
	}
	return &Broker{Name: "emulator", Addr: e.DUTAddr, close: e.Close, Emulator: e}, nil
}

// StartMochi starts mochi as it comes, with nothing of ours in the way:
// the emulator's baseline.
func StartMochi(context.Context) (*Broker, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := mqtt.New(&mqtt.Options{InlineClient: true, Capabilities: mqtt.NewDefaultServerCapabilities(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(allowAll), nil); err != nil {
		ln.Close()
		return nil, err
	}
	if err := s.AddListener(listeners.NewNet("bare", ln)); err != nil {
		ln.Close()
		return nil, err
	}
	if err := s.Serve(); err != nil {
		return nil, err
	}
	return &Broker{Name: "mochi", Addr: ln.Addr().String(), close: s.Close}, nil
}

type allowAll struct{ mqtt.HookBase }

func (*allowAll) ID() string { return "allow-all" }
func (*allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (*allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (*allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

// MosquittoPath finds Debian's mosquitto broker.
func MosquittoPath() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", errNoMosquitto
}

// StartMosquitto runs mosquitto on a free loopback port with a generated
// configuration, in dir, until Close.
func StartMosquitto(ctx context.Context, dir string) (*Broker, error) {
	bin, err := MosquittoPath()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "mosquitto.conf")
	// Limits lifted so that mosquitto, like mochi, queues rather than drops
	// under a burst.
	cfg := strings.Join([]string{
		"listener " + port + " 127.0.0.1",
		"allow_anonymous true",
		"persistence false",
		"max_inflight_messages 0",
		"max_queued_messages 0",
		"max_queued_bytes 0",
		"log_dest none",
		"set_tcp_nodelay true", // Go sets TCP_NODELAY on its sockets; so must the baseline
		"",
	}, "\n")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", conf)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start mosquitto: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		return nil
	}
	// Ready when it accepts a connection.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("mosquitto exited at start (%v): %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, fmt.Errorf("mosquitto did not listen on %s within 10s: %s", addr, stderr.String())
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return &Broker{Name: "mosquitto", Addr: addr, Pid: cmd.Process.Pid, close: stop}, nil
}
