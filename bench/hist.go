package bench

import (
	"math/bits"
	"time"
)

// Hist counts durations in buckets a sixty-fourth of a power of two wide:
// a quantile read from it is never below the true one and at most 1.6 %
// above it, in 30 KB however many samples it holds. The client benches
// (Publish, Scale) count hundreds of thousands of answers in the process
// whose memory the scale run measures; a slice of their latencies, doubled
// as it grew, was megabytes of that measure.
type Hist struct {
	counts [histExact + histSub*(64-histExp)]uint64
	n      uint64
}

const (
	histExp   = 7              // values below 1<<histExp are counted exactly
	histExact = 1 << histExp   // their buckets
	histSub   = histExact >> 1 // buckets per power of two above them
)

// bucket is where v is counted.
func histBucket(v uint64) int {
	if v < histExact {
		return int(v)
	}
	shift := bits.Len64(v) - histExp // ≥ 1; v>>shift is in [histSub, 2*histSub)
	return histExact + (shift-1)*histSub + int(v>>shift) - histSub
}

// histUpper is the largest value counted in bucket i.
func histUpper(i int) uint64 {
	if i < histExact {
		return uint64(i)
	}
	shift := (i-histExact)/histSub + 1
	m := uint64((i-histExact)%histSub + histSub)
	return (m+1)<<shift - 1
}

// Add counts d; a negative d counts as 0.
func (h *Hist) Add(d time.Duration) {
	h.counts[histBucket(uint64(max(d, 0)))]++
	h.n++
}

// Count is how many durations were added.
func (h *Hist) Count() int { return int(h.n) }

// Quantile is the duration at the q quantile (0 ≤ q < 1) as a sorted slice
// s of the samples would give it at s[len(s)*q], rounded up to the top of
// its bucket; 0 when empty.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(float64(h.n)*q) + 1 // 1-based
	rank = min(rank, h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(histUpper(i))
		}
	}
	return time.Duration(histUpper(len(h.counts) - 1))
}
