package correlate

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmslo/slo/probes"
)

// TestEvaluateRecorded replays the labelled data sets recorded from real
// runs (TestRecordLossPrivileged and TestRecordTiersPrivileged with
// SLO_RECORD=1) and checks the joins: precision 1 at the exact tier, and
// recall 1 where every true owner registered its connection (in tiers.json
// some connections were never registered, so their events can only be
// guessed at lower tiers).
func TestEvaluateRecorded(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded data set in testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ds Dataset
			if err := json.Unmarshal(b, &ds); err != nil {
				t.Fatal(err)
			}
			res, err := Evaluate(&ds, Config{})
			if err != nil {
				t.Fatal(err)
			}
			logResult(t, &ds, res)
			if res.Truth == 0 {
				t.Fatal("data set without truth")
			}
			if p := res.TierPrecision(TierExact); p != 1 {
				t.Errorf("exact-tier precision %.3f, want 1", p)
			}
			if r := res.Recall(); fullRecall[filepath.Base(f)] && r != 1 {
				t.Errorf("recall %.3f, want 1", r)
			}
		})
	}
}

// fullRecall names the recordings whose every true pair the default Config
// finds.
var fullRecall = map[string]bool{"loss.json": true}

// TestWilson checks the interval against hand-computed values:
// k = n: lo = n/(n+z²); k = 0: hi = z²/(n+z²); 5 of 10: 0.5 ± 0.26341.
func TestWilson(t *testing.T) {
	for _, tt := range []struct {
		k, n   int
		lo, hi float64
	}{
		{115, 115, 115 / (115 + 3.841459), 1},
		{0, 10, 0, 3.841459 / (10 + 3.841459)},
		{5, 10, 0.236593, 0.763407},
		{0, 0, 0, 1},
	} {
		lo, hi := TierResult{Joins: tt.n, Correct: tt.k}.Interval()
		if math.Abs(lo-tt.lo) > 1e-6 || math.Abs(hi-tt.hi) > 1e-6 {
			t.Errorf("%d of %d: [%.6f, %.6f], want [%.6f, %.6f]", tt.k, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
}

func TestEvaluateSynthetic(t *testing.T) {
	ds := Dataset{Ops: []Op{
		{Kind: OpStart, Req: 1, Mono: t0},
		{Kind: OpStart, Req: 2, Mono: t0},
		{Kind: OpAcquire, Req: 1, Mono: t0, Cookie: 1, Local: local1, Remote: remoteA},
		{Kind: OpAcquire, Req: 2, Mono: t0, Cookie: 2, Local: local2, Remote: remoteA},
		{Kind: OpEvent, Event: ptr(retrans(0, 1, local1, remoteA))},  // 4: req 1, exact
		{Kind: OpEvent, Event: ptr(retrans(0, 99, local1, remoteA))}, // 5: unknown socket → pod_conn to 1 and 2 (wrong)
		{Kind: OpEnd, Req: 1, Mono: at(10)},
		{Kind: OpEnd, Req: 2, Mono: at(10)},
	}, Truth: []Pair{{Event: 4, Req: 1}}}
	// Every join enters the summary (no threshold): the wrong ones count.
	res, err := Evaluate(&ds, Config{Threshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Joins: 3, Correct: 1, Truth: 1, Found: 1}
	want.Tiers[TierExact] = TierResult{Joins: 1, Correct: 1}
	want.Tiers[TierPodConn] = TierResult{Joins: 2}
	if res.Tiers != want.Tiers || res.Joins != want.Joins || res.Correct != want.Correct || res.Truth != want.Truth || res.Found != want.Found || len(res.Wrong) != 2 {
		t.Errorf("got %+v, want %+v", res, want)
	}
	if _, err := Evaluate(&Dataset{Truth: []Pair{{Event: 3}}}, Config{}); err == nil {
		t.Error("truth naming no event: no error")
	}
}

func ptr[T any](v T) *T { return &v }

// logResult logs an evaluation per tier, with the wrong and missed pairs.
func logResult(t *testing.T, ds *Dataset, res Result) {
	t.Helper()
	var evs int
	for _, o := range ds.Ops {
		if o.Kind == OpEvent {
			evs++
		}
	}
	t.Logf("%s: %d events, %d truth pairs", ds.Name, evs, res.Truth)
	for tier := TierExact; tier > TierNone; tier-- {
		tr := res.Tiers[tier]
		t.Logf("  %-15s joins %4d correct %4d precision %.3f", tier, tr.Joins, tr.Correct, res.TierPrecision(tier))
	}
	show := func(what string, ps []Pair) {
		for _, p := range ps {
			if p.Event < 0 {
				t.Logf("  %s: req %d: its share of %v", what, p.Req, probes.Signal(-1-p.Event))
				continue
			}
			ev := ds.Ops[p.Event].Event
			t.Logf("  %s: op %d req %d: %v mono %d cookie %d %v→%v state %d", what, p.Event, p.Req, ev.Signal, ev.Mono, ev.Cookie, ev.Local, ev.Remote, ev.State)
		}
	}
	show("wrong", res.Wrong)
	show("missed", res.Missed)
	t.Logf("  enriched (≥ threshold): precision %.3f recall %.3f (%d/%d joins correct, %d/%d true pairs found)",
		res.Precision(), res.Recall(), res.Correct, res.Joins, res.Found, res.Truth)
}
