//go:build !linux

package monoclock

import "errors"

// read reports that there is no CLOCK_MONOTONIC to read.
func read() (int64, error) { return 0, errors.ErrUnsupported }
