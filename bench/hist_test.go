package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistBucketsCoverEveryValue(t *testing.T) {
	// Every value lands in a bucket whose top is at or above it, and the
	// bucket below ends below it: buckets neither overlap nor leave gaps.
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<40 + 12345, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		i := histBucket(v)
		if i < 0 || i >= len(Hist{}.counts) {
			t.Fatalf("value %d: bucket %d out of range", v, i)
		}
		if up := histUpper(i); up < v {
			t.Errorf("value %d in bucket %d whose top is %d", v, i, up)
		}
		if i > 0 && histUpper(i-1) >= v {
			t.Errorf("value %d in bucket %d, but bucket %d already reaches %d", v, i, i-1, histUpper(i-1))
		}
	}
}

func TestHistQuantileAgainstSortedSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		draw func() time.Duration
		n    int
	}{
		{"small exact values", func() time.Duration { return time.Duration(r.IntN(100)) }, 1000},
		{"latencies around a millisecond", func() time.Duration { return time.Duration(r.NormFloat64()*2e5 + 1e6) }, 300000},
		{"long tail", func() time.Duration { return time.Duration(r.ExpFloat64() * 5e6) }, 50000},
		{"one sample", func() time.Duration { return 42 * time.Millisecond }, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h Hist
			s := make([]time.Duration, 0, c.n)
			for range c.n {
				d := max(c.draw(), 0)
				h.Add(d)
				s = append(s, d)
			}
			slices.Sort(s)
			if h.Count() != c.n {
				t.Fatalf("count %d, want %d", h.Count(), c.n)
			}
			for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999} {
				want := s[int(float64(len(s))*q)]
				got := h.Quantile(q)
				if got < want || float64(got) > float64(want)*(1+1.0/histSub)+1 {
					t.Errorf("q %.3f: %v, want %v to %v above it", q, got, want, time.Duration(float64(want)/histSub))
				}
			}
		})
	}
	var empty Hist
	if empty.Quantile(0.99) != 0 {
		t.Errorf("empty histogram's p99 is %v", empty.Quantile(0.99))
	}
}
