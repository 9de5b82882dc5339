package benchstat

import (
	"math"
	"math/rand/v2"
	"slices"
)

// BootstrapOptions configures [Bootstrap]. The zero value is usable: the
// median, 10 000 resamples, 95 % confidence, seed 0.
type BootstrapOptions struct {
	// Quantile is the statistic compared: the q-quantile of each sample
	// (see [Quantile]). 0 means the median (0.5); use e.g. 0.99 for p99.
	Quantile float64
	// Resamples is the number of bootstrap replicates. 0 means 10 000.
	Resamples int
	// Confidence is the level of the percentile intervals. 0 means 0.95.
	Confidence float64
	// Seed seeds the PCG generator (math/rand/v2), so results are
	// deterministic for a given input and seed. 0 is a valid seed.
	Seed uint64
}

func (o BootstrapOptions) withDefaults() BootstrapOptions {
	if o.Quantile <= 0 || o.Quantile > 1 {
		o.Quantile = 0.5
	}
	if o.Resamples <= 0 {
		o.Resamples = 10000
	}
	if o.Confidence <= 0 || o.Confidence >= 1 {
		o.Confidence = 0.95
	}
	return o
}

// BootstrapResult holds percentile-bootstrap confidence intervals of the
// ratio and the difference of one quantile of two samples.
//
// The zero value means "not computed".
type BootstrapResult struct {
	// Quantile is the compared quantile (0.5 for the median).
	Quantile float64
	// Ratio is Quantile(b)/Quantile(a) on the observed samples; RatioLo
	// and RatioHi bound its bootstrap confidence interval. Replicates where
	// the quantile of a is 0 are skipped; Ratio is NaN when the observed
	// one is.
	Ratio, RatioLo, RatioHi float64
	// Diff is Quantile(b) − Quantile(a); DiffLo and DiffHi bound its
	// bootstrap confidence interval.
	Diff, DiffLo, DiffHi float64
	// Confidence is the nominal level of both intervals.
	Confidence float64
	// Resamples is the number of replicates drawn.
	Resamples int
}

// Bootstrap resamples a and b independently with replacement and returns
// percentile confidence intervals of the ratio and the difference of their
// o.Quantile quantiles (b relative to a). It is deterministic for a given
// input and o.Seed. With an empty a or b every field but Quantile,
// Confidence and Resamples is NaN. Inputs are not modified.
func Bootstrap(a, b []float64, o BootstrapOptions) BootstrapResult {
	o = o.withDefaults()
	res := BootstrapResult{Quantile: o.Quantile, Confidence: o.Confidence, Resamples: o.Resamples}
	nan := math.NaN()
	if len(a) == 0 || len(b) == 0 {
		res.Ratio, res.RatioLo, res.RatioHi = nan, nan, nan
		res.Diff, res.DiffLo, res.DiffHi = nan, nan, nan
		return res
	}
	qa, qb := Quantile(a, o.Quantile), Quantile(b, o.Quantile)
	res.Diff = qb - qa
	res.Ratio = nan
	if qa != 0 {
		res.Ratio = qb / qa
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	// A resample of a sorted sample is described by how many times each
	// value is drawn; its order statistics follow from the cumulative
	// counts, so no replicate needs sorting.
	sa, sb := sortedCopy(a), sortedCopy(b)
	ca, cb := make([]int, len(a)), make([]int, len(b))
	ratios := make([]float64, 0, o.Resamples)
	diffs := make([]float64, 0, o.Resamples)
	for range o.Resamples {
		xa := resampleQuantile(rng, sa, ca, o.Quantile)
		xb := resampleQuantile(rng, sb, cb, o.Quantile)
		diffs = append(diffs, xb-xa)
		if xa != 0 {
			ratios = append(ratios, xb/xa)
		}
	}
	alpha := (1 - o.Confidence) / 2
	slices.Sort(diffs)
	res.DiffLo, res.DiffHi = percentileSorted(diffs, alpha), percentileSorted(diffs, 1-alpha)
	res.RatioLo, res.RatioHi = nan, nan
	if len(ratios) > 0 {
		slices.Sort(ratios)
		res.RatioLo, res.RatioHi = percentileSorted(ratios, alpha), percentileSorted(ratios, 1-alpha)
	}
	return res
}

// resampleQuantile draws len(s) values from the ascending s with
// replacement and returns the R8 q-quantile of the draw (as
// quantileSorted would on the sorted draw). counts is scratch space of
// len(s).
func resampleQuantile(rng *rand.Rand, s []float64, counts []int, q float64) float64 {
	clear(counts)
	for range s {
		counts[rng.IntN(len(s))]++
	}
	n := len(s)
	// The order statistics quantileSorted needs: k (1-based) and k+1.
	var k int
	var frac float64
	switch {
	case q <= 0:
		k, frac = 1, 0
	case q >= 1:
		k, frac = n, 0
	default:
		h := 1/3.0 + q*(float64(n)+1/3.0)
		kf, f := math.Modf(h)
		k, frac = int(kf), f
		if k <= 0 {
			k, frac = 1, 0
		} else if k >= n {
			k, frac = n, 0
		}
	}
	lo := orderStat(s, counts, k)
	if frac == 0 {
		return lo
	}
	return lo + frac*(orderStat(s, counts, k+1)-lo)
}

// orderStat returns the k-th smallest (1-based) value of the draw given by
// counts over the ascending s.
func orderStat(s []float64, counts []int, k int) float64 {
	cum := 0
	for i, c := range counts {
		cum += c
		if cum >= k {
			return s[i]
		}
	}
	return s[len(s)-1]
}

// percentileSorted is the linear-interpolation (R7) percentile of the
// bootstrap replicates, the usual choice for percentile intervals.
func percentileSorted(s []float64, p float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	h := p * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}
