package benchstat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/perf/benchfmt"
)

var approx = cmpopts.EquateApprox(1e-12, 0)

func TestParse(t *testing.T) {
	in := `goos: linux
pkg: example.com/p
BenchmarkA/impl=bare-2   	 100	  1500 ns/op	  64 B/op	   2 allocs/op	  12.5 ttft-µs
BenchmarkA/impl=slo-2    	 100	  1600 ns/op	  80 B/op	   3 allocs/op
BenchmarkA/impl=bare-2   	 100	  1450 ns/op	  64 B/op	   2 allocs/op	  13.5 ttft-µs
BenchmarkB-2 	 10	 2000 ns/op	  50.00 MB/s
BenchmarkBroken-2 notanumber ns/op
pkg: example.com/q
BenchmarkB-2 	 10	 3000 ns/op
`
	res, err := Parse(strings.NewReader(in), "in.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{
		{Pkg: "example.com/p", Name: "A/impl=bare-2", Unit: "sec/op", Better: -1, Values: []float64{1500e-9, 1450e-9}},
		{Pkg: "example.com/p", Name: "A/impl=bare-2", Unit: "B/op", Better: -1, Values: []float64{64, 64}},
		{Pkg: "example.com/p", Name: "A/impl=bare-2", Unit: "allocs/op", Better: -1, Values: []float64{2, 2}},
		{Pkg: "example.com/p", Name: "A/impl=bare-2", Unit: "ttft-µs", Values: []float64{12.5, 13.5}},
		{Pkg: "example.com/p", Name: "A/impl=slo-2", Unit: "sec/op", Better: -1, Values: []float64{1600e-9}},
		{Pkg: "example.com/p", Name: "A/impl=slo-2", Unit: "B/op", Better: -1, Values: []float64{80}},
		{Pkg: "example.com/p", Name: "A/impl=slo-2", Unit: "allocs/op", Better: -1, Values: []float64{3}},
		{Pkg: "example.com/p", Name: "B-2", Unit: "sec/op", Better: -1, Values: []float64{2000e-9}},
		{Pkg: "example.com/p", Name: "B-2", Unit: "B/s", Better: 1, Values: []float64{50e6}},
		{Pkg: "example.com/q", Name: "B-2", Unit: "sec/op", Better: -1, Values: []float64{3000e-9}},
	}
	if diff := cmp.Diff(want, res.Samples(), approx); diff != "" {
		t.Errorf("Samples (-want +got):\n%s", diff)
	}
	if len(res.Warnings) != 1 {
		t.Fatalf("warnings: %v", res.Warnings)
	}
	var se *benchfmt.SyntaxError
	if !errors.As(res.Warnings[0], &se) || se.Line != 7 {
		t.Errorf("warning %v, want a benchfmt.SyntaxError on line 7", res.Warnings[0])
	}
	if got := res.Keys("impl"); !cmp.Equal(got, []string{"bare", "slo"}) {
		t.Errorf("Keys = %v", got)
	}
	sel := res.Select("impl", "slo")
	if diff := cmp.Diff([]Sample{
		{Pkg: "example.com/p", Name: "A-2", Unit: "sec/op", Better: -1, Values: []float64{1600e-9}},
		{Pkg: "example.com/p", Name: "A-2", Unit: "B/op", Better: -1, Values: []float64{80}},
		{Pkg: "example.com/p", Name: "A-2", Unit: "allocs/op", Better: -1, Values: []float64{3}},
	}, sel.Samples(), approx); diff != "" {
		t.Errorf("Select (-want +got):\n%s", diff)
	}
	if s, ok := res.Lookup("B-2", "B/s"); !ok || s.Values[0] != 50e6 {
		t.Errorf("Lookup = %+v, %v", s, ok)
	}
	if _, ok := res.Lookup("nope", "sec/op"); ok {
		t.Error("Lookup of a missing benchmark succeeded")
	}
}

func TestNameKeys(t *testing.T) {
	tests := []struct {
		name, key, value, dropped string
		ok                        bool
	}{
		{"Serve/impl=bare-8", "impl", "bare", "Serve-8", true},
		{"Serve/size=1k/impl=otelhttp-8", "impl", "otelhttp", "Serve/size=1k-8", true},
		{"Serve/impl=bare/size=1k", "impl", "bare", "Serve/size=1k", true},
		{"Serve/implx=bare-8", "impl", "", "Serve/implx=bare-8", false},
		{"Serve-8", "impl", "", "Serve-8", false},
	}
	for _, tt := range tests {
		v, ok := nameKey(tt.name, tt.key)
		if v != tt.value || ok != tt.ok {
			t.Errorf("nameKey(%q, %q) = %q, %v", tt.name, tt.key, v, ok)
		}
		if got := dropKey(tt.name, tt.key); got != tt.dropped {
			t.Errorf("dropKey(%q, %q) = %q, want %q", tt.name, tt.key, got, tt.dropped)
		}
	}
}

func TestParseFiles(t *testing.T) {
	res, err := ParseFiles(filepath.Join("testdata", "old.txt"), filepath.Join("testdata", "new.txt"))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := res.Lookup("DecodeSSE-2", "sec/op")
	if !ok || len(s.Values) != 120 {
		t.Fatalf("merged sample: %d values, %v", len(s.Values), ok)
	}
	if _, err := ParseFiles(filepath.Join(t.TempDir(), "missing.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
}

func TestNilAndZeroResults(t *testing.T) {
	var r *Results
	if r.Samples() != nil || r.Keys("impl") != nil || len(r.Select("impl", "x").Samples()) != 0 {
		t.Error("nil Results is not empty")
	}
	var z Results
	if len(z.Samples()) != 0 {
		t.Error("zero Results is not empty")
	}
	rep := Compare(nil, &z, "a", "b", Options{})
	if len(rep.Comparisons) != 0 {
		t.Error("comparing empty sets gave comparisons")
	}
}

// FuzzParse checks that arbitrary input never makes Parse fail (other than
// on I/O), panic, or produce samples without values.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"impl.txt", "old.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("BenchmarkX-2 1 NaN ns/op\nBenchmarkX-2 1 -Inf ns/op\n")
	f.Add("Unit ns/op better=higher\nBenchmarkX/k=v 3 5 ns/op\n")
	f.Add("BenchmarkX/k=a 1 NaN ns/op\nBenchmarkX/k=b 1 2 ns/op\nBenchmarkX/k=a 1 NaN ns/op\nBenchmarkX/k=b 1 +Inf ns/op\n")
	f.Fuzz(func(t *testing.T, in string) {
		res, err := Parse(strings.NewReader(in), "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range res.Samples() {
			if len(s.Values) == 0 || s.Unit == "" {
				t.Fatalf("empty sample %+v", s)
			}
		}
		for _, k := range res.Keys("k") {
			_ = CompareKey(res, "k", k, Options{Bootstrap: BootstrapOptions{Resamples: 10}})
		}
	})
}

func TestAdd(t *testing.T) {
	var r Results
	r.Add("Serve/impl=bare", "ns/op", 1500, 1510)
	r.Add("Serve/impl=bare", "MB/s", 2)
	r.Add("Serve/impl=slo", "allocs/op", 3)
	want := []Sample{
		{Name: "Serve/impl=bare", Unit: "sec/op", Better: -1, Values: []float64{1500e-9, 1510e-9}},
		{Name: "Serve/impl=bare", Unit: "B/s", Better: 1, Values: []float64{2e6}},
		{Name: "Serve/impl=slo", Unit: "allocs/op", Better: -1, Values: []float64{3}},
	}
	if diff := cmp.Diff(want, r.Samples(), approx); diff != "" {
		t.Errorf("Add (-want +got):\n%s", diff)
	}
}
