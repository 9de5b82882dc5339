//go:build !race

package stream

import "testing"

// TestZeroAllocs checks that steady-state chunks allocate nothing, whether
// they arrive in one Write or are cut across Writes.
func TestZeroAllocs(t *testing.T) {
	for _, bc := range benchChunks {
		t.Run(bc.name, func(t *testing.T) {
			n := 0
			o := NewObserver(bc.ct, bc.hint, func(ev *Event) {
				if ev.Output {
					n++
				}
			}, Config{})
			o.Write([]byte(bc.prime))
			chunk := []byte(bc.chunk)
			o.Write(chunk)
			allocs := testing.AllocsPerRun(200, func() {
				o.Write(chunk)
				o.Write(chunk[:len(chunk)/3])
				o.Write(chunk[len(chunk)/3:])
			})
			if allocs != 0 {
				t.Errorf("%v allocs per chunk, want 0", allocs)
			}
			if n == 0 {
				t.Errorf("no output observed")
			}
		})
	}
}
