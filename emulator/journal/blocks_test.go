package journal

import (
	"reflect"
	"runtime"
	"testing"
	"time"
)

// TestStoredHoldsNoPointers guards the blocks outside the collected heap:
// a pointer kept there would be invisible to the collector.
func TestStoredHoldsNoPointers(t *testing.T) {
	typ := reflect.TypeFor[stored]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		switch f.Type.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			t.Errorf("stored.%s is a %s: records outside the collected heap must hold plain numbers only", f.Name, f.Type)
		}
	}
}

// TestBlocksGoBack fills a journal past several blocks, resets it and
// fills it again, then drops it: the records read back must be the ones
// added each time, and the blocks must be given back (Reset, and the
// cleanup once the journal is gone).
func TestBlocksGoBack(t *testing.T) {
	base := mappedBlocks.Load()
	j := New(0)
	for round := range 2 {
		n := 3*chunkLen + 17
		for i := range n {
			j.Add(Record{Kind: KindPacket, Client: "c", Topic: "t", PacketID: i%65535 + 1, Size: round})
		}
		recs := j.Records(Filter{})
		if len(recs) != n {
			t.Fatalf("round %d: %d records, want %d", round, len(recs), n)
		}
		for i, r := range recs {
			if r.PacketID != i%65535+1 || r.Size != round || r.Client != "c" {
				t.Fatalf("round %d: record %d reads back as %+v", round, i, r)
			}
		}
		if got := j.recs.nblocks(); got != 4 {
			t.Fatalf("round %d: %d blocks for %d records, want 4", round, got, n)
		}
		if canMap && mappedBlocks.Load() != base+4 {
			t.Fatalf("round %d: %d blocks mapped, want %d", round, mappedBlocks.Load(), base+4)
		}
		j.Reset()
		if mappedBlocks.Load() != base || j.Stats().Kept != 0 {
			t.Fatalf("round %d: after Reset %d blocks mapped (want %d) and %d records kept", round, mappedBlocks.Load(), base, j.Stats().Kept)
		}
	}
	for range 2 * chunkLen {
		j.Add(Record{Kind: KindPacket})
	}
	runtime.KeepAlive(j)
	j = nil
	for range 100 {
		runtime.GC()
		if mappedBlocks.Load() == base {
			return
		}
		time.Sleep(time.Millisecond) // the cleanup runs on a goroutine of the runtime's
	}
	t.Errorf("a journal nobody can reach still holds %d blocks", mappedBlocks.Load()-base)
}
