package benchstat

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func benchPair(n int, ties bool) (a, b []float64) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b = make([]float64, n), make([]float64, n)
	for i := range a {
		a[i] = 100 + r.NormFloat64()
		b[i] = 101 + r.NormFloat64()
		if ties {
			a[i], b[i] = float64(int(a[i])), float64(int(b[i]))
		}
	}
	return a, b
}

func BenchmarkMannWhitneyU(b *testing.B) {
	for _, n := range []int{10, 25, 50, 100} {
		for _, ties := range []bool{false, true} {
			b.Run(fmt.Sprintf("n=%d/ties=%v", n, ties), func(b *testing.B) {
				x, y := benchPair(n, ties)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := MannWhitneyU(x, y); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkBootstrap(b *testing.B) {
	for _, n := range []int{10, 60} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			x, y := benchPair(n, false)
			b.ReportAllocs()
			for b.Loop() {
				Bootstrap(x, y, BootstrapOptions{})
			}
		})
	}
}

func BenchmarkCompareValues(b *testing.B) {
	x, y := benchPair(10, false)
	b.ReportAllocs()
	for b.Loop() {
		CompareValues(x, y, Options{})
	}
}

func BenchmarkParse(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("testdata", "old.txt"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(in), "old.txt"); err != nil {
			b.Fatal(err)
		}
	}
}
