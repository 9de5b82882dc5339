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
	}{
		{"degenerate-report.golden", CompareKey(&degen, "impl", "bare", Options{}), nil},
		{"degenerate-gate.golden", CompareKey(&degen, "impl", "bare", Options{}), &Gate{Units: []string{"sec/op", "allocs/op"}}},
		{"impl-report.golden", CompareKey(impl, "impl", "bare", Options{}), nil},
		{"impl-gate.golden", CompareKey(impl, "impl", "bare", Options{}), &Gate{}},
		{"impl-gate-strict.golden", CompareKey(impl, "impl", "", Options{}), &Gate{Strict: true, MaxOverhead: 0.06, Units: []string{"sec/op", "ttft-µs"}}},
		{"oldnew-report.golden", Compare(old, nw, "old.txt", "new.txt", Options{}), nil},
		{"oldnew-gate.golden", Compare(old, nw, "old.txt", "new.txt", Options{}), &Gate{Units: []string{"sec/op", "B/s", "B/op"}}},
		{"p99-report.golden", Compare(old, nw, "old.txt", "new.txt", Options{Bootstrap: BootstrapOptions{Quantile: 0.99, Seed: 7}}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if tt.gate == nil {
				if err := tt.rep.WriteText(&b); err != nil {
					t.Fatal(err)
				}
			} else if err := tt.gate.CheckReport(tt.rep).WriteText(&b); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.name, b.Bytes())
		})
	}
}
