package slo

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/burn"
	"github.com/llmslo/slo/internal/promtest"
)

// fleetMinute is the fleet's traffic of one minute m (0 = three days before
// the tracker starts) on a 90 % error-rate objective: replica a serves 6
// requests, one failing from minute 2880 (the last day, burn 1), three
// from minute 4140 (the last 3 h, burn 3); replica b serves 4, none failing,
// and restarts at minute 1000 (its counter starts again from 0).
func fleetMinute(m int) (aGood, aBad, bGood int) {
	switch {
	case m >= 4140:
		return 3, 3, 4
	case m >= 2880:
		return 5, 1, 4
	}
	return 6, 0, 4
}

// fleetHistory writes the fleet's counters, one sample a minute from minute
// 0 to minutes (the requests of minute m counted at m+1), as OpenMetrics,
// with a job "other" of the same objective failing every request (which
// the selector must leave out).
func fleetHistory(t0 time.Time, minutes int) []byte {
	var b strings.Builder
	b.WriteString("# TYPE llm_slo_requests counter\n")
	series := []struct {
		labels string
		value  func(m int) int
	}{
		{`job="fleet",instance="a",objective="error_rate_p90",good="true"`, func(m int) int { g, _, _ := fleetMinute(m); return g }},
		{`job="fleet",instance="a",objective="error_rate_p90",good="false"`, func(m int) int { _, bad, _ := fleetMinute(m); return bad }},
		{`job="fleet",instance="b",objective="error_rate_p90",good="true"`, func(m int) int { _, _, g := fleetMinute(m); return g }},
		{`job="other",instance="c",objective="error_rate_p90",good="false"`, func(int) int { return 100 }},
	}
	for i, s := range series {
		v := 0
		for k := 0; k <= minutes; k++ {
			if i == 2 && k == 1000 {
				v = 0 // replica b restarted
			}
			if k > 0 {
				v += s.value(k - 1)
			}
			fmt.Fprintf(&b, "llm_slo_requests_total{%s} %d %d\n", s.labels, v, t0.Add(time.Duration(k)*time.Minute).Unix())
		}
	}
	b.WriteString("# EOF\n")
	return []byte(b.String())
}

// fleetReference is a series fed the fleet's requests of minutes [0, upTo)
// at m:30, observed from t0: what an uninterrupted tracker would hold.
func fleetReference(t *testing.T, t0 time.Time, upTo int) *burn.Series {
	t.Helper()
	s, err := burn.NewSeries(0.9, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Start(t0)
	for m := range upTo {
		at := t0.Add(time.Duration(m)*time.Minute + 30*time.Second)
		aGood, aBad, bGood := fleetMinute(m)
		for range aGood + bGood {
			s.Add(at, true)
		}
		for range aBad {
			s.Add(at, false)
		}
	}
	return s
}

// TestSeedFromPrometheus backfills a real Prometheus server with three days
// of a two-replica fleet and starts a tracker seeded from it. Its long
// windows then hold what a tracker fed the fleet's requests all along holds:
// by hand, 6h burn 720/3600/0.1 = 2, 1d 1800/14400/0.1 = 1.25, 3d and 30d
// 1800/43200/0.1 = 0.4167, the period covered 3/30. The counts are equal
// (Prometheus 2 includes the sample at a bucket's start in the bucket's
// range); with left-open ranges (Prometheus 3) increase() extrapolates a
// bucket's first minute from the others, which can move one request between
// good and bad in a bucket where the bad share changes (the 3 h fault starts
// inside a 24m, 72m and 12h bucket): the bound allowed. The short windows
// are empty and fill with the tracker's own requests. Three minutes later
// Tracker.Seed reads the partial newest buckets too.
func TestSeedFromPrometheus(t *testing.T) {
	start := time.Now().Add(-6 * time.Hour).Truncate(time.Hour)
	t0 := start.Add(-72 * time.Hour)
	srv := promtest.Start(t, promtest.Options{Backfill: fleetHistory(t0, 4320+3)})
	clk := &fakeClock{now: start}
	logs := &logRecords{}
	tr, err := New(WithObjectives(ErrorRate(0.9)), withClock(clk.Now), WithoutProbes(), WithLogger(slog.New(logs)),
		WithPrometheusSeed(PrometheusSeed{URL: srv.URL, Selector: `job="fleet"`}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	seed := waitSeed(t, tr)
	if seed.State != "seeded" || strings.Join(seed.Windows, " ") != "6h 1d 3d 30d" {
		t.Fatalf("seed status %+v", seed)
	}
	b := tr.Budget()[0]
	ref := fleetReference(t, t0, 4320)
	for _, tc := range []struct {
		w         string
		burn, cov float64
		extraBad  int64 // by hand: the bucket where the fault starts
	}{
		{"6h", 2, 1, 0}, {"1d", 1.25, 1, 1}, {"3d", 1800.0 / 4320, 1, 1},
	} {
		got := rate(b, tc.w)
		want := ref.Stat(start, windowDur(tc.w))
		d := (got.Total - got.Good) - (want.Total - want.Good)
		if got.Total != want.Total || d < -tc.extraBad || d > tc.extraBad || !approx(got.Coverage, tc.cov) ||
			math.Abs(want.Rate-tc.burn) > 1e-9 || math.Abs(got.Rate-tc.burn) > float64(tc.extraBad)/float64(got.Total)/0.1+1e-9 {
			t.Errorf("%s: seeded %d/%d good, burn %.4f, coverage %v; uninterrupted %d/%d, burn %.4f; by hand %.4f",
				tc.w, got.Good, got.Total, got.Rate, got.Coverage, want.Good, want.Total, want.Rate, tc.burn)
		}
		t.Logf("%s: seeded burn %.4f (%d bad of %d), uninterrupted %.4f (%d of %d), by hand %.4f", tc.w, got.Rate,
			got.Total-got.Good, got.Total, want.Rate, want.Total-want.Good, want.Total, tc.burn)
	}
	if want := ref.Stat(start, burn.DefaultPeriod); b.Total != want.Total || !approx(b.Coverage, 0.1) || b.Origin != OriginSeeded {
		t.Errorf("period: seeded %d/%d, coverage %v, origin %q; uninterrupted %d/%d", b.Good, b.Total, b.Coverage, b.Origin, want.Good, want.Total)
	}
	for _, w := range []string{"5m", "30m", "1h"} {
		if r := rate(b, w); r.Total != 0 || r.Coverage != 0 {
			t.Errorf("%s after seeding: %+v, want empty and uncovered", w, r)
		}
	}
	h := tr.Instrument(statusHandler)
	clk.Advance(10 * time.Second)
	for range 5 {
		serve(h, "200")
	}
	if r := rate(tr.Budget()[0], "5m"); r.Total != 5 || !approx(r.Coverage, 10.0/300) {
		t.Errorf("5m after 5 requests of its own: %+v", r)
	}

	clk.Advance(3*time.Minute - 10*time.Second)
	if err := tr.Seed(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, ref = tr.Budget()[0], fleetReference(t, t0, 4323)
	for _, w := range []string{"6h", "1d", "3d"} {
		got, want := rate(b, w), ref.Stat(clk.Now(), windowDur(w))
		if d := (got.Total - got.Good) - (want.Total - want.Good); got.Total != want.Total || d < 0 || d > 1 {
			t.Errorf("%s at +3m: seeded %d/%d good, uninterrupted %d/%d", w, got.Good, got.Total, want.Good, want.Total)
		}
	}
	if l := logs.lines(); len(l) != 2 || !strings.Contains(l[0], "seeded from Prometheus") {
		t.Errorf("log lines %q, want one per seeding", l)
	}
}

func waitSeed(t *testing.T, tr *Tracker) SeedStatus {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := tr.Status().State.Seed
		if s.State != "pending" || time.Now().After(deadline) {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func rate(b BudgetStatus, window string) BurnRate {
	for _, r := range b.BurnRates {
		if r.Window == window {
			return r
		}
	}
	return BurnRate{}
}

func windowDur(name string) time.Duration {
	return time.Duration(windowSeconds(name) * float64(time.Second))
}

// TestSeedFails: an unreachable API, one that does not answer in time and
// one whose answer is over the points bound leave the tracker cold with a
// failed status and one log line; New refuses a selector with braces.
func TestSeedFails(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leaving
		<-r.Context().Done()
	}))
	defer slow.Close()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var pts []string
		for i := range 100 {
			pts = append(pts, fmt.Sprintf(`[%d,"1"]`, 1700000000+60*i))
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"objective":"error_rate_p99","good":"true"},"values":[%s]}]}}`, strings.Join(pts, ","))
	}))
	defer big.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	for _, tc := range []struct {
		name, reason string
		seed         PrometheusSeed
	}{
		{"unreachable", "connection refused", PrometheusSeed{URL: closedURL}},
		{"timeout", "context deadline exceeded", PrometheusSeed{URL: slow.URL, Timeout: 200 * time.Millisecond}},
		{"too many points", "too large", PrometheusSeed{URL: big.URL, MaxPoints: 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logRecords{}
			tr, err := New(WithObjectives(ErrorRate(0.99)), WithoutProbes(), WithLogger(slog.New(logs)), WithPrometheusSeed(tc.seed))
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			s := waitSeed(t, tr)
			if s.State != "failed" || !strings.Contains(s.Error, tc.reason) {
				t.Errorf("seed status %+v, want failed with %q", s, tc.reason)
			}
			if b := tr.Budget()[0]; b.Origin != OriginCold || b.Total != 0 {
				t.Errorf("budget after a failed seeding: %+v", b)
			}
			if l := logs.lines(); len(l) != 1 || !strings.Contains(l[0], "seeding from Prometheus failed") {
				t.Errorf("log lines %q", l)
			}
		})
	}
	if _, err := New(WithPrometheusSeed(PrometheusSeed{URL: "http://x", Selector: `{job="a"}`})); err == nil {
		t.Error("New accepted a selector with braces")
	}
}
