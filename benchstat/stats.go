package benchstat

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/combin"
	"gonum.org/v1/gonum/stat/distuv"
)

// ErrNoSamples is returned by the statistics that need at least one value in
// each sample.
var ErrNoSamples = errors.New("benchstat: empty sample")

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of xs, using the
// approximately median-unbiased estimator R8 of Hyndman and Fan (1996),
// the one x/perf benchmath uses. For q = 0.5 it is the usual median (the
// mean of the two middle values when len(xs) is even). xs need not be
// sorted and is not modified. It returns NaN for an empty xs.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := sortedCopy(xs)
	return quantileSorted(s, q)
}

// Median returns the median of xs: [Quantile](xs, 0.5).
func Median(xs []float64) float64 { return Quantile(xs, 0.5) }

func sortedCopy(xs []float64) []float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s
}

// quantileSorted is Quantile for an ascending, non-empty s.
func quantileSorted(s []float64, q float64) float64 {
	switch {
	case q <= 0:
		return s[0]
	case q >= 1:
		return s[len(s)-1]
	}
	n := float64(len(s))
	h := 1/3.0 + q*(n+1/3.0) // R8
	kf, frac := math.Modf(h)
	k := int(kf)
	if k <= 0 {
		return s[0]
	}
	if k >= len(s) {
		return s[len(s)-1]
	}
	return s[k-1] + frac*(s[k]-s[k-1])
}

// CV returns the coefficient of variation of xs: the sample standard
// deviation (n−1 denominator, gonum stat.MeanStdDev) divided by the
// absolute value of the mean. It returns 0 for fewer than two values or
// when all values are equal, and +Inf when the mean is 0 but the values
// differ.
func CV(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	mean, sd := stat.MeanStdDev(xs, nil)
	if sd == 0 || math.IsNaN(sd) {
		return 0
	}
	if mean == 0 {
		return math.Inf(1)
	}
	return sd / math.Abs(mean)
}

// OrderCI is a distribution-free confidence interval of a quantile,
// bounded by two order statistics of the sample.
type OrderCI struct {
	// LoOrder and HiOrder are the 1-based order statistics bounding the
	// interval: the interval is [x(LoOrder), x(HiOrder)] of the sorted
	// sample. LoOrder = 0 means the lower bound is −∞ and HiOrder = n+1
	// means the upper bound is +∞ (the sample is too small for the
	// requested confidence).
	LoOrder, HiOrder int
	// Confidence is the actual coverage of the interval, ≥ the requested
	// confidence.
	Confidence float64
}

// QuantileCI returns the order statistics that bound a confidence interval
// of the q-quantile for a sample of n values, at (at least) the given
// confidence. It follows x/perf benchmath (go-moremath QuantileCI): the
// number of values below the population quantile is Binomial(n, q); for
// n ≤ 30 probability mass is accumulated outward from the mode, preferring
// the left side on ties; above 30 the normal approximation with continuity
// correction is used.
func QuantileCI(n int, q, confidence float64) OrderCI {
	if n <= 0 {
		return OrderCI{LoOrder: 0, HiOrder: n + 1, Confidence: 1}
	}
	if confidence >= 1 {
		return OrderCI{LoOrder: 0, HiOrder: n + 1, Confidence: 1}
	}
	var l, r int
	var conf float64
	if n <= 30 {
		pmf := func(k int) float64 {
			if k < 0 || k > n {
				return 0
			}
			return benchmathChoose(n, k) * math.Pow(q, float64(k)) * math.Pow(1-q, float64(n-k))
		}
		x := int(math.Ceil(float64(n+1)*q) - 1)
		if q == 0 {
			x = 0
		}
		conf = pmf(x)
		l, r = x, x+1
		lp, rp := pmf(l-1), pmf(r)
		for conf < confidence && (lp > 0 || rp > 0) {
			if lp >= rp {
				conf += lp
				l--
				lp = pmf(l - 1)
			} else {
				conf += rp
				r++
				rp = pmf(r)
			}
		}
	} else {
		mu := float64(n) * q
		norm := distuv.Normal{Mu: mu, Sigma: math.Sqrt(float64(n) * q * (1 - q))}
		alpha := (1 - confidence) / 2
		l1 := norm.Quantile(alpha)
		r1 := 2*mu - l1
		l = int(math.Floor(math.Floor(l1-0.5)+0.5)) + 1
		r = int(math.Floor(math.Ceil(r1-0.5)+0.5)) + 1
		cdf := func(l, r int) float64 { return norm.CDF(float64(r)-0.5) - norm.CDF(float64(l)-0.5) }
		conf = cdf(l, r)
		if biased := cdf(l, r-1); biased >= confidence && biased < conf {
			conf = biased
			r--
		}
		if l <= 0 && r >= n+1 {
			conf = 1
		}
	}
	l = max(l, 0)
	r = min(r, n+1)
	return OrderCI{LoOrder: l, HiOrder: r, Confidence: conf}
}

// benchmathChoose is C(n, k) computed exactly as go-moremath (and so the
// benchstat command) computes it: exact integers up to n = 20, then
// exp(lgamma(n+1) − lgamma(k+1) − lgamma(n−k+1)). For 21 ≤ n ≤ 30 the
// rounding of that expression decides between two median intervals of
// equal coverage; reproducing it keeps our intervals identical to
// benchstat's (TestQuantileCIMatchesMoremath).
func benchmathChoose(n, k int) float64 {
	if k == 0 || k == n {
		return 1
	}
	if n <= 20 {
		return float64(combin.Binomial(n, k))
	}
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return math.Exp(a - b - c)
}

// bounds returns the interval's bounds in the ascending sample s.
func (ci OrderCI) bounds(s []float64) (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	if ci.LoOrder >= 1 && ci.LoOrder <= len(s) {
		lo = s[ci.LoOrder-1]
	}
	if ci.HiOrder >= 1 && ci.HiOrder <= len(s) {
		hi = s[ci.HiOrder-1]
	}
	return lo, hi
}

// minSamplesForCI returns the smallest n for which the median CI at the
// given confidence is finite (6 at 95 %), or 0 if none up to 50 is.
func minSamplesForCI(confidence float64) int {
	for n := 2; n <= 50; n++ {
		ci := QuantileCI(n, 0.5, confidence)
		if ci.LoOrder > 0 && ci.HiOrder <= n {
			return n
		}
	}
	return 0
}

// Summary describes one sample.
//
// The zero value describes an empty sample.
type Summary struct {
	// N is the number of values.
	N int
	// Median is the sample median; Lo and Hi bound its distribution-free
	// confidence interval (see [QuantileCI]); they are ±Inf when N is too
	// small for the requested confidence.
	Median, Lo, Hi float64
	// Confidence is the actual coverage of [Lo, Hi].
	Confidence float64
	// Mean and StdDev are the sample mean and standard deviation (n−1).
	Mean, StdDev float64
	// CV is the coefficient of variation, see [CV].
	CV float64
	// Min and Max are the extreme values.
	Min, Max float64
	// Warnings lists caveats (too few values for a finite interval).
	Warnings []error
}

// Summarize computes the [Summary] of xs with a median confidence interval
// at the given confidence level (0.95 when confidence is not in (0, 1]).
// xs is not modified.
func Summarize(xs []float64, confidence float64) Summary {
	if confidence <= 0 || confidence > 1 {
		confidence = 0.95
	}
	if len(xs) == 0 {
		nan := math.NaN()
		return Summary{Median: nan, Lo: nan, Hi: nan, Mean: nan, StdDev: nan, Min: nan, Max: nan,
			Warnings: []error{ErrNoSamples}}
	}
	s := sortedCopy(xs)
	ci := QuantileCI(len(s), 0.5, confidence)
	lo, hi := ci.bounds(s)
	sum := Summary{
		N: len(s), Median: quantileSorted(s, 0.5), Lo: lo, Hi: hi, Confidence: ci.Confidence,
		Min: s[0], Max: s[len(s)-1], CV: CV(s),
	}
	sum.Mean = stat.Mean(s, nil)
	if len(s) > 1 {
		sum.StdDev = stat.StdDev(s, nil)
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		need := minSamplesForCI(confidence)
		sum.Warnings = append(sum.Warnings, fmt.Errorf("need >= %d samples for confidence interval at level %v, have %d", need, confidence, len(s)))
	}
	return sum
}

// UTest is the result of a two-sided Mann-Whitney U test.
type UTest struct {
	// N1 and N2 are the sample sizes.
	N1, N2 int
	// U is the number of pairs (a, b) with a > b plus half the number of
	// tied pairs, for the first sample a. The mirror statistic is N1·N2 − U.
	U float64
	// P is the two-sided p-value of the null hypothesis that both samples
	// come from the same distribution. It is 1 when all values are equal.
	P float64
	// Exact reports whether P comes from the exact permutation distribution
	// (true) or the normal approximation (false).
	Exact bool
}

// Limits of the exact U distribution, as in x/perf benchmath.
const (
	uExactLimit     = 50
	uTiesExactLimit = 25
)

// MannWhitneyU runs the two-sided Mann-Whitney U (Wilcoxon rank-sum) test
// on a and b, with the choices of x/perf benchmath (and therefore of the
// benchstat command): the exact distribution of U is used when both
// samples have at most 50 values and there are no ties, or at most 25
// values with ties (the exact conditional distribution given the tie
// pattern); otherwise the normal approximation with tie correction and
// continuity correction. The exact two-sided p-value doubles the smaller
// tail at the observed U (as R's wilcox.test), so it does not change when
// a and b are swapped. Without ties it equals benchmath's; with ties, where
// the conditional null distribution is not symmetric, benchmath doubles the
// lower tail at min(U, n1·n2 − U) instead, which can differ slightly and
// depends on the order of the samples.
// It returns [ErrNoSamples] when a or b is empty. Inputs are not modified.
func MannWhitneyU(a, b []float64) (UTest, error) {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return UTest{N1: n1, N2: n2, P: 1}, ErrNoSamples
	}
	r1x2, ties, twoRank, hasTies := midranks(a, b)
	u1 := float64(r1x2)/2 - float64(n1*(n1+1))/2
	res := UTest{N1: n1, N2: n2, U: u1, P: 1}
	if len(ties) == 1 {
		// All values equal: nothing to tell apart.
		res.Exact = true
		return res, nil
	}
	if (!hasTies && n1 <= uExactLimit && n2 <= uExactLimit) || (hasTies && n1 <= uTiesExactLimit && n2 <= uTiesExactLimit) {
		// Double the smaller tail at the observed U: P(U ≤ u1) and
		// P(U ≥ u1) = P(U' ≤ n1·n2 − u1) for the mirror statistic U' of b.
		res.Exact = true
		if !hasTies {
			// The null distribution is symmetric: both tails are the
			// lower tail at min(U, U').
			res.P = min(1, 2*uCDFNoTies(n1, n2, int(min(u1, float64(n1*n2)-u1))))
			return res, nil
		}
		lower := uCDF(n1, u1, ties, twoRank)
		upper := uCDF(n2, float64(n1*n2)-u1, ties, twoRank)
		res.P = min(1, 2*min(lower, upper))
		return res, nil
	}
	res.P = uNormalP(n1, n2, u1, ties)
	return res, nil
}

// midranks ranks the merged samples with midranks. It returns twice the
// rank sum of a (an integer with midranks), the size and doubled midrank of
// each group of equal values in ascending order, and whether any group has
// more than one value.
func midranks(a, b []float64) (r1x2 int, ties, twoRank []int, hasTies bool) {
	type lv struct {
		v     float64
		first bool
	}
	merged := make([]lv, 0, len(a)+len(b))
	for _, v := range a {
		merged = append(merged, lv{v, true})
	}
	for _, v := range b {
		merged = append(merged, lv{v, false})
	}
	// cmp.Compare orders NaN first and equal to itself, so NaNs form one
	// tie group instead of breaking the sort or the grouping below.
	slices.SortFunc(merged, func(x, y lv) int { return cmp.Compare(x.v, y.v) })
	for i := 0; i < len(merged); {
		j := i
		na := 0
		for j < len(merged) && cmp.Compare(merged[j].v, merged[i].v) == 0 {
			if merged[j].first {
				na++
			}
			j++
		}
		tr := (i + 1) + j // 2 × midrank of ranks i+1..j
		r1x2 += na * tr
		ties = append(ties, j-i)
		twoRank = append(twoRank, tr)
		if j-i > 1 {
			hasTies = true
		}
		i = j
	}
	return r1x2, ties, twoRank, hasTies
}

// uNormalP is the two-sided p-value of U = u1 by the normal approximation
// with tie correction and continuity correction; 1 when U has no variance.
func uNormalP(n1, n2 int, u1 float64, ties []int) float64 {
	var t float64
	for _, k := range ties {
		t += float64(k*k*k - k)
	}
	n := float64(n1 + n2)
	mu := float64(n1*n2) / 2
	sigma := math.Sqrt(float64(n1*n2) * ((n + 1) - t/(n*(n-1))) / 12)
	if sigma == 0 {
		return 1
	}
	numer := u1 - mu
	switch {
	case numer > 0:
		numer -= 0.5
	case numer < 0:
		numer += 0.5
	}
	z := numer / sigma
	// 2Φ(−|z|) is benchmath's 2·min(Φ(z), 1−Φ(z)) without the
	// cancellation in 1−Φ(z), so it is exactly symmetric in a and b.
	return min(1, 2*distuv.UnitNormal.CDF(-math.Abs(z)))
}

// uCDF returns P(U ≤ u) for the first sample of size n1 under the null
// hypothesis, conditional on the tie pattern (group sizes ties, doubled
// midranks twoRank). It counts, by dynamic programming over the groups, the
// subsets of size n1 whose doubled rank sum is at most 2u + n1(n1+1), and
// divides by C(N, n1). Counts are float64: for N ≤ 100 they stay far below
// 2^1023 and rounding is relative 1e-16.
func uCDF(n1 int, u float64, ties, twoRank []int) float64 {
	limit := int(math.Round(2*u)) + n1*(n1+1) // bound on 2×rank sum
	if limit < 0 {
		return 0
	}
	// ways[k][s]: number of ways to pick k values of sample 1 among the
	// groups seen so far with doubled rank sum s (s ≤ limit).
	stride := limit + 1
	ways := make([]float64, (n1+1)*stride)
	next := make([]float64, len(ways))
	ways[0] = 1
	total := 0
	for g, size := range ties {
		clear(next)
		total += size
		for k := 0; k <= n1; k++ {
			row := ways[k*stride : (k+1)*stride]
			for s, w := range row {
				if w == 0 {
					continue
				}
				for c := 0; c <= size && k+c <= n1; c++ {
					s2 := s + c*twoRank[g]
					if s2 > limit {
						break
					}
					next[(k+c)*stride+s2] += w * float64(binom(size, c))
				}
			}
		}
		ways, next = next, ways
	}
	var count float64
	for _, w := range ways[n1*stride : (n1+1)*stride] {
		count += w
	}
	return count / chooseF(total, n1)
}

// uCDFNoTies returns P(U ≤ u) for samples of m and n distinct values under
// the null hypothesis, from the recurrence on the largest pooled value:
// f(m, n, u) = f(m−1, n, u−n) + f(m, n−1, u), f(·, ·, 0)-only at m·n = 0.
// It costs O(m·n·u) additions of non-negative counts.
func uCDFNoTies(m, n, u int) float64 {
	if u < 0 {
		return 0
	}
	if u >= m*n {
		return 1
	}
	w := u + 1
	// prev[j*w+v] = f(i−1, j, v); cur[j*w+v] = f(i, j, v).
	prev := make([]float64, (n+1)*w)
	cur := make([]float64, (n+1)*w)
	for j := 0; j <= n; j++ {
		prev[j*w] = 1 // f(0, j, 0) = 1
	}
	for i := 1; i <= m; i++ {
		clear(cur)
		cur[0] = 1 // f(i, 0, 0) = 1
		for j := 1; j <= n; j++ {
			row, left, up := cur[j*w:(j+1)*w], cur[(j-1)*w:j*w], prev[j*w:(j+1)*w]
			for v := range row {
				c := left[v]
				if v >= j {
					c += up[v-j]
				}
				row[v] = c
			}
		}
		prev, cur = cur, prev
	}
	var count float64
	for _, c := range prev[n*w : (n+1)*w] {
		count += c
	}
	return count / chooseF(m+n, m)
}

// binom is C(n, k) for the small group sizes of uCDF.
func binom(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	if n <= 60 {
		return float64(combin.Binomial(n, k))
	}
	return chooseF(n, k)
}

// chooseF returns C(n, k) as a float64, exact for n ≤ 60 and within
// rounding beyond (gonum combin.LogGeneralizedBinomial).
func chooseF(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	if n <= 60 {
		return float64(combin.Binomial(n, k))
	}
	return math.Exp(combin.LogGeneralizedBinomial(float64(n), float64(k)))
}

// CliffsDelta returns Cliff's delta of a relative to b:
// (#{(x, y): x > y} − #{(x, y): x < y}) / (len(a)·len(b)) over x in a and
// y in b. It lies in [−1, 1]; positive means a tends to be larger. It
// returns NaN when a or b is empty. CliffsDelta(a, b) = −CliffsDelta(b, a)
// and CliffsDelta(a, b) = 2U/(n1·n2) − 1 for the U of [MannWhitneyU](a, b).
func CliffsDelta(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return math.NaN()
	}
	sb := sortedCopy(b)
	var dom int64
	for _, x := range a {
		below, _ := slices.BinarySearch(sb, x) // #y < x
		notAbove := below
		for notAbove < len(sb) && sb[notAbove] == x {
			notAbove++
		}
		above := len(sb) - notAbove // #y > x
		dom += int64(below - above)
	}
	return float64(dom) / float64(len(a)*len(b))
}

// Effect is the magnitude label of a Cliff's delta, after Romano et al.
// (2006): |δ| < 0.147 negligible, < 0.33 small, < 0.474 medium, else large.
// The zero value is Negligible.
type Effect int

// Effect sizes, in increasing magnitude.
const (
	Negligible Effect = iota
	Small
	Medium
	Large
)

// String returns "negligible", "small", "medium" or "large".
func (e Effect) String() string {
	switch e {
	case Negligible:
		return "negligible"
	case Small:
		return "small"
	case Medium:
		return "medium"
	case Large:
		return "large"
	}
	return fmt.Sprintf("Effect(%d)", int(e))
}

// EffectOf labels a Cliff's delta. NaN is Negligible.
func EffectOf(delta float64) Effect {
	d := math.Abs(delta)
	switch {
	case d >= 0.474:
		return Large
	case d >= 0.33:
		return Medium
	case d >= 0.147:
		return Small
	}
	return Negligible
}
