package lab

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	slo "github.com/llmslo/slo"
	"github.com/llmslo/slo/internal/burn"
)

// TestPageArithmetic: three days of history at 10 requests a second, then
// requests every 100 ms, bad from F on at share f. The 1h window holds
// 36 000 requests; by hand the fast page rule holds once its bad requests
// exceed 0.0144 × 36 000 = 518.4 (99.9 %) or 0.144 × 36 000 = 5184 (99 %):
// at the 519th bad request (51.8 s; every other: 103.6 s), and one step
// (20 ms) after the 5184th (518.3 s), when the window has slid 0.2 history
// requests out and 5184 > 0.144 × 35 999.8.
func TestPageArithmetic(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	fault := t0.Add(3 * time.Second)
	h := history{rate: 10, from: t0.Add(-warmHistory), to: t0}
	for _, tc := range []struct {
		name   string
		target float64
		every  int // one bad request in every
		want   time.Duration
	}{
		{"outage 99.9%", 0.999, 1, 51800 * time.Millisecond},
		{"outage 99%", 0.99, 1, 518320 * time.Millisecond},
		{"half bad 99.9%", 0.999, 2, 103600 * time.Millisecond},
		{"no fault", 0.999, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reqs []Req
			for k := 1; k <= 6000*10; k++ {
				end := t0.Add(time.Duration(k) * 100 * time.Millisecond)
				bad := tc.every > 0 && !end.Before(fault) && (int(end.Sub(fault)/(100*time.Millisecond)))%tc.every == 0
				reqs = append(reqs, Req{End: end, Judged: true, Good: !bad})
			}
			got := pageArithmetic(tc.target, h, reqs, fault, fault.Add(20*time.Minute))
			if tc.want == 0 {
				if !got.IsZero() {
					t.Errorf("arithmetic held at %v without a fault", got.Sub(fault))
				}
				return
			}
			if d := got.Sub(fault); d != tc.want {
				t.Errorf("arithmetic %v into the fault, want %v", d, tc.want)
			}
		})
	}
}

// TestWarmState: the synthesised state file restores into a tracker with
// every window covered and 10 requests a second in it, nothing bad.
func TestWarmState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	objs := detectObjectives(250 * time.Millisecond)
	end := time.Now()
	if err := writeWarmState(path, objs, 10, end); err != nil {
		t.Fatal(err)
	}
	tr, err := slo.New(slo.WithObjectives(objs...), slo.WithStateFile(path), slo.WithoutProbes(), slo.WithErrorHandler(func(error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, b := range tr.Budget() {
		if b.Origin != slo.OriginRestored {
			t.Fatalf("%s: origin %s (%s)", b.Objective, b.Origin, tr.Status().State.Refused)
		}
		for _, w := range b.BurnRates {
			want := 10 * windowDur(w.Window).Seconds()
			if w.Coverage < 0.999 || math.Abs(float64(w.Total)-want) > 0.002*want+10 || w.Good != w.Total {
				t.Errorf("%s %s: %d/%d requests, coverage %v; want %v, all good, covered", b.Objective, w.Window, w.Good, w.Total, w.Coverage, want)
			}
		}
		if len(b.Alerting) != 0 || math.Abs(b.Coverage-0.1) > 0.001 {
			t.Errorf("%s: alerting %v, period coverage %v", b.Objective, b.Alerting, b.Coverage)
		}
	}
}

func windowDur(name string) time.Duration {
	for _, w := range burn.StandardWindows() {
		if w.Name == name {
			return w.Dur
		}
	}
	return 0
}

// TestSummarizeDetection: hand-made runs give the counts and quantiles by
// hand.
func TestSummarizeDetection(t *testing.T) {
	f := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return f.Add(time.Duration(s * float64(time.Second))) }
	run := func(name string, fault bool, o999, o99 DetectObjective) DetectRun {
		r := DetectRun{Scenario: name, Objectives: []DetectObjective{o99, o999}}
		if fault {
			r.FaultAt = f
		}
		return r
	}
	runs := []DetectRun{
		run("dns", true, DetectObjective{Judged: 600, Bad: 600, Arithmetic: at(51.8), Page: at(52.1)}, DetectObjective{Judged: 600, Bad: 600}),
		run("dns", true, DetectObjective{Judged: 600, Bad: 600, Arithmetic: at(51.9), Page: at(52.5)}, DetectObjective{Judged: 600, Bad: 600, Arithmetic: at(518.3)}),
		run("free", false, DetectObjective{Pages: 0}, DetectObjective{Pages: 1}),
	}
	d := (&DetectRecord{Runs: runs, MaxFault: "2m0s"}).summarize()
	if d.Held != 3 || d.Paged != 2 || d.Missed != 1 || d.Early != 0 || d.FaultFreeRuns != 1 || d.FaultFreePages != 1 {
		t.Errorf("counts %+v", d)
	}
	if math.Abs(d.ExcessP50-0.3) > 1e-9 || math.Abs(d.ExcessP95-0.6) > 1e-9 {
		t.Errorf("excess p50 %v p95 %v, want 0.3 and 0.6", d.ExcessP50, d.ExcessP95)
	}
	if len(d.Targets) != 2 || d.Targets[0].Met || d.Targets[0].Value != d.ExcessP95 || d.Targets[1].Met || d.Targets[1].Value != 1 {
		t.Errorf("targets %+v: want both unmet (one held without a page; one fault-free page)", d.Targets)
	}
	s := d.Scenarios[1] // dns at 99.9 %
	if s.Target != 0.999 || s.BadShare != 1 || math.Abs(s.ClosedForm-51.84) > 1e-9 || s.DelayP50 != 52.1 || s.ArithP95 != 51.9 {
		t.Errorf("dns 99.9%%: %+v", s)
	}
}

// TestJudge: a run's pages are told apart by objective; a page before the
// fault counts among the pages but not as the detection; the requests
// judged in the fault and the bad ones are counted per objective; a
// fault-free run has no arithmetic.
func TestJudge(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	objs := detectObjectives(200 * time.Millisecond)
	fault := t0.Add(3 * time.Second)
	var reqs []Req
	for k := 1; k <= 100; k++ { // every 100 ms for 10 s, bad from the fault on
		end := t0.Add(time.Duration(k) * 100 * time.Millisecond)
		reqs = append(reqs, Req{End: end, Judged: true, Good: end.Before(fault)}, Req{End: end}) // and one not judged
	}
	incs := []IncidentRec{
		{At: t0.Add(time.Second), Severity: "page", Objective: objs[1].Name()},
		{At: t0.Add(6 * time.Second), Severity: "ticket", Objective: objs[1].Name()},
		{At: t0.Add(7 * time.Second), Severity: "page", Objective: objs[1].Name()},
		{At: t0.Add(9 * time.Second), Severity: "page", Objective: objs[1].Name()},
	}
	h := history{rate: 10, from: t0.Add(-warmHistory), to: t0}
	r := DetectRun{FaultAt: fault, FaultEnd: t0.Add(10 * time.Second), End: t0.Add(10 * time.Second)}
	r.judge(reqs, incs, h, objs)
	o99, o999 := r.Objectives[0], r.Objectives[1]
	if o99.Target != 0.99 || o99.Pages != 0 || !o99.Page.IsZero() || o99.Judged != 71 || o99.Bad != 71 || !o99.Arithmetic.IsZero() {
		t.Errorf("99 %%: %+v, want 71 of 71 bad, no page, no arithmetic within 7 s", o99)
	}
	if o999.Target != 0.999 || o999.Pages != 3 || !o999.Page.Equal(t0.Add(7*time.Second)) || o999.Judged != 71 {
		t.Errorf("99.9 %%: %+v, want 3 pages, the first in the fault at 7 s", o999)
	}
	free := DetectRun{End: r.End}
	free.judge(reqs, nil, h, objs)
	if o := free.Objectives[1]; o.Judged != 0 || !o.Arithmetic.IsZero() || !o.Page.IsZero() {
		t.Errorf("fault-free: %+v", o)
	}
}

// TestDetectHandler: a warm service reports the objectives that paged since
// the given instant and the requests judged since then, and hands every
// other path to the application.
func TestDetectHandler(t *testing.T) {
	store := &recordStore{}
	t0 := time.Now()
	for k, bad := range []bool{false, true, true, false} {
		r := slo.RequestRecord{End: t0.Add(time.Duration(k) * time.Second), Objectives: []string{"a"}}
		if bad {
			r.Breached = []string{"a"}
		}
		store.add(context.Background(), r)
	}
	store.add(context.Background(), slo.RequestRecord{End: t0.Add(3 * time.Second)}) // not judged
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := detectHandler(app, nil, store)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, detectPath+"?since="+url.QueryEscape(t0.Add(time.Second).Format(time.RFC3339Nano)), nil))
	var p detectProgress
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	if p.Judged != 3 || p.Bad != 2 || len(p.Paged) != 0 {
		t.Errorf("progress %+v, want 2 bad of 3 judged, no page", p)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("the application's path answered %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, detectPath+"?since=yesterday", nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("a bad since answered %d", rec.Code)
	}
}
