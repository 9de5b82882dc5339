//go:build linux

package correlate

import (
	"syscall"
	"time"
	"unsafe"
)

// clockMonotonic is CLOCK_MONOTONIC.
const clockMonotonic = 1

// monoNow reads CLOCK_MONOTONIC.
func monoNow() (int64, bool) {
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, false
	}
	return ts.Nano(), true
}

// pair returns a Go time and the CLOCK_MONOTONIC reading at the same
// instant, the best of a few tries (smallest bracket).
func pair() (time.Time, int64) {
	var best time.Time
	var bestMono int64
	gap := time.Duration(1 << 62)
	for range 5 {
		t0 := time.Now()
		m, ok := monoNow()
		t1 := time.Now()
		if !ok {
			break
		}
		if d := t1.Sub(t0); d < gap {
			gap, best, bestMono = d, t0.Add(d/2), m
		}
	}
	if best.IsZero() {
		now := time.Now()
		return now, 0
	}
	return best, bestMono
}
