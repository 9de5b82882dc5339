//go:build linux

package monoclock

import "golang.org/x/sys/unix"

// read reads CLOCK_MONOTONIC.
func read() (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, err
	}
	return ts.Nano(), nil
}
