//go:build linux

package monoclock

import (
	"testing"
	"time"
)

// TestNowAdvances checks that Now follows the Go monotonic clock: the time
// between two readings equals, within the brackets, the Go time between
// them.
func TestNowAdvances(t *testing.T) {
	g0 := time.Now()
	m0 := Now()
	time.Sleep(20 * time.Millisecond)
	m1 := Now()
	g1 := time.Now()
	inner := time.Duration(m1 - m0) // contained in [g0, g1]
	if inner < 20*time.Millisecond || inner > g1.Sub(g0) {
		t.Errorf("Now advanced %v over a sleep of 20ms; Go time around it %v", inner, g1.Sub(g0))
	}
}

// TestPair checks the pair against readings taken before and after it: the
// Go time's position between them matches the CLOCK_MONOTONIC one.
func TestPair(t *testing.T) {
	before := Now()
	g0 := time.Now()
	pt, pm, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	g1 := time.Now()
	after := Now()
	if pm < before || pm > after {
		t.Fatalf("pair reading %d outside [%d, %d]", pm, before, after)
	}
	if pt.Before(g0) || pt.After(g1) {
		t.Fatalf("pair time %v outside [%v, %v]", pt, g0, g1)
	}
	// Now − pm must equal the Go time since pt, up to the readings' own
	// brackets (a few µs; 1 ms leaves room for preemption).
	g := time.Now()
	m := Now()
	if d := time.Duration(m-pm) - g.Sub(pt); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("clocks disagree by %v after pairing", d)
	}
}

// TestWallOffset checks that a reading converts to the wall time of its
// instant.
func TestWallOffset(t *testing.T) {
	off, err := WallOffset()
	if err != nil {
		t.Fatal(err)
	}
	w0 := time.Now().Round(0)
	m := Now()
	w1 := time.Now().Round(0)
	wall := time.Unix(0, m+off)
	if wall.Before(w0.Add(-time.Millisecond)) || wall.After(w1.Add(time.Millisecond)) {
		t.Errorf("wall time of a reading %v outside [%v, %v] ± 1ms", wall, w0, w1)
	}
}
