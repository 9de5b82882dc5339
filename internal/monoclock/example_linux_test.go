//go:build linux

package monoclock_test

import (
	"fmt"
	"time"

	"github.com/llmslo/slo/internal/monoclock"
)

// A CLOCK_MONOTONIC reading (a BPF timestamp, say) converts to wall time
// with the offset.
func ExampleWallOffset() {
	off, err := monoclock.WallOffset()
	if err != nil {
		fmt.Println("no CLOCK_MONOTONIC here")
		return
	}
	mono := monoclock.Now()
	wall := time.Unix(0, mono+off)
	fmt.Println(time.Since(wall) < time.Second)
	// Output: true
}
