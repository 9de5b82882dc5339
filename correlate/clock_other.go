//go:build !linux

package correlate

import "time"

// pair returns the current time and 0: without CLOCK_MONOTONIC, Mono
// values count from the Clock's creation.
func pair() (time.Time, int64) { return time.Now(), 0 }
