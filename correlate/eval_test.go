package correlate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestEvaluateRecorded replays the labelled data sets recorded from real
// runs (TestRecordLossPrivileged with SLO_RECORD=1) and checks the joins:
// precision and recall 1 at the exact tier.
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
			if r := res.Recall(); r != 1 {
				t.Errorf("recall %.3f, want 1", r)
			}
		})
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
	res, err := Evaluate(&ds, Config{})
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
			ev := ds.Ops[p.Event].Event
			t.Logf("  %s: op %d req %d: %v mono %d cookie %d %v→%v state %d", what, p.Event, p.Req, ev.Signal, ev.Mono, ev.Cookie, ev.Local, ev.Remote, ev.State)
		}
	}
	show("wrong", res.Wrong)
	show("missed", res.Missed)
	t.Logf("  enriched (≥ threshold): precision %.3f recall %.3f (%d/%d joins correct, %d/%d true pairs found)",
		res.Precision(), res.Recall(), res.Correct, res.Joins, res.Found, res.Truth)
}
