//go:build linux

package correlate

import (
	"testing"
	"time"

	"github.com/llmslo/slo/internal/monoclock"
)

// TestClockDrift checks Mono against CLOCK_MONOTONIC read directly, at the
// start and after a while: the error is bracketed by the two reads around
// time.Now and does not grow.
func TestClockDrift(t *testing.T) {
	c := NewClock()
	errAt := func() (lo, hi int64) {
		m0 := monoclock.Now()
		got := c.Mono(time.Now())
		m1 := monoclock.Now()
		return got - m1, got - m0 // the true offset lies in [lo, hi]
	}
	lo0, hi0 := errAt()
	const tol = int64(50 * time.Microsecond)
	if hi0 < -tol || lo0 > tol {
		t.Fatalf("Mono off by [%d,%d] ns at start", lo0, hi0)
	}
	for i := range 5 {
		time.Sleep(60 * time.Millisecond)
		lo, hi := errAt()
		if hi < -tol || lo > tol {
			t.Errorf("after %d sleeps Mono off by [%d,%d] ns (drift)", i+1, lo, hi)
		}
	}
	now := time.Now()
	if d := c.Mono(now.Round(0)) - c.Mono(now); d < -int64(time.Millisecond) || d > int64(time.Millisecond) {
		t.Errorf("wall-clock path differs from the monotonic path by %v", time.Duration(d))
	}
	if d := c.Wall(c.Mono(now)).Sub(now); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("Wall(Mono(t)) − t = %v", d)
	}
}

func TestClockAt(t *testing.T) {
	base := time.Now()
	c := NewClockAt(base, 5_000_000_000)
	if got := c.Mono(base.Add(1500 * time.Millisecond)); got != 6_500_000_000 {
		t.Errorf("Mono = %d, want 6500000000", got)
	}
}
