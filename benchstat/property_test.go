package benchstat

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomPair returns two samples of random sizes, sometimes with ties.
func randomPair(r *rand.Rand) (a, b []float64) {
	n1, n2 := 1+r.IntN(30), 1+r.IntN(30)
	a, b = make([]float64, n1), make([]float64, n2)
	shiftB := r.Float64()
	tied := r.IntN(2) == 0
	for i := range a {
		a[i] = 100 + 10*r.NormFloat64()
	}
	for i := range b {
		b[i] = 100 + 10*(r.NormFloat64()+shiftB)
	}
	if tied {
		for i := range a {
			a[i] = math.Round(a[i] / 5)
		}
		for i := range b {
			b[i] = math.Round(b[i] / 5)
		}
	}
	return a, b
}

func mapF(xs []float64, f func(float64) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// TestSymmetry: swapping the samples negates Cliff's delta, mirrors U
// (U' = n1·n2 − U) and keeps the two-sided p-value.
func TestSymmetry(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := range 150 {
		a, b := randomPair(r)
		if d1, d2 := CliffsDelta(a, b), CliffsDelta(b, a); d1 != -d2 {
			t.Fatalf("trial %d: δ(a,b)=%v δ(b,a)=%v", trial, d1, d2)
		}
		u1, err1 := MannWhitneyU(a, b)
		u2, err2 := MannWhitneyU(b, a)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if u1.U+u2.U != float64(len(a)*len(b)) || !closeRel(u1.P, u2.P, 1e-12) {
			t.Fatalf("trial %d: %+v vs swapped %+v", trial, u1, u2)
		}
		// Cliff's delta and U are the same statistic.
		if d := CliffsDelta(a, b); !closeRel(d, 2*u1.U/float64(len(a)*len(b))-1, 1e-12) && math.Abs(d) > 1e-12 {
			t.Fatalf("trial %d: δ=%v, 2U/mn−1=%v", trial, d, 2*u1.U/float64(len(a)*len(b))-1)
		}
		if u1.P < 0 || u1.P > 1 {
			t.Fatalf("p out of range: %v", u1.P)
		}
	}
}

// TestInvariance: rank statistics do not change when both samples are
// shifted by a constant or scaled by a positive factor; medians and their
// intervals move with the transformation; the ratio of medians and its
// bootstrap interval are scale-invariant, the difference shift-invariant.
func TestInvariance(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	transforms := []struct {
		name string
		f    func(float64) float64
	}{
		{"shift +1000", func(x float64) float64 { return x + 1000 }},
		{"scale ×3", func(x float64) float64 { return 3 * x }},
		{"scale ×1e-9 (ns→s)", func(x float64) float64 { return x * 1e-9 }},
	}
	for trial := range 40 {
		a, b := randomPair(r)
		u, _ := MannWhitneyU(a, b)
		d := CliffsDelta(a, b)
		sa := Summarize(a, 0.95)
		bo := Bootstrap(a, b, BootstrapOptions{Resamples: 200, Seed: uint64(trial)})
		for _, tr := range transforms {
			ta, tb := mapF(a, tr.f), mapF(b, tr.f)
			tu, _ := MannWhitneyU(ta, tb)
			if tu.U != u.U || tu.P != u.P {
				t.Fatalf("trial %d %s: U test %+v, was %+v", trial, tr.name, tu, u)
			}
			if td := CliffsDelta(ta, tb); td != d {
				t.Fatalf("trial %d %s: δ %v, was %v", trial, tr.name, td, d)
			}
			ts := Summarize(ta, 0.95)
			for _, pair := range [][2]float64{{ts.Median, tr.f(sa.Median)}, {ts.Lo, tr.f(sa.Lo)}, {ts.Hi, tr.f(sa.Hi)}} {
				if !closeRel(pair[0], pair[1], 1e-9) && !(math.IsInf(pair[0], 0) && pair[0] == pair[1]) {
					t.Fatalf("trial %d %s: summary %v, want %v", trial, tr.name, pair[0], pair[1])
				}
			}
			tbo := Bootstrap(ta, tb, BootstrapOptions{Resamples: 200, Seed: uint64(trial)})
			if tr.name == "shift +1000" {
				if !closeRel(tbo.Diff, bo.Diff, 1e-6) && math.Abs(tbo.Diff-bo.Diff) > 1e-9 ||
					math.Abs(tbo.DiffLo-bo.DiffLo) > 1e-9 || math.Abs(tbo.DiffHi-bo.DiffHi) > 1e-9 {
					t.Fatalf("trial %d: shifted diff CI %+v, was %+v", trial, tbo, bo)
				}
				continue
			}
			if (!math.IsNaN(bo.Ratio) && !closeRel(tbo.Ratio, bo.Ratio, 1e-9)) ||
				!closeRel(tbo.RatioLo, bo.RatioLo, 1e-9) || !closeRel(tbo.RatioHi, bo.RatioHi, 1e-9) {
				t.Fatalf("trial %d %s: ratio CI %+v, was %+v", trial, tr.name, tbo, bo)
			}
		}
	}
}

// TestCVInvariance: the coefficient of variation is scale-invariant.
func TestCVInvariance(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 100 {
		a, _ := randomPair(r)
		a = mapF(a, func(x float64) float64 { return x + 1 }) // keep the mean away from 0
		c := CV(a)
		if s := CV(mapF(a, func(x float64) float64 { return 7.5 * x })); !closeRel(s, c, 1e-9) {
			t.Fatalf("CV %v, scaled %v", c, s)
		}
	}
}

// FuzzCompareValues feeds arbitrary values (NaN, ±Inf, ties, empty sides)
// through every statistic and both table writers: nothing may panic, and
// p-values and Cliff's delta stay in range.
func FuzzCompareValues(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(4))
	f.Add([]byte{0, 0, 0, 0, 255, 255, 255, 255}, uint8(2))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		vals := make([]float64, 0, len(data))
		for _, b := range data {
			switch b {
			case 250:
				vals = append(vals, math.NaN())
			case 251:
				vals = append(vals, math.Inf(1))
			case 252:
				vals = append(vals, math.Inf(-1))
			case 253:
				vals = append(vals, 0)
			default:
				vals = append(vals, float64(b%32)-8)
			}
		}
		if len(vals) > 120 {
			vals = vals[:120]
		}
		k := min(int(split), len(vals))
		a, b := vals[:k], vals[k:]
		c := CompareValues(a, b, Options{Bootstrap: BootstrapOptions{Resamples: 20}})
		if p := c.UTest.P; len(a) > 0 && len(b) > 0 && !(p >= 0 && p <= 1) && !hasNaN(vals) {
			t.Fatalf("p = %v", p)
		}
		if d := c.CliffsDelta; !math.IsNaN(d) && (d < -1 || d > 1) {
			t.Fatalf("δ = %v", d)
		}
		c.Name, c.Unit = "X", "sec/op"
		rep := Report{Comparisons: []Comparison{c}}
		var sb strings.Builder
		if err := rep.WriteText(&sb); err != nil {
			t.Fatal(err)
		}
		if err := DefaultThresholds().CheckReport(rep).WriteMarkdown(&sb); err != nil {
			t.Fatal(err)
		}
	})
}

func hasNaN(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) {
			return true
		}
	}
	return false
}
