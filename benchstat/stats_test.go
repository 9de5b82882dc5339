package benchstat

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aclements/go-moremath/stats"
	"github.com/google/go-cmp/cmp"
)

func TestQuantile(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"empty", nil, 0.5, math.NaN()},
		{"one", []float64{7}, 0.5, 7},
		{"odd median", []float64{3, 1, 2}, 0.5, 2},
		{"even median is mean of middle two", []float64{4, 1, 3, 2}, 0.5, 2.5},
		{"min", []float64{4, 1, 3, 2}, 0, 1},
		{"max", []float64{4, 1, 3, 2}, 1, 4},
		// R8: h = 1/3 + q(n + 1/3); n=10, q=0.9: h = 9.6333, x9 + 0.6333(x10 − x9).
		{"p90 of 1..10", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9, 9 + 1.9/3},
		// n=4, q=0.25: h = 1/3 + 0.25·13/3 = 17/12 → x1 + 5/12 (x2 − x1).
		{"p25 of 1..4", []float64{1, 2, 3, 4}, 0.25, 1 + 5/12.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.xs)
			got := Quantile(tt.xs, tt.q)
			if !(math.IsNaN(tt.want) && math.IsNaN(got)) && math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Quantile(%v, %v) = %v, want %v", tt.xs, tt.q, got, tt.want)
			}
			if !slices.Equal(in, tt.xs) {
				t.Errorf("input modified: %v", tt.xs)
			}
		})
	}
}

func TestQuantileMatchesMoremath(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for n := 1; n <= 40; n++ {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = r.NormFloat64()
		}
		for _, q := range []float64{0.01, 0.1, 0.25, 0.5, 0.9, 0.99} {
			want := stats.Sample{Xs: xs}.Quantile(q)
			if got := Quantile(xs, q); !closeRel(got, want, 1e-12) {
				t.Errorf("n=%d q=%v: %v, moremath %v", n, q, got, want)
			}
		}
	}
}

func TestCV(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"one", []float64{5}, 0},
		{"equal", []float64{3, 3, 3}, 0},
		// mean 5, sample sd sqrt(((−3)²+0+3²)/2) = 3 → 0.6.
		{"2 5 8", []float64{2, 5, 8}, 0.6},
		// mean 10, sd sqrt((1+1)/1) = √2 → 0.1414.
		{"9 11", []float64{9, 11}, math.Sqrt2 / 10},
		{"negative mean uses |mean|", []float64{-2, -5, -8}, 0.6},
		{"zero mean", []float64{-1, 1}, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CV(tt.xs); !(got == tt.want || math.Abs(got-tt.want) < 1e-12) {
				t.Errorf("CV(%v) = %v, want %v", tt.xs, got, tt.want)
			}
		})
	}
}

func TestQuantileCITextbook(t *testing.T) {
	// Order-statistic intervals of the median with their exact binomial
	// coverage, e.g. n=10: P(2 ≤ K ≤ 8) for K ~ Bin(10, ½) =
	// 1 − 2(1+10)/1024 = 0.978515625, so [x(2), x(9)].
	tests := []struct {
		n      int
		lo, hi int
		conf   float64
	}{
		// n=5: [x1, x5] covers only 1 − 2/32 = 0.9375; adding the left
		// tail (left-biased) gives [−∞, x5] at 31/32.
		{5, 0, 5, 31 / 32.0},
		{6, 1, 6, 1 - 2.0/64},                                   // smallest n with a finite 95 % interval
		{10, 2, 9, 1 - 2*(1+10)/1024.0},                         // 0.9785
		{20, 6, 15, 1 - 2*(1+20+190+1140+4845+15504)/1048576.0}, // P(6 ≤ K ≤ 14) = 0.9586
	}
	for _, tt := range tests {
		ci := QuantileCI(tt.n, 0.5, 0.95)
		if ci.LoOrder != tt.lo || ci.HiOrder != tt.hi || math.Abs(ci.Confidence-tt.conf) > 1e-12 {
			t.Errorf("QuantileCI(%d, .5, .95) = %+v, want [%d, %d] at %v", tt.n, ci, tt.lo, tt.hi, tt.conf)
		}
	}
}

func TestQuantileCIMatchesMoremath(t *testing.T) {
	for n := 1; n <= 120; n++ {
		for _, q := range []float64{0.5, 0.25, 0.9, 0.99} {
			for _, conf := range []float64{0.9, 0.95, 0.99} {
				want := stats.QuantileCI(n, q, conf)
				got := QuantileCI(n, q, conf)
				if got.LoOrder != want.LoOrder || got.HiOrder != want.HiOrder || !closeRel(got.Confidence, want.Confidence, 1e-9) {
					t.Errorf("n=%d q=%v conf=%v: %+v, moremath %+v", n, q, conf, got, want)
				}
			}
		}
	}
}

func TestSummarize(t *testing.T) {
	xs := []float64{10, 12, 11, 13, 9, 10, 11, 12, 11, 10}
	got := Summarize(xs, 0.95)
	// Sorted: 9 10 10 10 11 11 11 12 12 13; median 11, [x(2), x(9)] = [10, 12].
	want := Summary{N: 10, Median: 11, Lo: 10, Hi: 12, Confidence: 1 - 2*(1+10)/1024.0,
		Mean: 10.9, StdDev: math.Sqrt(12.9 / 9), Min: 9, Max: 13}
	want.CV = want.StdDev / want.Mean
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return closeRel(a, b, 1e-12) })); diff != "" {
		t.Errorf("Summarize (-want +got):\n%s", diff)
	}
	small := Summarize([]float64{1, 2, 3}, 0.95)
	if !math.IsInf(small.Lo, -1) || !math.IsInf(small.Hi, 1) || len(small.Warnings) != 1 {
		t.Errorf("n=3: want infinite interval and one warning, got %+v", small)
	}
	if e := Summarize(nil, 0.95); e.N != 0 || len(e.Warnings) == 0 || !math.IsNaN(e.Median) {
		t.Errorf("empty: %+v", e)
	}
}

func TestMannWhitneyUTextbook(t *testing.T) {
	tests := []struct {
		name  string
		a, b  []float64
		u, p  float64
		exact bool
	}{
		{
			// Hollander & Wolfe (1973) p. 69, the example of R's
			// ?wilcox.test: W = 35, one-sided p = 0.1272 → two-sided
			// 0.2544 (exactly 2·P(U ≤ 15) = 2·382/3003).
			name:  "Hollander-Wolfe",
			a:     []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46},
			b:     []float64{1.15, 0.88, 0.90, 0.74, 1.21},
			u:     35,
			p:     2 * 382 / 3003.0,
			exact: true,
		},
		{
			// Complete separation, 3 vs 3: the only more extreme
			// arrangements are the two separated ones: p = 2/C(6,3).
			name: "separated 3+3", a: []float64{1, 2, 3}, b: []float64{4, 5, 6},
			u: 0, p: 0.1, exact: true,
		},
		{
			name: "identical samples", a: []float64{1, 2, 3}, b: []float64{1, 2, 3},
			u: 4.5, p: 1, exact: true,
		},
		{
			name: "all equal", a: []float64{5, 5, 5}, b: []float64{5, 5},
			u: 3, p: 1, exact: true,
		},
		{
			// Normal approximation (n > 50, no ties): a = 1..60,
			// b = 30.5..89.5. U = Σ#(b < a) = Σ_{k=1}^{30} k = 465,
			// μ = 1800, σ² = 3600·121/12 = 36300,
			// z = (465 − 1800 + 0.5)/√36300 = −7.0046, p = 2Φ(z).
			name: "normal approximation",
			a:    seq(1, 60), b: shift(seq(31, 90), -0.5),
			u: 465, p: 2 * 0.5 * math.Erfc(1334.5/math.Sqrt(36300)/math.Sqrt2), exact: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MannWhitneyU(tt.a, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got.U != tt.u || !closeRel(got.P, tt.p, 1e-9) || got.Exact != tt.exact {
				t.Errorf("got %+v, want U=%v p=%v exact=%v", got, tt.u, tt.p, tt.exact)
			}
		})
	}
	if _, err := MannWhitneyU(nil, []float64{1}); err == nil {
		t.Error("empty sample: want error")
	}
}

func seq(from, to int) []float64 {
	var xs []float64
	for i := from; i <= to; i++ {
		xs = append(xs, float64(i))
	}
	return xs
}

func shift(xs []float64, d float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x + d
	}
	return out
}

// bruteU computes the exact two-sided p-value by enumerating every
// assignment of the pooled values to the first sample (an independent
// reference for the dynamic programme, ties included).
func bruteU(a, b []float64) (u, p float64) {
	pooled := append(slices.Clone(a), b...)
	n1, n := len(a), len(pooled)
	ustat := func(idx []bool) float64 {
		var u float64
		for i := range n {
			if !idx[i] {
				continue
			}
			for j := range n {
				if idx[j] {
					continue
				}
				switch {
				case pooled[i] > pooled[j]:
					u++
				case pooled[i] == pooled[j]:
					u += 0.5
				}
			}
		}
		return u
	}
	obs := make([]bool, n)
	for i := range n1 {
		obs[i] = true
	}
	u = ustat(obs)
	var le, ge, total float64
	idx := make([]bool, n)
	var rec func(pos, left int)
	rec = func(pos, left int) {
		if left == 0 {
			total++
			v := ustat(idx)
			if v <= u+1e-9 {
				le++
			}
			if v >= u-1e-9 {
				ge++
			}
			return
		}
		if n-pos < left {
			return
		}
		idx[pos] = true
		rec(pos+1, left-1)
		idx[pos] = false
		rec(pos+1, left)
	}
	rec(0, n1)
	return u, math.Min(1, 2*math.Min(le, ge)/total)
}

func TestMannWhitneyUExactMatchesEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		n1, n2 := 1+r.IntN(7), 1+r.IntN(7)
		a, b := make([]float64, n1), make([]float64, n2)
		levels := 3 + r.IntN(10) // few levels → many ties
		for i := range a {
			a[i] = float64(r.IntN(levels))
		}
		for i := range b {
			b[i] = float64(r.IntN(levels) + r.IntN(2))
		}
		got, err := MannWhitneyU(a, b)
		if err != nil {
			t.Fatal(err)
		}
		u, p := bruteU(a, b)
		if got.U != u || !closeRel(got.P, p, 1e-9) {
			t.Errorf("trial %d a=%v b=%v: U=%v p=%v, enumeration U=%v p=%v", trial, a, b, got.U, got.P, u, p)
		}
	}
}

// TestMannWhitneyUMatchesMoremath compares with the implementation the
// benchstat command uses, on both sides of every exact/approximate limit,
// with and without ties.
func TestMannWhitneyUMatchesMoremath(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	sizes := [][2]int{{2, 3}, {5, 5}, {10, 10}, {10, 14}, {20, 20}, {25, 25}, {26, 26}, {30, 12}, {50, 50}, {51, 40}, {80, 80}}
	for _, sz := range sizes {
		for _, ties := range []bool{false, true} {
			for range 3 {
				a, b := make([]float64, sz[0]), make([]float64, sz[1])
				for i := range a {
					a[i] = r.NormFloat64()
				}
				for i := range b {
					b[i] = r.NormFloat64() + 0.5
				}
				if ties {
					for i := range a {
						a[i] = math.Round(a[i] * 2)
					}
					for i := range b {
						b[i] = math.Round(b[i] * 2)
					}
				}
				got, err := MannWhitneyU(a, b)
				want, werr := stats.MannWhitneyUTest(a, b, stats.LocationDiffers)
				if werr != nil {
					if err != nil || got.P != 1 {
						t.Errorf("%v ties=%v: moremath %v, got %+v %v", sz, ties, werr, got, err)
					}
					continue
				}
				if got.Exact && ties {
					// Same conditional distribution (moremath UDist), our
					// two-sided rule: twice the smaller tail at U.
					d := stats.UDist{N1: sz[0], N2: sz[1], T: tieCounts(a, b)}
					want.P = math.Min(1, 2*math.Min(d.CDF(want.U), 1-d.CDF(want.U-0.5)))
				}
				if err != nil || got.U != want.U || (!closeRel(got.P, want.P, 1e-9) && math.Abs(got.P-want.P) > 1e-15) {
					t.Errorf("%v ties=%v: U=%v p=%v (exact %v), moremath U=%v p=%v", sz, ties, got.U, got.P, got.Exact, want.U, want.P)
				}
			}
		}
	}
}

// tieCounts returns the sizes of the groups of equal values of the pooled
// sample, in ascending order of value.
func tieCounts(a, b []float64) []int {
	pooled := append(slices.Clone(a), b...)
	slices.Sort(pooled)
	var t []int
	for i := 0; i < len(pooled); {
		j := i
		for j < len(pooled) && pooled[j] == pooled[i] {
			j++
		}
		t = append(t, j-i)
		i = j
	}
	return t
}

func TestCliffsDelta(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		want float64
	}{
		// By hand: pairs (1,2)< (1,4)< (2,2)= (2,4)< (3,2)> (3,4)< →
		// (1 − 4)/6.
		{"by hand", []float64{1, 2, 3}, []float64{2, 4}, -0.5},
		{"dominates", []float64{5, 6}, []float64{1, 2, 3}, 1},
		{"dominated", []float64{1, 2, 3}, []float64{5, 6}, -1},
		{"equal", []float64{1, 2}, []float64{1, 2}, 0},
		// a=1..4 vs b=2..5: greater pairs 0+0+1+2=3... count: x=1:0>,4<;
		// x=2:0>,3< (one tie); x=3:1>,2<; x=4:2>,1< → (3 − 10)/16.
		{"shifted", []float64{1, 2, 3, 4}, []float64{2, 3, 4, 5}, -7.0 / 16},
		{"empty", nil, []float64{1}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CliffsDelta(tt.a, tt.b)
			if !(math.IsNaN(got) && math.IsNaN(tt.want)) && got != tt.want {
				t.Errorf("CliffsDelta = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEffectOf(t *testing.T) {
	tests := []struct {
		d    float64
		want Effect
	}{
		{0, Negligible}, {0.146, Negligible}, {-0.146, Negligible}, {math.NaN(), Negligible},
		{0.147, Small}, {-0.2, Small}, {0.329, Small},
		{0.33, Medium}, {-0.4, Medium}, {0.473, Medium},
		{0.474, Large}, {-1, Large},
	}
	for _, tt := range tests {
		if got := EffectOf(tt.d); got != tt.want {
			t.Errorf("EffectOf(%v) = %v, want %v", tt.d, got, tt.want)
		}
	}
	if Effect(9).String() != "Effect(9)" || Large.String() != "large" {
		t.Error("Effect.String")
	}
}
