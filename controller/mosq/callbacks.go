//go:build libmosquitto

package mosq

/*
#include "mosq.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"

	"github.com/mqtthil/mqtthil/controller"
)

// The callbacks run on the client's network loop (inside a turn of mqh_loop)
// and only queue an event.

func clientOf(h C.uintptr_t) *Client {
	cl, _ := cgo.Handle(h).Value().(*Client)
	return cl
}

//export goOnConnect
func goOnConnect(h C.uintptr_t, rc C.int, flags C.int, props *C.mosquitto_property) {
	cl := clientOf(h)
	msg := C.GoString(C.mosquitto_reason_string(rc))
	if cl.protocol.Load() != 5 {
		msg = C.GoString(C.mosquitto_connack_string(rc))
	}
	cl.emit(controller.Event{Kind: controller.OnConnect, Reason: int(rc), Flags: int(flags), Message: msg, Props: goProps(props)})
}

//export goOnDisconnect
func goOnDisconnect(h C.uintptr_t, rc C.int, props *C.mosquitto_property) {
	cl := clientOf(h)
	msg := errString(int(rc))
	if rc >= 128 {
		msg = C.GoString(C.mosquitto_reason_string(rc))
	}
	cl.emit(controller.Event{Kind: controller.OnDisconnect, Reason: int(rc), Message: msg, Props: goProps(props)})
}

//export goOnPublish
func goOnPublish(h C.uintptr_t, mid C.int, rc C.int, props *C.mosquitto_property) {
	cl := clientOf(h)
	cl.emit(controller.Event{Kind: controller.OnPublish, MsgID: int(mid), Reason: int(rc), Message: C.GoString(C.mosquitto_reason_string(rc)), Props: goProps(props)})
}

//export goOnMessage
func goOnMessage(h C.uintptr_t, mid C.int, topic *C.char, payload unsafe.Pointer, n C.int, qos C.int, retain C.int, props *C.mosquitto_property) {
	cl := clientOf(h)
	ev := controller.Event{Kind: controller.OnMessage, MsgID: int(mid), QoS: int(qos), Retain: retain != 0, Props: goProps(props)}
	if topic != nil {
		ev.Topic = C.GoString(topic)
	}
	if n > 0 && payload != nil {
		ev.Payload = C.GoBytes(payload, n)
	}
	if qos == 0 {
		ev.MsgID = 0
	}
	cl.emit(ev)
}

//export goOnSubscribe
func goOnSubscribe(h C.uintptr_t, mid C.int, count C.int, granted *C.int, props *C.mosquitto_property) {
	cl := clientOf(h)
	var g []int
	if count > 0 && granted != nil {
		for _, v := range unsafe.Slice(granted, int(count)) {
			g = append(g, int(v))
		}
	}
	cl.emit(controller.Event{Kind: controller.OnSubscribe, MsgID: int(mid), Granted: g, Props: goProps(props)})
}

//export goOnUnsubscribe
func goOnUnsubscribe(h C.uintptr_t, mid C.int, props *C.mosquitto_property) {
	cl := clientOf(h)
	cl.emit(controller.Event{Kind: controller.OnUnsubscribe, MsgID: int(mid), Props: goProps(props)})
}

// liveContexts is how many C context structs exist.
func liveContexts() int { return int(C.mqh_live_contexts()) }

// cHeapInUse is the C heap's bytes in use (glibc mallinfo2).
func cHeapInUse() int64 { return int64(C.mqh_heap_in_use()) }

// libStrerror, libReasonString and libConnackString are libmosquitto's
// texts, for tests.
func libStrerror(code int) string { return C.GoString(C.mosquitto_strerror(C.int(code))) }

func libReasonString(code int) string { return C.GoString(C.mosquitto_reason_string(C.int(code))) }

func libConnackString(code int) string {
	return C.GoString(C.mosquitto_connack_string(C.int(code)))
}
