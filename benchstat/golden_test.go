package benchstat

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// checkGolden compares got with testdata/name; with -update it rewrites the
// file. On a mismatch it writes testdata/name.got and shows a diff.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		gotPath := path + ".got"
		if err := os.WriteFile(gotPath, got, 0o644); err != nil {
			t.Error(err)
		}
		t.Errorf("%s differs (got written to %s; -update accepts it):\n%s", path, gotPath, cmp.Diff(string(want), string(got)))
	}
}

func TestGoldenTables(t *testing.T) {
	impl, err := ParseFiles(filepath.Join("testdata", "impl.txt"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := ParseFiles(filepath.Join("testdata", "old.txt"))
	if err != nil {
		t.Fatal(err)
	}
	nw, err := ParseFiles(filepath.Join("testdata", "new.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// Degenerate input: a zero base median, too few values, a variant
	// missing on one side.
	var degen Results
	degen.Add("Alloc/impl=bare", "allocs/op", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	degen.Add("Alloc/impl=slo", "allocs/op", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	degen.Add("One/impl=bare", "ns/op", 5)
	degen.Add("One/impl=slo", "ns/op", 6)
	degen.Add("Only/impl=slo", "ns/op", 6, 7)
	tests := []struct {
		name string
		rep  Report
		gate *Gate
		md   bool
	}{
		{"impl-report.md.golden", CompareKey(impl, "impl", "bare", Options{}), nil, true},
		{"impl-gate.md.golden", CompareKey(impl, "impl", "bare", Options{}), &Gate{Labels: []string{"slo"}}, true},
		{"degenerate-report.golden", CompareKey(&degen, "impl", "bare", Options{}), nil, false},
		{"degenerate-gate.golden", CompareKey(&degen, "impl", "bare", Options{}), &Gate{Units: []string{"sec/op", "allocs/op"}}, false},
		{"impl-report.golden", CompareKey(impl, "impl", "bare", Options{}), nil, false},
		{"impl-gate.golden", CompareKey(impl, "impl", "bare", Options{}), &Gate{}, false},
		{"impl-gate-strict.golden", CompareKey(impl, "impl", "", Options{}), &Gate{Strict: true, MaxOverhead: 0.06, Units: []string{"sec/op", "ttft-µs"}}, false},
		{"oldnew-report.golden", Compare(old, nw, "old.txt", "new.txt", Options{}), nil, false},
		{"oldnew-gate.golden", Compare(old, nw, "old.txt", "new.txt", Options{}), &Gate{Units: []string{"sec/op", "B/s", "B/op"}}, false},
		{"p99-report.golden", Compare(old, nw, "old.txt", "new.txt", Options{Bootstrap: BootstrapOptions{Quantile: 0.99, Seed: 7}}), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			var err error
			switch {
			case tt.gate == nil && tt.md:
				err = tt.rep.WriteMarkdown(&b)
			case tt.gate == nil:
				err = tt.rep.WriteText(&b)
			case tt.md:
				err = tt.gate.CheckReport(tt.rep).WriteMarkdown(&b)
			default:
				err = tt.gate.CheckReport(tt.rep).WriteText(&b)
			}
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.name, b.Bytes())
		})
	}
}
