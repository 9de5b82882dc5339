package burn_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/llmslo/slo/internal/burn"
)

func newAlerter(t *testing.T, s *burn.Series, rules []burn.Rule) *burn.Alerter {
	t.Helper()
	al, err := burn.NewAlerter(s, rules, burn.Gate{})
	if err != nil {
		t.Fatal(err)
	}
	return al
}

// stat is the WindowStat of a window with good of total requests at target 0.99.
func stat(w time.Duration, good, total int64) burn.WindowStat {
	return burn.WindowStat{Window: w, Good: good, Total: total, Rate: float64(total-good) / float64(total) / 0.01}
}

// holding lists the Strings of the rules that held at the last Fire.
func holding(al *burn.Alerter) []string {
	var out []string
	for r := range al.Holding() {
		out = append(out, r.String())
	}
	return out
}

var approxOpt = cmp.Comparer(approx)

// noCoverage leaves WindowStat.Coverage out of a comparison (the scenarios
// run without a gate; TestStat and the gate tests check coverage).
var noCoverage = cmpopts.IgnoreFields(burn.WindowStat{}, "Coverage")

// pageSeries is the series of the page scenario (target 0.99): 1 good
// request at t0, 899 with 130 bad at +10m, 100 with 20 bad at +58m.
func pageSeries(t *testing.T) *burn.Series {
	t.Helper()
	s := newSeries(t, 0.99)
	addN(s, at(10*time.Minute), 899, 130)
	addN(s, at(58*time.Minute), 100, 20)
	return s
}

// TestStat checks the windows of the page scenario at +1h by hand.
func TestStat(t *testing.T) {
	s := pageSeries(t)
	now := at(time.Hour)
	// 1h window [t0, t0+1h]: 1000 requests, 150 bad: 15% / 1% = 15.
	// 5m window [t0+55m, t0+1h]: 100 requests, 20 bad: 20.
	// Coverage: the series started at t0 (its first Add), so one hour is
	// observed: all of the windows up to 1h, 1/6 of 6h, 1/72 of 3d.
	for _, tc := range []struct {
		w           time.Duration
		good, total int64
		burn, cov   float64
	}{
		{5 * time.Minute, 80, 100, 20, 1},
		{30 * time.Minute, 80, 100, 20, 1},
		{time.Hour, 850, 1000, 15, 1},
		{6 * time.Hour, 850, 1000, 15, 1.0 / 6},
		{72 * time.Hour, 850, 1000, 15, 1.0 / 72},
		{50 * time.Minute, 849, 999, 150.0 / 999 / 0.01, 1}, // 1h ring, 50 buckets: [t0+10m, t0+1h]
		{time.Minute, 0, 0, 0, 1},                           // served by the 5m ring: nothing in the last minute
		{0, 0, 0, 0, 0},
	} {
		want := burn.WindowStat{Window: tc.w, Good: tc.good, Total: tc.total, Rate: tc.burn, Coverage: tc.cov}
		if diff := cmp.Diff(want, s.Stat(now, tc.w), approxOpt); diff != "" {
			t.Errorf("Stat(%v) (-want +got):\n%s", tc.w, diff)
		}
	}
	if got := s.BudgetRemaining(now); !approx(got, -14) { // 1 - 150/(0.01*1000)
		t.Errorf("BudgetRemaining = %v, want -14", got)
	}
}

// TestPageScenario walks one objective (target 0.99) through a page, a fall
// to ticket, a second page, a fall once the short windows empty and a third
// page, with hand-computed windows (see TestStat for the first ones).
func TestPageScenario(t *testing.T) {
	s := pageSeries(t)
	al := newAlerter(t, s, nil) // default rules
	now := at(time.Hour)
	rules := burn.DefaultRules()
	wantPage := burn.Alert{Severity: burn.Page, Rule: rules[0],
		Long: stat(time.Hour, 850, 1000), Short: stat(5*time.Minute, 80, 100)}
	got, ok := al.Fire(now)
	if diff := cmp.Diff(wantPage, got, approxOpt, noCoverage); !ok || diff != "" {
		t.Fatalf("Fire = %v (-want +got):\n%s", ok, diff)
	}
	// Every rule holds (6h 15 > 6 and 30m 20 > 6; 3d and 6h > 1).
	if diff := cmp.Diff([]string{"1h>14.4 and 5m>14.4", "6h>6 and 30m>6", "3d>1 and 6h>1"}, holding(al)); diff != "" {
		t.Errorf("Holding (-want +got):\n%s", diff)
	}
	// Still burning: no refire.
	addN(s, at(61*time.Minute), 10, 10)
	if a, ok := al.Fire(at(61 * time.Minute)); ok {
		t.Errorf("Fire refired while holding: %+v", a)
	}
	// Recovery at t0+62m: 2000 good.
	// 1h [t0+2m, t0+62m]: 3009 requests, 160 bad -> 5.3; 5m [t0+57m, t0+62m]: 2110, 30 bad -> 1.42.
	// Both page rules stop holding (6h 5.3 <= 6); the ticket rule holds: the level falls to ticket.
	addN(s, at(62*time.Minute), 2000, 0)
	now = at(62 * time.Minute)
	if got := s.BurnRate(now, time.Hour); !approx(got, 160.0/3009/0.01) {
		t.Errorf("1h burn after recovery = %v", got)
	}
	if a, ok := al.Fire(now); ok {
		t.Errorf("Fire during recovery: %+v", a)
	}
	if diff := cmp.Diff([]string{"3d>1 and 6h>1"}, holding(al)); diff != "" {
		t.Errorf("Holding after recovery (-want +got):\n%s", diff)
	}
	// A new burst at t0+70m: 1000 all bad. The page re-armed when the level fell.
	// 1h [t0+10m, t0+70m]: 899+100+10+2000+1000 = 4009 requests, 130+20+10+1000 = 1160 bad.
	addN(s, at(70*time.Minute), 1000, 1000)
	got, ok = al.Fire(at(70 * time.Minute))
	want := burn.Alert{Severity: burn.Page, Rule: rules[0],
		Long: stat(time.Hour, 4009-1160, 4009), Short: stat(5*time.Minute, 0, 1000)}
	if diff := cmp.Diff(want, got, approxOpt, noCoverage); !ok || diff != "" {
		t.Fatalf("second page = %v (-want +got):\n%s", ok, diff)
	}
	// Expiry: two hours later the 5m, 30m and 1h windows are empty, so no
	// page rule holds although the 6h burn is 1160/4010/0.01 = 28.9.
	now = at(3 * time.Hour)
	for _, w := range []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour} {
		if g, n := s.Counts(now, w); g != 0 || n != 0 {
			t.Errorf("Counts(%v) after expiry = %d, %d", w, g, n)
		}
	}
	if g, n := s.Counts(now, 6*time.Hour); n != 4010 || g != 2850 {
		t.Errorf("Counts(6h) = %d, %d; want 2850, 4010", g, n)
	}
	if a, ok := al.Fire(now); ok || !slices.Equal(holding(al), []string{"3d>1 and 6h>1"}) {
		t.Errorf("Fire at +3h = %+v, %v; holding %v", a, ok, holding(al))
	}
	// Ten bad requests a minute later page again: 5m and 1h burn 100.
	addN(s, at(3*time.Hour+time.Minute), 10, 10)
	if a, ok := al.Fire(at(3*time.Hour + time.Minute)); !ok || a.Rule != rules[0] {
		t.Errorf("third page = %+v, %v", a, ok)
	}
}

// TestTicketScenario exercises the 3d/6h ticket rule alone.
func TestTicketScenario(t *testing.T) {
	s := newSeries(t, 0.99)
	addN(s, at(time.Minute), 999, 20) // 1000 requests with t0's, 20 bad: burn 2
	al := newAlerter(t, s, burn.DefaultRules())
	rules := burn.DefaultRules()
	want := burn.Alert{Severity: burn.Ticket, Rule: rules[2], Long: stat(72*time.Hour, 980, 1000), Short: stat(6*time.Hour, 980, 1000)}
	got, ok := al.Fire(at(time.Hour))
	if diff := cmp.Diff(want, got, approxOpt, noCoverage); !ok || diff != "" {
		t.Fatalf("Fire = %v (-want +got):\n%s", ok, diff)
	}
	// At +7h the 6h window [t0+1h, t0+7h] is empty: the rule stops holding
	// (the 3d burn is still 2) and re-arms.
	if a, ok := al.Fire(at(7 * time.Hour)); ok || len(holding(al)) != 0 {
		t.Errorf("Fire at +7h = %+v, %v; holding %v", a, ok, holding(al))
	}
	// 4000 good at +8h: 3d 5000/20 bad -> 0.4, 6h 4000/0 -> 0.
	addN(s, at(8*time.Hour), 4000, 0)
	if a, ok := al.Fire(at(8 * time.Hour)); ok {
		t.Errorf("Fire at +8h = %+v", a)
	}
	// 1000 with 60 bad at +9h: 3d 6000/80 -> 1.33, 6h [t0+3h, t0+9h] 5000/60 -> 1.2: ticket again.
	addN(s, at(9*time.Hour), 1000, 60)
	got, ok = al.Fire(at(9 * time.Hour))
	want = burn.Alert{Severity: burn.Ticket, Rule: rules[2], Long: stat(72*time.Hour, 5920, 6000), Short: stat(6*time.Hour, 4940, 5000)}
	if diff := cmp.Diff(want, got, approxOpt, noCoverage); !ok || diff != "" {
		t.Fatalf("re-fire = %v (-want +got):\n%s", ok, diff)
	}
	if got := s.BudgetRemaining(at(9 * time.Hour)); !approx(got, 1-80.0/60) {
		t.Errorf("BudgetRemaining = %v", got)
	}
}

// TestEscalation: a page after a ticket escalates; a page rule starting to
// hold while another holds is silent; after a fall to ticket, the second
// page rule pages on its own.
func TestEscalation(t *testing.T) {
	s := newSeries(t, 0.99)
	al := newAlerter(t, s, nil)
	rules := burn.DefaultRules()
	addN(s, at(time.Minute), 999, 20) // burn 2: ticket
	if a, ok := al.Fire(at(time.Hour)); !ok || a.Severity != burn.Ticket {
		t.Fatalf("Fire = %+v, %v; want ticket", a, ok)
	}
	// 1000 with 500 bad at +61m. 1h [t0+1m, t0+61m]: 1999, 520 bad -> 26;
	// 5m: 500/1000 -> 50. Escalates to page (the 6h/30m rule holds too).
	addN(s, at(61*time.Minute), 1000, 500)
	if a, ok := al.Fire(at(61 * time.Minute)); !ok || a.Rule != rules[0] {
		t.Fatalf("Fire = %+v, %v; want the 1h/5m page", a, ok)
	}
	if a, ok := al.Fire(at(62 * time.Minute)); ok {
		t.Errorf("second page rule reported separately: %+v", a)
	}
	// 20000 good at +70m. 1h [t0+10m, t0+70m]: 21000, 500 bad -> 2.38;
	// 6h: 22000, 520 bad -> 2.36: both page rules stop, the ticket holds.
	addN(s, at(70*time.Minute), 20000, 0)
	if a, ok := al.Fire(at(70 * time.Minute)); ok || !slices.Equal(holding(al), []string{"3d>1 and 6h>1"}) {
		t.Fatalf("Fire at +70m = %+v, %v; holding %v", a, ok, holding(al))
	}
	// 1000 bad at +80m. 1h [t0+20m, t0+80m]: 22000, 1500 bad -> 6.8 (< 14.4);
	// 30m [t0+50m, t0+80m] the same -> 6.8; 6h: 23000, 1520 bad -> 6.6: the
	// 6h/30m rule pages.
	addN(s, at(80*time.Minute), 1000, 1000)
	want := burn.Alert{Severity: burn.Page, Rule: rules[1],
		Long: stat(6*time.Hour, 23000-1520, 23000), Short: stat(30*time.Minute, 22000-1500, 22000)}
	got, ok := al.Fire(at(80 * time.Minute))
	if diff := cmp.Diff(want, got, approxOpt, noCoverage); !ok || diff != "" {
		t.Fatalf("page after the fall = %v (-want +got):\n%s", ok, diff)
	}
}

func TestInvalidRules(t *testing.T) {
	s, _ := burn.NewSeries(0.9, 0)
	if _, err := burn.NewAlerter(s, burn.DefaultRules(), burn.Gate{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []burn.Rule{
		{Severity: burn.None, Long: time.Hour, Short: time.Minute, Factor: 1},
		{Severity: 7, Long: time.Hour, Short: time.Minute, Factor: 1},
		{Severity: burn.Page, Long: time.Hour, Short: 0, Factor: 1},
		{Severity: burn.Page, Long: time.Minute, Short: time.Hour, Factor: 1},
		{Severity: burn.Page, Long: time.Hour, Short: time.Minute, Factor: 0},
		{Severity: burn.Page, Long: time.Hour, Short: time.Minute, Factor: math.NaN()},
		{Severity: burn.Page, Long: time.Hour, Short: time.Minute, Factor: math.Inf(1)},
	} {
		if _, err := burn.NewAlerter(s, []burn.Rule{r}, burn.Gate{}); err == nil || !strings.Contains(err.Error(), "invalid burn-rate rule") {
			t.Errorf("NewAlerter(%+v) = %v", r, err)
		}
	}
	if _, err := burn.NewAlerter(nil, nil, burn.Gate{}); err == nil {
		t.Error("NewAlerter(nil) accepted it")
	}
}

func TestDefaultRulesIsACopy(t *testing.T) {
	r := burn.DefaultRules()
	r[0].Factor = 1
	if burn.DefaultRules()[0].Factor == 1 {
		t.Error("DefaultRules shares its backing array")
	}
	s := newSeries(t, 0.9)
	addN(s, at(time.Minute), 10, 10)
	al := newAlerter(t, s, r[:1])
	r[0].Factor = 99
	if _, ok := al.Fire(at(time.Minute)); !ok || !slices.Equal(holding(al), []string{"1h>1 and 5m>1"}) {
		t.Errorf("NewAlerter kept the caller's slice: holding %v", holding(al))
	}
}

func TestRuleString(t *testing.T) {
	var got []string
	for _, r := range burn.DefaultRules() {
		got = append(got, r.String())
	}
	if diff := cmp.Diff([]string{"1h>14.4 and 5m>14.4", "6h>6 and 30m>6", "3d>1 and 6h>1"}, got); diff != "" {
		t.Errorf("rule texts (-want +got):\n%s", diff)
	}
}

func TestSeverityString(t *testing.T) {
	for v, want := range map[burn.Severity]string{burn.None: "none", burn.Ticket: "ticket", burn.Page: "page", 9: "severity(9)"} {
		if got := v.String(); got != want {
			t.Errorf("%d.String() = %q", v, got)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	s := newSeries(t, 0.99)
	al := newAlerter(t, s, nil)
	now := t0
	if n := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Second)
		s.Add(now, now.Unix()%3 != 0)
		_, _ = al.Fire(now)
		for range al.Holding() {
		}
		_ = s.BudgetRemaining(now)
	}); n != 0 {
		t.Errorf("allocs per Add+Fire+Holding = %v", n)
	}
}

func BenchmarkAlerterFire(b *testing.B) {
	s, _ := burn.NewSeries(0.99, 0)
	al, _ := burn.NewAlerter(s, nil, burn.Gate{})
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(10 * time.Millisecond)
		s.Add(now, i%10 != 0)
		_, _ = al.Fire(now)
	}
}
