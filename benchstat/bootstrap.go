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
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	ratios := make([]float64, 0, o.Resamples)
	diffs := make([]float64, 0, o.Resamples)
	for range o.Resamples {
		for i := range ra {
			ra[i] = a[rng.IntN(len(a))]
		}
		for i := range rb {
			rb[i] = b[rng.IntN(len(b))]
		}
		slices.Sort(ra)
		slices.Sort(rb)
		xa, xb := quantileSorted(ra, o.Quantile), quantileSorted(rb, o.Quantile)
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
