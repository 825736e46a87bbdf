// The broker's log, made safe to keep and to read: no secrets in it, and
// no more lines than a person can read, whatever the clients do.
package emulator

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultLogRate is the number of log lines of one kind (level and
// message) let through per second when Options.LogRate is 0.
const DefaultLogRate = 20

// redactHandler keeps secrets out of log lines: the password of any MQTT
// packet a line carries (mochi logs whole packets, the password as a list
// of byte values), and every known secret wherever it shows, as text or as
// such a byte list.
type redactHandler struct {
	next    slog.Handler
	secrets []string // each secret as text and as fmt prints its bytes
}

func newRedactHandler(next slog.Handler, secrets []string) *redactHandler {
	h := &redactHandler{next: next}
	for _, s := range secrets {
		if s != "" {
			h.secrets = append(h.secrets, s, strings.Trim(fmt.Sprint([]byte(s)), "[]"))
		}
	}
	return h
}

const redacted = "[redacted]"

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = h.attr(a)
	}
	return &redactHandler{next: h.next.WithAttrs(clean), secrets: h.secrets}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.next.WithGroup(name), secrets: h.secrets}
}

func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, ga := range g {
			clean[i] = h.attr(ga)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		x := v.Any()
		switch pk := x.(type) {
		case packets.Packet:
			x = scrubPacket(pk)
		case *packets.Packet:
			if pk != nil {
				x = scrubPacket(*pk)
			}
		}
		if len(h.secrets) == 0 {
			return slog.Any(a.Key, x)
		}
		// Printed as the text handler would print it, then searched.
		s := fmt.Sprintf("%+v", x)
		if c := h.scrub(s); c != s {
			return slog.String(a.Key, c)
		}
		return slog.Any(a.Key, x)
	}
	return a
}

// scrubPacket is pk without its password (and its auth data, which may be
// one too).
func scrubPacket(pk packets.Packet) packets.Packet {
	if len(pk.Connect.Password) > 0 {
		pk.Connect.Password = []byte(redacted)
	}
	if len(pk.Properties.AuthenticationData) > 0 {
		pk.Properties.AuthenticationData = []byte(redacted)
	}
	return pk
}

func (h *redactHandler) scrub(s string) string {
	for _, secret := range h.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// rateHandler lets at most rate lines of one kind (level and message)
// through per second; the lines it holds back are counted and reported
// with the next line of that kind that goes through. A client can make
// mochi log a line per packet; the log must not grow as fast as the
// traffic.
type rateHandler struct {
	next  slog.Handler
	state *rateState
}

type rateState struct {
	rate int
	now  func() time.Time

	mu    sync.Mutex
	kinds map[string]*rateKind
}

type rateKind struct {
	window     time.Time // start of the current second
	n          int       // lines let through in it
	suppressed int       // lines held back since the last one let through
}

// maxKinds bounds the kinds tracked: messages are fixed strings, but a
// logger that put data in them must not grow the map without end.
const maxKinds = 1024

func newRateHandler(next slog.Handler, perSecond int) *rateHandler {
	return &rateHandler{next: next, state: &rateState{rate: perSecond, now: time.Now, kinds: map[string]*rateKind{}}}
}

func (h *rateHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *rateHandler) Handle(ctx context.Context, r slog.Record) error {
	suppressed, ok := h.state.admit(r.Level.String() + " " + r.Message)
	if !ok {
		return nil
	}
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.next.Handle(ctx, r)
}

func (h *rateHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &rateHandler{next: h.next.WithAttrs(as), state: h.state}
}

func (h *rateHandler) WithGroup(name string) slog.Handler {
	return &rateHandler{next: h.next.WithGroup(name), state: h.state}
}

// admit reports whether a line of kind goes through, and how many of its
// kind were held back before it.
func (s *rateState) admit(kind string) (int, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kinds[kind]
	if k == nil {
		if len(s.kinds) >= maxKinds {
			kind = "other"
			if k = s.kinds[kind]; k == nil {
				k = &rateKind{}
				s.kinds[kind] = k
			}
		} else {
			k = &rateKind{}
			s.kinds[kind] = k
		}
	}
	if now.Sub(k.window) >= time.Second {
		k.window, k.n = now, 0
	}
	if k.n >= s.rate {
		k.suppressed++
		return 0, false
	}
	k.n++
	n := k.suppressed
	k.suppressed = 0
	return n, true
}

// brokerLogger wraps the logger the options give in redaction and the
// rate limit.
func brokerLogger(opts Options) *slog.Logger {
	var secrets []string
	for _, creds := range []map[string]string{opts.DUTAuth, opts.ControlAuth} {
		for _, pass := range creds {
			secrets = append(secrets, pass)
		}
	}
	secrets = append(secrets, opts.APIToken)
	h := slog.Handler(newRedactHandler(opts.Logger.Handler(), secrets))
	rate := opts.LogRate
	if rate == 0 {
		rate = DefaultLogRate
	}
	if rate > 0 {
		h = newRateHandler(h, rate)
	}
	return slog.New(h)
}
