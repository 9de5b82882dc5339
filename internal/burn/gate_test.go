package burn_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/burn"
)

func TestMinEvents(t *testing.T) {
	// ⌈1/(factor × (1 − target))⌉ by hand for the default rules (14.4, 6, 1).
	for _, tc := range []struct {
		target float64
		want   []int64
	}{
		{0.99, []int64{7, 17, 100}},     // 1/0.144 = 6.94, 1/0.06 = 16.7, 1/0.01 = 100
		{0.999, []int64{70, 167, 1000}}, // 69.4, 166.7, 1000
		{0.95, []int64{2, 4, 20}},       // 1.39, 3.33, 20
		{0.5, []int64{1, 1, 2}},         // 0.14, 0.33, 2
	} {
		var got []int64
		for _, r := range burn.DefaultRules() {
			got = append(got, r.MinEvents(tc.target))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("MinEvents at %v = %v, want %v", tc.target, got, tc.want)
		}
	}
	// The bound is tight: at n = MinEvents one bad request does not exceed
	// the factor, at n − 1 it does.
	for _, target := range []float64{0.9, 0.95, 0.99, 0.995, 0.999, 0.9999} {
		for _, r := range burn.DefaultRules() {
			n := r.MinEvents(target)
			share := func(n int64) float64 { return 1 / float64(n) / burn.ErrorBudget(target) }
			if share(n) > r.Factor || (n > 1 && !(share(n-1) > r.Factor)) {
				t.Errorf("%v at %v: MinEvents %d is not the bound", r, target, n)
			}
		}
	}
}

// outage drives a series started at t0 with one request a second from t0
// on, bad from t0+badFrom (never when negative), firing after each one, for
// at most d; it returns the seconds and rules of the alerts fired.
func outage(t *testing.T, target float64, g burn.Gate, badFrom, d time.Duration) []string {
	t.Helper()
	s, err := burn.NewSeries(target, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Start(t0)
	al, err := burn.NewAlerter(s, nil, g)
	if err != nil {
		t.Fatal(err)
	}
	var fired []string
	for k := time.Duration(0); k <= d; k += time.Second {
		s.Add(at(k), badFrom < 0 || k < badFrom)
		if a, ok := al.Fire(at(k)); ok {
			fired = append(fired, fmt.Sprintf("%v %s", k, a.Rule))
		}
	}
	return fired
}

// TestColdStart: a series that just started does not page on a few
// seconds of data unless the gate is off; with the default gate a total
// outage pages when the 1h window is half covered; in partial mode when
// rate × coverage exceeds the factor, or later when the long window has too
// few requests. Each first page is computed by hand in its row.
func TestColdStart(t *testing.T) {
	partial := burn.DefaultGate()
	partial.Partial = true
	for _, tc := range []struct {
		name    string
		target  float64
		gate    burn.Gate
		badFrom time.Duration
		d       time.Duration
		want    []string
	}{
		// 99 good then 1 bad in 100 s at 99.9 %: burn 10 over every window.
		// Without a gate: 6h > 6 and 30m > 6 at once (the artefact).
		{"no gate, 1 bad in 100", 0.999, burn.Gate{}, 99 * time.Second, 99 * time.Second,
			[]string{"1m39s 6h>6 and 30m>6"}},
		// With the default gate every window is covered under half: nothing;
		// in partial mode burn 10 × 99/1800 is far under 6.
		{"default gate, 1 bad in 100", 0.999, burn.DefaultGate(), 99 * time.Second, 99 * time.Second, nil},
		{"partial, 1 bad in 100", 0.999, partial, 99 * time.Second, 99 * time.Second, nil},
		// A total outage from t0 without a gate pages on the first request.
		{"no gate, outage", 0.99, burn.Gate{}, 0, time.Hour, []string{"0s 1h>14.4 and 5m>14.4"}},
		// Default gate: the 1h window reaches half coverage at 1800 s (the 5m
		// window is covered from 150 s; 1801 requests >= 7).
		{"default gate, outage at 99%", 0.99, burn.DefaultGate(), 0, time.Hour, []string{"30m0s 1h>14.4 and 5m>14.4"}},
		// Partial: burn 100 × t/3600 > 14.4 from t > 518.4 s (5m: 100 × t/300 > 14.4 from 43.2 s).
		{"partial, outage at 99%", 0.99, partial, 0, time.Hour, []string{"8m39s 1h>14.4 and 5m>14.4"}},
		// Partial at 99.9 %: burn 1000 × t/3600 > 14.4 from t > 51.84 s, but
		// the 1h window needs 70 requests: t + 1 >= 70 at 69 s.
		{"partial, outage at 99.9%", 0.999, partial, 0, time.Hour, []string{"1m9s 1h>14.4 and 5m>14.4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := outage(t, tc.target, tc.gate, tc.badFrom, tc.d); !slices.Equal(got, tc.want) {
				t.Errorf("fired %q, want %q", got, tc.want)
			}
		})
	}
}

// TestColdStartVerdicts: 40 s after start, 99 good and one bad request at
// 99.9 % give burn 10 over every window, and the gate says why no rule
// holds: coverage 40/300 of 5m, 40/1800 of 30m, 40/3600 of 1h.
func TestColdStartVerdicts(t *testing.T) {
	s, _ := burn.NewSeries(0.999, 0)
	s.Start(t0)
	addN(s, at(40*time.Second), 100, 1)
	al := gated(t, s, burn.DefaultGate())
	if a, ok := al.Fire(at(40 * time.Second)); ok {
		t.Fatalf("fired %+v", a)
	}
	for _, tc := range []struct {
		w   time.Duration
		cov float64
	}{
		{5 * time.Minute, 40.0 / 300}, {30 * time.Minute, 40.0 / 1800}, {time.Hour, 40.0 / 3600},
		{6 * time.Hour, 40.0 / 21600}, {72 * time.Hour, 40.0 / 259200},
	} {
		st := s.Stat(at(40*time.Second), tc.w)
		if !approx(st.Coverage, tc.cov) || !approx(st.Rate, 10) {
			t.Errorf("%v: coverage %v burn %v, want %v and 10", tc.w, st.Coverage, st.Rate, tc.cov)
		}
	}
	var got []string
	for r, v := range al.Verdicts() {
		got = append(got, r.String()+": "+v.String())
	}
	want := []string{"1h>14.4 and 5m>14.4: uncovered", "6h>6 and 30m>6: uncovered", "3d>1 and 6h>1: uncovered"}
	if !slices.Equal(got, want) {
		t.Errorf("verdicts %q, want %q", got, want)
	}
}

func gated(t *testing.T, s *burn.Series, g burn.Gate) *burn.Alerter {
	t.Helper()
	al, err := burn.NewAlerter(s, nil, g)
	if err != nil {
		t.Fatal(err)
	}
	return al
}

// TestLowTraffic: a series observed for 4 h, idle, then in five minutes 3
// good and 1 bad request (99 %): burn 25 over 5m, 30m, 1h and 6h, but 4
// requests are under 7 (1h rule) and 17 (6h rule): no page; the 3d window
// is covered 4/72 < 1/2. The same bad share at normal traffic (300 good,
// 100 bad) pages.
func TestLowTraffic(t *testing.T) {
	for _, tc := range []struct {
		name      string
		good, bad int
		fired     bool
		verdicts  []string
	}{
		{"3 good, 1 bad", 3, 1, false, []string{"too few requests", "too few requests", "uncovered"}},
		{"300 good, 100 bad", 300, 100, true, []string{"holds", "holds", "uncovered"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := burn.NewSeries(0.99, 0)
			s.Start(t0)
			al := gated(t, s, burn.DefaultGate())
			base := 4 * time.Hour
			for i := range tc.good {
				s.Add(at(base+time.Duration(i)*time.Second), true)
			}
			now := base + 4*time.Minute
			for range tc.bad {
				s.Add(at(now), false)
			}
			if st := s.Stat(at(now), time.Hour); !approx(st.Rate, 25) || st.Coverage != 1 {
				t.Fatalf("1h: burn %v coverage %v, want 25 and 1", st.Rate, st.Coverage)
			}
			a, ok := al.Fire(at(now))
			if ok != tc.fired || (ok && a.Rule != burn.DefaultRules()[0]) {
				t.Errorf("Fire = %+v, %v; want fired %v", a, ok, tc.fired)
			}
			var got []string
			for _, v := range al.Verdicts() {
				got = append(got, v.String())
			}
			if !slices.Equal(got, tc.verdicts) {
				t.Errorf("verdicts %q, want %q", got, tc.verdicts)
			}
		})
	}
}

// TestUncoveredKeepsState: a rule whose window is not covered enough keeps
// the state it had; a covered window under the factor clears it at once.
func TestUncoveredKeepsState(t *testing.T) {
	s, _ := burn.NewSeries(0.99, 0)
	s.Start(t0)
	al := gated(t, s, burn.DefaultGate())
	addN(s, at(40*time.Minute), 100, 50) // 1h covered 40/60, burn 50: page
	if a, ok := al.Fire(at(40 * time.Minute)); !ok || a.Rule != burn.DefaultRules()[0] {
		t.Fatalf("Fire = %+v, %v; want the 1h page", a, ok)
	}
	// Stopped at +41m, started again at +91m; one bad request at +95m. The
	// 5m window [90m, 95m] is covered 4 of 5 minutes and burns 100; the 1h
	// window [35m, 95m] is covered 6 + 4 = 10 of 60 minutes: uncovered, so
	// the page holds over.
	s.Stop(at(41 * time.Minute))
	s.Start(at(91 * time.Minute))
	s.Add(at(95*time.Minute), false)
	if a, ok := al.Fire(at(95 * time.Minute)); ok || !slices.Contains(holding(al), "1h>14.4 and 5m>14.4") {
		t.Errorf("Fire = %+v, %v; holding %v, want the page held over", a, ok, holding(al))
	}
	if got := s.Coverage(at(95*time.Minute), time.Hour); !approx(got, 10.0/60) {
		t.Errorf("1h coverage %v, want 10/60", got)
	}
	// 1000 good at +96m: the 5m window is covered 5/5 and burns 1/1001/0.01
	// < 14.4: clear, the level falls.
	addN(s, at(96*time.Minute), 1000, 0)
	if _, ok := al.Fire(at(96 * time.Minute)); ok || slices.Contains(holding(al), "1h>14.4 and 5m>14.4") {
		t.Errorf("the page still holds: %v", holding(al))
	}
}
