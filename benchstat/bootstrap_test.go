package benchstat

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResampleQuantileMatchesSortedDraw(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for trial := range 500 {
		n := 1 + r.IntN(25)
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Round(r.NormFloat64() * 4)
		}
		slices.Sort(s)
		q := []float64{0, 0.01, 0.25, 0.5, 0.9, 0.99, 1}[r.IntN(7)]
		counts := make([]int, n)
		seed := r.Uint64()
		got := resampleQuantile(rand.New(rand.NewPCG(seed, 0)), s, counts, q)
		var draw []float64
		for i, c := range counts {
			for range c {
				draw = append(draw, s[i])
			}
		}
		if want := quantileSorted(draw, q); !closeRel(got, want, 1e-12) && math.Abs(got-want) > 1e-12 {
			t.Fatalf("trial %d: q=%v draw=%v: %v, want %v", trial, q, draw, got, want)
		}
	}
}

func TestBootstrapDeterministic(t *testing.T) {
	a := []float64{10, 11, 12, 10.5, 11.5, 10.2, 11.1, 10.9, 11.3, 10.7}
	b := []float64{11, 12, 13, 11.5, 12.5, 11.2, 12.1, 11.9, 12.3, 11.7}
	o := BootstrapOptions{Seed: 42, Resamples: 2000}
	r1, r2 := Bootstrap(a, b, o), Bootstrap(a, b, o)
	if diff := cmp.Diff(r1, r2); diff != "" {
		t.Fatalf("same seed, different results:\n%s", diff)
	}
	if r3 := Bootstrap(a, b, BootstrapOptions{Seed: 43, Resamples: 2000}); r3 == r1 {
		t.Error("different seeds gave identical intervals")
	}
	// Observed: medians 10.95 and 11.95.
	if !closeRel(r1.Ratio, 11.95/10.95, 1e-12) || !closeRel(r1.Diff, 1, 1e-12) {
		t.Errorf("observed ratio %v diff %v", r1.Ratio, r1.Diff)
	}
	if !(r1.RatioLo <= r1.Ratio && r1.Ratio <= r1.RatioHi) || !(r1.DiffLo <= r1.Diff && r1.Diff <= r1.DiffHi) {
		t.Errorf("interval does not contain the estimate: %+v", r1)
	}
	if !(r1.RatioLo > 1) {
		t.Errorf("b is clearly larger, ratio CI %v..%v should exclude 1", r1.RatioLo, r1.RatioHi)
	}
	if r1.Resamples != 2000 || r1.Confidence != 0.95 || r1.Quantile != 0.5 {
		t.Errorf("defaults: %+v", r1)
	}
}

func TestBootstrapEdgeCases(t *testing.T) {
	if r := Bootstrap(nil, []float64{1}, BootstrapOptions{}); !math.IsNaN(r.Ratio) || !math.IsNaN(r.DiffLo) {
		t.Errorf("empty: %+v", r)
	}
	// Base median 0: ratio undefined, difference fine.
	r := Bootstrap([]float64{0, 0, 0}, []float64{1, 1, 1}, BootstrapOptions{Resamples: 100})
	if !math.IsNaN(r.Ratio) || !math.IsNaN(r.RatioLo) || r.Diff != 1 || r.DiffLo != 1 || r.DiffHi != 1 {
		t.Errorf("zero base: %+v", r)
	}
	// Constant samples: degenerate intervals.
	r = Bootstrap([]float64{2, 2}, []float64{3, 3}, BootstrapOptions{Resamples: 100})
	if r.RatioLo != 1.5 || r.RatioHi != 1.5 {
		t.Errorf("constant: %+v", r)
	}
}

// TestBootstrapCoverage checks that the 95 % interval of the ratio of
// medians covers the true ratio in roughly 95 % of simulated experiments
// (log-normal noise, true ratio 1.05, 15 samples per side).
func TestBootstrapCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	r := rand.New(rand.NewPCG(15, 16))
	const trials = 300
	covered := 0
	for trial := range trials {
		a, b := make([]float64, 15), make([]float64, 15)
		for i := range a {
			a[i] = 100 * math.Exp(0.05*r.NormFloat64())
			b[i] = 105 * math.Exp(0.05*r.NormFloat64())
		}
		res := Bootstrap(a, b, BootstrapOptions{Resamples: 1000, Seed: uint64(trial)})
		if res.RatioLo <= 1.05 && 1.05 <= res.RatioHi {
			covered++
		}
	}
	// Percentile intervals of medians at n=15 run a little wide or narrow;
	// accept 88–99 %.
	if f := float64(covered) / trials; f < 0.88 || f > 0.99 {
		t.Errorf("coverage %.3f, want ≈ 0.95", f)
	}
}

func TestBootstrapPercentile(t *testing.T) {
	// b = 2a: the observed ratio of p99s is exactly 2 and the interval
	// (independent draws for a and b) must contain it.
	a := seq(1, 100)
	b := mapF(a, func(x float64) float64 { return 2 * x })
	res := Bootstrap(a, b, BootstrapOptions{Quantile: 0.99, Resamples: 500})
	if !closeRel(res.Ratio, 2, 1e-12) || res.Quantile != 0.99 {
		t.Errorf("p99 ratio %v", res.Ratio)
	}
	if !(res.RatioLo <= 2 && 2 <= res.RatioHi) {
		t.Errorf("p99 ratio CI %v..%v", res.RatioLo, res.RatioHi)
	}
}
