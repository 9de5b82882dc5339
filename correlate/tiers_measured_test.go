package correlate

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmslo/slo/probes"
)

// tiersDoc is the page that shows the measured table.
const tiersDoc = "../docs/tiers.md"

// The table in tiersDoc lies between these lines.
const (
	tableBegin = "<!-- begin measured table: go test -run TestTierConfidenceMeasured ./correlate/ (SLO_UPDATE=1 rewrites it) -->\n"
	tableEnd   = "<!-- end measured table -->\n"
)

// TestTierConfidenceMeasured replays every labelled recording in testdata
// with the default Config and checks that each tier's default confidence is
// the precision measured there, rounded to two decimals, and that
// docs/tiers.md shows the table the recordings give.
func TestTierConfidenceMeasured(t *testing.T) {
	res := evaluateRecorded(t)
	cfg := New(Config{}).Config()
	for tier := TierSvcNode; tier <= TierExact; tier++ {
		tr := res.Tiers[tier]
		if tr.Joins == 0 {
			t.Errorf("%s: no join in the recordings", tier)
			continue
		}
		if want := math.Round(tr.Precision()*100) / 100; cfg.Confidence[tier] != want {
			t.Errorf("%s: confidence %.2f, measured precision %.4f (%d/%d) rounds to %.2f",
				tier, cfg.Confidence[tier], tr.Precision(), tr.Correct, tr.Joins, want)
		}
	}
	table := tierTable(res, cfg)
	t.Log("\n" + table)
	b, err := os.ReadFile(tiersDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s: no measured table markers", tiersDoc)
	}
	if got := doc[i+len(tableBegin) : j]; got != table {
		if os.Getenv("SLO_UPDATE") == "1" {
			doc = doc[:i+len(tableBegin)] + table + doc[j:]
			if err := os.WriteFile(tiersDoc, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s shows another table than the recordings give (SLO_UPDATE=1 rewrites it); want:\n%s", tiersDoc, table)
	}
}

// evaluateRecorded replays each testdata/*.json with the default Config
// and sums the per-tier counts.
func evaluateRecorded(t *testing.T) Result {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	var sum Result
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ds Dataset
		if err := json.Unmarshal(b, &ds); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		res, err := Evaluate(&ds, Config{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for tier := range sum.Tiers {
			sum.Tiers[tier].Joins += res.Tiers[tier].Joins
			sum.Tiers[tier].Correct += res.Tiers[tier].Correct
			for sig, tr := range res.BySignal[tier] {
				if sum.BySignal[tier] == nil {
					sum.BySignal[tier] = map[probes.Signal]TierResult{}
				}
				s := sum.BySignal[tier][sig]
				s.Joins += tr.Joins
				s.Correct += tr.Correct
				sum.BySignal[tier][sig] = s
			}
		}
	}
	return sum
}

// tierTable renders res as the Markdown table of docs/tiers.md: per tier,
// then per signal within it.
func tierTable(res Result, cfg Config) string {
	var b strings.Builder
	b.WriteString("| tier | signal | joins n | correct | precision | 95 % CI (Wilson) | confidence | in summary |\n")
	b.WriteString("|---|---|---:|---:|---:|---|---:|---|\n")
	row := func(tier, sig string, tr TierResult, conf string, in string) {
		lo, hi := tr.Interval()
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.3f | [%.3f, %.3f] | %s | %s |\n",
			tier, sig, tr.Joins, tr.Correct, tr.Precision(), lo, hi, conf, in)
	}
	for tier := TierExact; tier > TierNone; tier-- {
		in := "no"
		if cfg.Confidence[tier] >= cfg.Threshold {
			in = "yes"
		}
		row("`"+tier.String()+"`", "all", res.Tiers[tier], fmt.Sprintf("%.2f", cfg.Confidence[tier]), in)
		for _, sig := range slices.Sorted(maps.Keys(res.BySignal[tier])) {
			row("", sig.String(), res.BySignal[tier][sig], "", "")
		}
	}
	return b.String()
}
