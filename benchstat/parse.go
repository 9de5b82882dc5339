package benchstat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchunit"
)

// A Sample is the repeated measurements of one benchmark in one unit.
type Sample struct {
	// Pkg is the value of the "pkg:" file configuration line, if any.
	Pkg string
	// Name is the full benchmark name as benchfmt reports it: without the
	// "Benchmark" prefix, with sub-benchmark parts and the GOMAXPROCS
	// suffix, e.g. "Serve/impl=bare-8" for BenchmarkServe/impl=bare-8
	// ("Serve-8" after [Results.Select]("impl", "bare")).
	Name string
	// Unit is the tidied unit: "sec/op", "B/op", "allocs/op", "B/s", or a
	// custom unit reported with testing.B.ReportMetric.
	Unit string
	// Better is +1 when higher values are better, −1 when lower values are
	// better and 0 when unknown (from benchfmt unit metadata).
	Better int
	// Values are the measurements in input order.
	Values []float64
}

type sampleKey struct{ pkg, name, unit string }

// Results is a set of parsed benchmark results, grouped by package,
// benchmark name and unit, in order of first appearance.
//
// The zero value is an empty set. A Results is not safe for concurrent
// mutation; its methods that return a new Results do not modify it.
type Results struct {
	samples []*Sample
	index   map[sampleKey]int
	// Warnings lists lines the parser skipped (benchfmt syntax errors).
	Warnings []error
}

// Parse reads Go benchmark output (the format of `go test -bench`, see
// golang.org/x/perf/benchfmt) from r. fileName is used in messages only.
// Malformed lines are skipped and reported in [Results.Warnings]; Parse
// fails only on an I/O error.
func Parse(r io.Reader, fileName string) (*Results, error) {
	res := &Results{}
	if err := res.Read(r, fileName); err != nil {
		return nil, err
	}
	return res, nil
}

// ParseFiles parses and merges the named files; "-" reads standard input.
func ParseFiles(paths ...string) (*Results, error) {
	res := &Results{}
	for _, p := range paths {
		if p == "-" {
			if err := res.Read(os.Stdin, "<stdin>"); err != nil {
				return nil, err
			}
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open bench results: %w", err)
		}
		err = res.Read(f, p)
		cerr := f.Close()
		if err != nil {
			return nil, err
		}
		if cerr != nil {
			return nil, fmt.Errorf("close %s: %w", p, cerr)
		}
	}
	return res, nil
}

// Read parses more benchmark output from in into r, as [Parse] does;
// samples of the same package, name and unit are merged. Configuration
// lines (pkg:, goos:, …) do not carry over from earlier inputs.
func (r *Results) Read(in io.Reader, fileName string) error {
	rd := benchfmt.NewReader(in, fileName)
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			r.Warnings = append(r.Warnings, rec)
		case *benchfmt.Result:
			pkg := rec.GetConfig("pkg")
			name := string(rec.Name.Full())
			for _, v := range rec.Values {
				r.add(pkg, name, v.Unit, rd.Units().GetBetter(v.Unit), v.Value)
			}
		}
	}
	if err := rd.Err(); err != nil {
		return fmt.Errorf("read bench results %s: %w", fileName, err)
	}
	return nil
}

// Add records measurements made without going through benchmark output,
// e.g. from repeated [testing.Benchmark] calls in a test. name follows the
// benchfmt convention (no "Benchmark" prefix, e.g. "Serve/impl=bare");
// unit is tidied as the parser tidies it (ns/op becomes sec/op, MB/s
// becomes B/s, with the values scaled). The package is empty.
func (r *Results) Add(name, unit string, values ...float64) {
	for _, v := range values {
		tv, tu := benchunit.Tidy(v, unit)
		r.add("", name, tu, benchfmt.UnitMetadataMap(nil).GetBetter(tu), tv)
	}
}

func (r *Results) add(pkg, name, unit string, better int, vals ...float64) {
	k := sampleKey{pkg, name, unit}
	if r.index == nil {
		r.index = make(map[sampleKey]int)
	}
	i, ok := r.index[k]
	if !ok {
		i = len(r.samples)
		r.index[k] = i
		r.samples = append(r.samples, &Sample{Pkg: pkg, Name: name, Unit: unit, Better: better})
	}
	r.samples[i].Values = append(r.samples[i].Values, vals...)
}

// Samples returns copies of all samples in order of first appearance.
func (r *Results) Samples() []Sample {
	if r == nil {
		return nil
	}
	out := make([]Sample, len(r.samples))
	for i, s := range r.samples {
		out[i] = *s
		out[i].Values = slices.Clone(s.Values)
	}
	return out
}

// Lookup returns a copy of the sample for the benchmark name and unit (in
// any package), and whether it exists.
func (r *Results) Lookup(name, unit string) (Sample, bool) {
	if r == nil {
		return Sample{}, false
	}
	for _, s := range r.samples {
		if s.Name == name && s.Unit == unit {
			c := *s
			c.Values = slices.Clone(s.Values)
			return c, true
		}
	}
	return Sample{}, false
}

// Keys returns, in order of first appearance, the values that the
// sub-benchmark key takes in benchmark names: for "BenchmarkX/impl=bare"
// and "BenchmarkX/impl=otelhttp", Keys("impl") is ["bare", "otelhttp"].
func (r *Results) Keys(key string) []string {
	if r == nil {
		return nil
	}
	var vals []string
	for _, s := range r.samples {
		if v, ok := nameKey(s.Name, key); ok && !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	return vals
}

// Select returns the samples whose name has the sub-benchmark part
// "/key=value", with that part removed from their names, so that
// Select("impl", "bare") and Select("impl", "otelhttp") can be compared
// with [Compare]. It does not modify r.
func (r *Results) Select(key, value string) *Results {
	out := &Results{}
	if r == nil {
		return out
	}
	for _, s := range r.samples {
		if v, ok := nameKey(s.Name, key); ok && v == value {
			out.add(s.Pkg, dropKey(s.Name, key), s.Unit, s.Better, s.Values...)
		}
	}
	return out
}

// nameKey returns the value of "/key=value" in a benchmark name.
func nameKey(name, key string) (string, bool) {
	_, parts := benchfmt.Name(name).Parts()
	prefix := []byte("/" + key + "=")
	for _, p := range parts {
		if v, ok := bytes.CutPrefix(p, prefix); ok {
			return string(v), true
		}
	}
	return "", false
}

// dropKey removes "/key=value" from a benchmark name.
func dropKey(name, key string) string {
	base, parts := benchfmt.Name(name).Parts()
	var b strings.Builder
	b.Write(base)
	prefix := []byte("/" + key + "=")
	for _, p := range parts {
		if !bytes.HasPrefix(p, prefix) {
			b.Write(p)
		}
	}
	return b.String()
}

// ErrUnmatched is wrapped by the Report warnings of benchmarks present on
// one side of a comparison only.
var ErrUnmatched = errors.New("present on one side only")
