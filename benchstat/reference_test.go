package benchstat

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The testdata/benchstat-*.csv files are the output of the benchstat
// command on the same inputs, recorded with
//
//	go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
//	benchstat -format csv -col /impl testdata/impl.txt > testdata/benchstat-impl.csv
//	benchstat -format csv testdata/old.txt testdata/new.txt > testdata/benchstat-oldnew.csv
//
// (the .txt next to them is the same in text format, for humans). The
// tests below check that every median, median interval, change and p-value
// this package computes prints exactly as benchstat prints it.

// refRow is one benchstat cell group: a benchmark in one unit and column.
type refRow struct {
	name, unit, col string
	median          float64
	ci              string
	delta, p        string // empty for the base column
}

func readBenchstatCSV(t *testing.T, path string) (base string, rows []refRow) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var cols, units []string
	for _, rec := range recs {
		switch {
		case len(rec) < 3:
			continue // config line or blank
		case rec[0] == "" && rec[2] == "CI":
			units = rec
			continue
		case rec[0] == "":
			cols = rec
			continue
		case rec[0] == "geomean":
			continue
		}
		base = cols[1]
		for i := 1; i < len(rec); {
			v, err := strconv.ParseFloat(rec[i], 64)
			if err != nil {
				t.Fatalf("%s: bad value %q", path, rec[i])
			}
			row := refRow{name: rec[0], unit: units[i], col: cols[i], median: v, ci: rec[i+1]}
			if i == 1 {
				i += 2
			} else {
				row.delta, row.p = rec[i+2], rec[i+3]
				i += 4
			}
			rows = append(rows, row)
		}
	}
	return base, rows
}

func TestAgainstBenchstatCommand(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		rep  func(t *testing.T) Report
	}{
		{"key impl", "benchstat-impl.csv", func(t *testing.T) Report {
			res, err := ParseFiles(filepath.Join("testdata", "impl.txt"))
			if err != nil {
				t.Fatal(err)
			}
			return CompareKey(res, "impl", "bare", Options{})
		}},
		{"two files", "benchstat-oldnew.csv", func(t *testing.T) Report {
			old, err := ParseFiles(filepath.Join("testdata", "old.txt"))
			if err != nil {
				t.Fatal(err)
			}
			nw, err := ParseFiles(filepath.Join("testdata", "new.txt"))
			if err != nil {
				t.Fatal(err)
			}
			return Compare(old, nw, "old.txt", "new.txt", Options{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, rows := readBenchstatCSV(t, filepath.Join("testdata", tt.csv))
			rep := tt.rep(t)
			if len(rows) == 0 {
				t.Fatal("no reference rows")
			}
			checked := 0
			for _, row := range rows {
				if row.col == base {
					continue // checked through the test columns
				}
				checked++
				c, ok := findComparison(rep, row.name, row.unit, row.col)
				if !ok {
					t.Errorf("%s %s %s: no comparison", row.name, row.unit, row.col)
					continue
				}
				id := fmt.Sprintf("%s %s %s", row.name, row.unit, row.col)
				if !closeRel(c.Test.Median, row.median, 1e-12) {
					t.Errorf("%s: median %v, benchstat %v", id, c.Test.Median, row.median)
				}
				if got := ciPct(c.Test); got != row.ci {
					t.Errorf("%s: CI ±%s, benchstat ±%s", id, got, row.ci)
				}
				wantP := row.p
				if gotP := fmt.Sprintf("p=%.3f n=%s", c.UTest.P, fmtN(c.Base.N, c.Test.N)); gotP != wantP {
					t.Errorf("%s: %s, benchstat %s", id, gotP, wantP)
				}
				gotDelta := "~"
				if c.Significant() {
					gotDelta = fmt.Sprintf("%+.2f%%", 100*(c.Ratio-1))
				}
				if gotDelta != row.delta {
					t.Errorf("%s: change %s, benchstat %s", id, gotDelta, row.delta)
				}
			}
			t.Logf("%d comparisons checked against benchstat", checked)
			// The base column: each base row appears once per test column.
			for _, row := range rows {
				if row.col != base {
					continue
				}
				for _, c := range rep.Comparisons {
					if c.Name == row.name && c.Unit == row.unit {
						if !closeRel(c.Base.Median, row.median, 1e-12) || ciPct(c.Base) != row.ci {
							t.Errorf("%s %s base: %v ±%s, benchstat %v ±%s", row.name, row.unit, c.Base.Median, ciPct(c.Base), row.median, row.ci)
						}
					}
				}
			}
		})
	}
}

func findComparison(rep Report, name, unit, test string) (Comparison, bool) {
	for _, c := range rep.Comparisons {
		if c.Name == name && c.Unit == unit && c.TestLabel == test {
			return c, true
		}
	}
	return Comparison{}, false
}

func closeRel(a, b, tol float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}
