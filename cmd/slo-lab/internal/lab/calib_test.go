package lab

import (
	"testing"
	"time"
)

func TestQuantiles(t *testing.T) {
	var v []float64
	for i := 100; i >= 1; i-- { // 1..100, unsorted
		v = append(v, float64(i))
	}
	if got := quantiles(v); got != (Quantiles{P50: 50, P90: 90, P99: 99, Max: 100}) {
		t.Errorf("quantiles = %+v", got)
	}
}

func TestThresholdsFrom(t *testing.T) {
	for _, tc := range []struct {
		ttft, tpot Quantiles
		want       Thresholds
	}{
		// Twice the median wins: 2 × 77 = 154 → 160 ms; 2 × 5.6 = 11.2 → 12 ms.
		{Quantiles{P50: 77, P99: 114}, Quantiles{P50: 5.6, P99: 5.8}, Thresholds{Duration(160 * time.Millisecond), Duration(12 * time.Millisecond)}},
		// A long tail wins: 408 + 20 = 428 → 430 ms; 9.5 + 1 = 10.5 → 11 ms.
		{Quantiles{P50: 200, P99: 408}, Quantiles{P50: 5, P99: 9.5}, Thresholds{Duration(430 * time.Millisecond), Duration(11 * time.Millisecond)}},
	} {
		if got := thresholdsFrom(tc.ttft, tc.tpot); got != tc.want {
			t.Errorf("thresholdsFrom(%+v, %+v) = %v/%v, want %v/%v", tc.ttft, tc.tpot, got.TTFT.D(), got.TPOT.D(), tc.want.TTFT.D(), tc.want.TPOT.D())
		}
	}
	cal := Calibration{Thresholds: Thresholds{Duration(time.Second), Duration(time.Millisecond)}, TTFT: Quantiles{P50: 76.6}}
	if got := cal.thresholds(Workload{TightTTFT: true}); got.TTFT.D() != 77*time.Millisecond || got.TPOT.D() != time.Millisecond {
		t.Errorf("a tight TTFT objective sits at the healthy median: %v", got.TTFT.D())
	}
	if got := cal.thresholds(Workload{TTFTThreshold: Duration(300 * time.Millisecond)}); got.TTFT.D() != 300*time.Millisecond || got.TPOT.D() != time.Millisecond {
		t.Errorf("a workload's own threshold wins: %+v", got)
	}
}
