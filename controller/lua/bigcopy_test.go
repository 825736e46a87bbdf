package lua

import (
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
)

// A payload larger than MQTT can carry is refused by its length without
// being copied on its way through Lua: copied, its quarter gigabyte of
// fresh pages stalled the whole process for seconds. The heap must not
// grow by anything near the payload's size.
func TestOversizedPayloadIsNotCopied(t *testing.T) {
	c, err := controller.New("lua", controller.Options{KeepAliveUnit: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := c.NewClient("big", true)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, maxPayload+1)
	before := heapBytes()
	r := cl.Publish("home/t", payload, 0, false, nil)
	grew := int64(heapBytes()) - int64(before)
	if r.Code != controller.ErrPayloadSize {
		t.Errorf("Publish of %d bytes returned %+v, want %d", len(payload), r, controller.ErrPayloadSize)
	}
	if grew > maxPayload/4 {
		t.Errorf("the heap grew by %d bytes during the Publish of a %d-byte payload: it was copied", grew, len(payload))
	}
}

// Payloads MQTT can carry are copied, so the caller may reuse its buffer.
func TestPayloadCopies(t *testing.T) {
	b := []byte("abc")
	s := stringOf(b)
	b[0] = 'x'
	if s != "abc" {
		t.Errorf("stringOf shares a small payload's bytes: %q", s)
	}
	back := bytesOf(s)
	back[0] = 'y'
	if s != "abc" {
		t.Errorf("bytesOf shares a small payload's bytes: %q", s)
	}
}
