// Messages mochi gives up on itself never reach the fault layer, so the
// journal would show a subscriber that simply did not get them. This file
// records each such loss as a journal record of kind "drop", saying which
// client lost which message and why.
package emulator

import (
	"context"
	"errors"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator/journal"
)

// dropRecorder writes drop records for clients of one listener.
type dropRecorder struct {
	journal  *journal.Journal
	listener string
	server   *mqtt.Server // set once the server exists, before it serves; its logger comes first
}

// record journals pk as lost on its way to cl.
func (d *dropRecorder) record(cl *mqtt.Client, pk *packets.Packet, cause string) {
	if cl == nil || cl.Net.Listener != d.listener {
		return
	}
	r := journal.Record{
		Kind: journal.KindDrop, Client: cl.ID, Dir: "to_client", Dropped: true, Cause: cause,
		Type: "PUBLISH", QoS: int(pk.FixedHeader.Qos), Retain: pk.FixedHeader.Retain,
		PacketID: int(pk.PacketID), Topic: pk.TopicName, PayloadSize: len(pk.Payload),
	}
	if pk.Payload != nil {
		r.PayloadHash = journal.HashPayload(pk.Payload)
	}
	if c, ok := cl.Net.Conn.(interface{ ID() uint64 }); ok {
		r.Conn = c.ID()
	}
	d.journal.Append(&r)
}

// dropHook sees the losses mochi has a hook for: an inflight message
// discarded because it expired or because its session ended.
type dropHook struct {
	mqtt.HookBase
	rec *dropRecorder
}

func (h *dropHook) ID() string { return "mqtthil-drops" }

func (h *dropHook) Provides(b byte) bool { return b == mqtt.OnQosDropped }

func (h *dropHook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	// mochi reports an expired message twice, the second time with only
	// its packet id; the first report, with the whole packet, is kept.
	// Acknowledgements dropped from the inflight store lose no message.
	if pk.FixedHeader.Type != packets.Publish {
		return
	}
	cause := "inflight message expired"
	if cl.Closed() {
		cause = "inflight message discarded with its session"
	}
	h.rec.record(cl, &pk, cause)
}

// dropLog sees the losses mochi has no hook for. mochi gives up on a
// message for a full inflight store ("client store quota reached"), a full
// outbound queue or a packet over the client's Maximum Packet Size, and
// then only logs it, at debug level, with the client and the packet: this
// handler sits in front of the broker's own log handler and turns those
// lines into drop records. Everything is passed on to the handler behind
// it as it was; it answers Enabled for debug lines so that mochi writes
// them at all.
type dropLog struct {
	next slog.Handler
	rec  *dropRecorder
}

// droppedMessages are mochi's log messages for a message given up on, and
// the errors in them that mean a loss (rather than, say, an ACL refusal).
var droppedMessages = map[string]bool{
	"failed publishing packet":           true,
	"failed to publish retained message": true,
}

var dropCauses = []struct {
	err   error
	cause string
}{
	{packets.ErrQuotaExceeded, "client store quota reached (inflight store full or packet ids exhausted)"},
	{packets.ErrPendingClientWritesExceeded, "outbound queue full"},
	{packets.ErrPacketTooLarge, "packet over the client's maximum packet size"},
}

func (h *dropLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l == slog.LevelDebug || h.next.Enabled(ctx, l)
}

func (h *dropLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelDebug && droppedMessages[r.Message] {
		h.observe(r)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *dropLog) observe(r slog.Record) {
	var err error
	var clientID string
	var pk *packets.Packet
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "error":
			err, _ = a.Value.Any().(error)
		case "client":
			clientID = a.Value.String()
		case "packet":
			switch v := a.Value.Any().(type) {
			case packets.Packet:
				pk = &v
			case *packets.Packet:
				pk = v
			}
		}
		return true
	})
	if err == nil || pk == nil || pk.FixedHeader.Type != packets.Publish {
		return
	}
	for _, c := range dropCauses {
		if errors.Is(err, c.err) {
			if h.rec.server == nil {
				return
			}
			cl, _ := h.rec.server.Clients.Get(clientID)
			h.rec.record(cl, pk, c.cause)
			return
		}
	}
}

func (h *dropLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &dropLog{next: h.next.WithAttrs(as), rec: h.rec}
}

func (h *dropLog) WithGroup(name string) slog.Handler {
	return &dropLog{next: h.next.WithGroup(name), rec: h.rec}
}
