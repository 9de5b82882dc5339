package lab

import (
	"math"
	"runtime"
	"testing"
)

func TestForeignCores(t *testing.T) {
	n := float64(runtime.NumCPU())
	for _, tc := range []struct {
		name string
		a, b cpuSample
		want float64
	}{
		// 200 ticks over all CPUs, 100 busy, 40 of them ours: 60/200 of the CPUs.
		{"others busy", cpuSample{busy: 1000, total: 5000, own: 10}, cpuSample{busy: 1100, total: 5200, own: 50}, 0.3 * n},
		{"only us", cpuSample{busy: 0, total: 0, own: 0}, cpuSample{busy: 50, total: 100, own: 60}, 0},
		{"no time passed", cpuSample{total: 10}, cpuSample{total: 10}, 0},
	} {
		if got := foreignCores(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	s, err := sampleCPU()
	if err != nil {
		t.Skip("no /proc:", err)
	}
	if s.total == 0 || s.busy > s.total {
		t.Errorf("sample = %+v", s)
	}
}
