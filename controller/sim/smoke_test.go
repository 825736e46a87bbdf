package sim_test

import (
	"testing"

	"github.com/mqtthil/mqtthil/controller"
)

func TestSmokeQoS012(t *testing.T) {
	for _, v := range []int{3, 311, 5} {
		t.Run(map[int]string{3: "v31", 311: "v311", 5: "v5"}[v], func(t *testing.T) {
			x := start(t, setup{version: v})
			for qos := 0; qos <= 2; qos++ {
				mid := x.pub("a/b", "hello", qos, false, nil)
				ev := x.onPublish(mid)
				if ev.Reason != 0 {
					t.Fatalf("qos %d: onPublish reason %d", qos, ev.Reason)
				}
			}
			r := x.c.Subscribe("s/#", 2, nil)
			x.ok(r, "Subscribe")
			x.waitEv(controller.Is(controller.OnSubscribe, r.MsgID), 1)
			for qos := 0; qos <= 2; qos++ {
				x.pub("s/x", "m", qos, false, nil)
			}
			msgs := x.waitEv(controller.Is(controller.OnMessage, 0), 3)
			for i, m := range msgs {
				if m.QoS != i || m.Topic != "s/x" || string(m.Payload) != "m" {
					t.Fatalf("message %d: %+v", i, m)
				}
			}
			u := x.c.Unsubscribe("s/#", nil)
			x.ok(u, "Unsubscribe")
			x.waitEv(controller.Is(controller.OnUnsubscribe, u.MsgID), 1)
			x.ok(x.c.Disconnect(nil), "Disconnect")
			ev := x.waitEv(controller.Is(controller.OnDisconnect, 0), 1)[0]
			if ev.Reason != 0 {
				t.Fatalf("onDisconnect %d", ev.Reason)
			}
		})
	}
}
