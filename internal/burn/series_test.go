package burn_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmslo/slo/internal/burn"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// addN records n requests at t, the first bad of them bad.
func addN(s *burn.Series, t time.Time, n, bad int) {
	for i := range n {
		s.Add(t, i >= bad)
	}
}

func newSeries(t *testing.T, target float64) *burn.Series {
	t.Helper()
	s, err := burn.NewSeries(target, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Add(t0, true) // fixes the bucket alignment at t0
	return s
}

const eps = 1e-9

func approx(a, b float64) bool { return math.Abs(a-b) <= eps*math.Max(1, math.Abs(b)) }

func TestNewSeries(t *testing.T) {
	for _, tc := range []struct {
		target float64
		period time.Duration
		ok     bool
	}{
		{0.99, 0, true},
		{0.5, 7 * 24 * time.Hour, true},
		{0.999, time.Hour, true},
		{0, 0, false},
		{1, 0, false},
		{-0.1, 0, false},
		{math.NaN(), 0, false},
		{0.99, -time.Hour, false},
	} {
		s, err := burn.NewSeries(tc.target, tc.period)
		if (err == nil) != tc.ok || (s != nil) != tc.ok {
			t.Errorf("NewSeries(%v, %v) = %v, %v; want ok=%v", tc.target, tc.period, s, err, tc.ok)
		}
	}
	s, _ := burn.NewSeries(0.99, 0)
	want := []burn.Window{
		{"5m", 5 * time.Minute}, {"30m", 30 * time.Minute}, {"1h", time.Hour}, {"6h", 6 * time.Hour},
		{"1d", 24 * time.Hour}, {"3d", 72 * time.Hour}, {"30d", burn.DefaultPeriod},
	}
	if diff := cmp.Diff(want, s.Windows()); diff != "" {
		t.Errorf("Windows (-want +got):\n%s", diff)
	}
	if s.Period() != burn.DefaultPeriod || s.Target() != 0.99 {
		t.Errorf("Period, Target = %v, %v", s.Period(), s.Target())
	}
	// A period equal to a standard window is not kept twice; a short one sorts first.
	s, _ = burn.NewSeries(0.9, time.Minute)
	if got := len(s.Windows()); got != 7 || s.Windows()[0].Name != "1m" {
		t.Errorf("Windows with 1m period = %v", s.Windows())
	}
	s, _ = burn.NewSeries(0.9, time.Hour)
	if got := len(s.Windows()); got != 6 {
		t.Errorf("Windows with 1h period = %v", s.Windows())
	}
}

func TestWindowName(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", 90 * time.Minute: "90m", 6 * time.Hour: "6h", 72 * time.Hour: "3d",
		36 * time.Hour: "36h", 1500 * time.Millisecond: "1.5s", 0: "0s",
	} {
		if got := burn.WindowName(d); got != want {
			t.Errorf("WindowName(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestPageScenario walks one objective (target 0.99) through a page, a
// re-arm and a second page, with hand-computed windows.
func TestPageScenario(t *testing.T) {
	s := newSeries(t, 0.99)               // 1 good at t0
	addN(s, at(10*time.Minute), 899, 130) // 899 requests, 130 bad
	addN(s, at(58*time.Minute), 100, 20)  // 100 requests, 20 bad
	al, err := burn.NewAlerter(s, nil)    // default rules
	if err != nil {
		t.Fatal(err)
	}

	now := at(time.Hour)
	// 1h window [t0, t0+1h]: 1000 requests, 150 bad: 15% / 1% = 15.
	// 5m window [t0+55m, t0+1h]: 100 requests, 20 bad: 20.
	for _, tc := range []struct {
		w           time.Duration
		good, total int64
		burn        float64
	}{
		{5 * time.Minute, 80, 100, 20},
		{30 * time.Minute, 80, 100, 20},
		{time.Hour, 850, 1000, 15},
		{6 * time.Hour, 850, 1000, 15},
		{72 * time.Hour, 850, 1000, 15},
		{50 * time.Minute, 849, 999, 150.0 / 999 / 0.01}, // 1h ring, 50 buckets: [t0+10m, t0+1h]
		{time.Minute, 0, 0, 0},                           // served by the 5m ring: nothing in the last minute
		{0, 0, 0, 0},
	} {
		g, n := s.Counts(now, tc.w)
		if g != tc.good || n != tc.total {
			t.Errorf("Counts(%v) = %d, %d; want %d, %d", tc.w, g, n, tc.good, tc.total)
		}
		if got := s.BurnRate(now, tc.w); !approx(got, tc.burn) {
			t.Errorf("BurnRate(%v) = %v, want %v", tc.w, got, tc.burn)
		}
	}
	if got := s.BudgetRemaining(now); !approx(got, -14) { // 1 - 150/(0.01*1000)
		t.Errorf("BudgetRemaining = %v, want -14", got)
	}

	wantPage := burn.Alert{Severity: burn.Page, Rule: burn.DefaultRules()[0], LongBurn: 15, ShortBurn: 20, Bad: 150, Total: 1000}
	if diff := cmp.Diff(wantPage, s.Evaluate(now, burn.DefaultRules()), cmp.Comparer(approx)); diff != "" {
		t.Errorf("Evaluate (-want +got):\n%s", diff)
	}
	got, ok := al.Fire(now)
	if !ok {
		t.Fatal("Fire: no page")
	}
	if diff := cmp.Diff(wantPage, got, cmp.Comparer(approx)); diff != "" {
		t.Errorf("Fire (-want +got):\n%s", diff)
	}
	if al.Active() != burn.Page {
		t.Errorf("Active = %v", al.Active())
	}
	// Still burning: no refire.
	addN(s, at(61*time.Minute), 10, 10)
	if a, ok := al.Fire(at(61 * time.Minute)); ok {
		t.Errorf("Fire refired while holding: %+v", a)
	}

	// Recovery at t0+62m: 2000 good.
	// 1h [t0+2m, t0+62m]: 3009 requests, 160 bad -> 5.3; 5m [t0+57m, t0+62m]: 2110, 30 bad -> 1.42.
	addN(s, at(62*time.Minute), 2000, 0)
	now = at(62 * time.Minute)
	if got := s.BurnRate(now, time.Hour); !approx(got, 160.0/3009/0.01) {
		t.Errorf("1h burn after recovery = %v", got)
	}
	if a := s.Evaluate(now, burn.DefaultRules()); a.Severity != burn.Ticket {
		t.Errorf("Evaluate after recovery = %+v, want the ticket rule only", a)
	}
	if a, ok := al.Fire(now); ok {
		t.Errorf("Fire during recovery: %+v", a)
	}
	// Both page rules cleared (6h: 5.3 <= 6, 30m: 2110/30 -> 1.42); the ticket rule still holds.
	if al.Active() != burn.Ticket {
		t.Errorf("Active after recovery = %v, want ticket (fired silently with the page)", al.Active())
	}

	// A new burst at t0+70m: 1000 all bad.
	// 1h [t0+10m, t0+70m]: 899+100+10+2000+1000 = 4009 requests, 130+20+10+1000 = 1160 bad.
	addN(s, at(70*time.Minute), 1000, 1000)
	now = at(70 * time.Minute)
	got, ok = al.Fire(now)
	want := burn.Alert{
		Severity: burn.Page, Rule: burn.DefaultRules()[0],
		LongBurn: 1160.0 / 4009 / 0.01, ShortBurn: 100, Bad: 1160, Total: 4009,
	}
	if !ok {
		t.Fatal("Fire: no page after re-arm")
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(approx)); diff != "" {
		t.Errorf("second page (-want +got):\n%s", diff)
	}

	// Expiry: two hours later the 5m and 1h windows are empty.
	now = at(3 * time.Hour)
	for _, w := range []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour} {
		if g, n := s.Counts(now, w); g != 0 || n != 0 {
			t.Errorf("Counts(%v) after expiry = %d, %d", w, g, n)
		}
	}
	if g, n := s.Counts(now, 6*time.Hour); n != 4010 || g != 2850 {
		t.Errorf("Counts(6h) = %d, %d; want 2850, 4010", g, n)
	}
	// The 6h/30m page rule no longer holds (30m is empty) but has not cleared:
	// its 6h burn is 1160/4010/0.01 = 28.9 > 6.
	if a, ok := al.Fire(now); ok || al.Active() != burn.Page {
		t.Errorf("Fire at +3h = %+v, %v; Active %v", a, ok, al.Active())
	}
}

// TestTicketScenario exercises the 3d/6h ticket rule alone.
func TestTicketScenario(t *testing.T) {
	s := newSeries(t, 0.99)
	addN(s, at(time.Minute), 999, 20) // 1000 requests with t0's, 20 bad: burn 2
	al, err := burn.NewAlerter(s, burn.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	now := at(time.Hour)
	want := burn.Alert{Severity: burn.Ticket, Rule: burn.DefaultRules()[2], LongBurn: 2, ShortBurn: 2, Bad: 20, Total: 1000}
	got, ok := al.Fire(now)
	if diff := cmp.Diff(want, got, cmp.Comparer(approx)); !ok || diff != "" {
		t.Fatalf("Fire = %v (-want +got):\n%s", ok, diff)
	}
	// At +7h the 6h window [t0+1h, t0+7h] is empty: the rule no longer holds, but
	// the 3d burn is still 2, so it has not cleared.
	now = at(7 * time.Hour)
	if a := s.Evaluate(now, burn.DefaultRules()); a.Severity != burn.None {
		t.Errorf("Evaluate at +7h = %+v", a)
	}
	if _, ok := al.Fire(now); ok || al.Active() != burn.Ticket {
		t.Errorf("Fire at +7h = %v, Active %v", ok, al.Active())
	}
	// 4000 good at +8h: 3d 5000/20 bad -> 0.4, 6h 4000/0 -> 0: cleared.
	addN(s, at(8*time.Hour), 4000, 0)
	if _, ok := al.Fire(at(8 * time.Hour)); ok || al.Active() != burn.None {
		t.Errorf("Fire at +8h = %v, Active %v", ok, al.Active())
	}
	// 1000 with 60 bad at +9h: 3d 6000/80 -> 1.33, 6h [t0+3h, t0+9h] 5000/60 -> 1.2: ticket again.
	addN(s, at(9*time.Hour), 1000, 60)
	got, ok = al.Fire(at(9 * time.Hour))
	want = burn.Alert{Severity: burn.Ticket, Rule: burn.DefaultRules()[2], LongBurn: 80.0 / 6000 / 0.01, ShortBurn: 1.2, Bad: 80, Total: 6000}
	if diff := cmp.Diff(want, got, cmp.Comparer(approx)); !ok || diff != "" {
		t.Fatalf("re-fire = %v (-want +got):\n%s", ok, diff)
	}
	if got := s.BudgetRemaining(at(9 * time.Hour)); !approx(got, 1-80.0/60) {
		t.Errorf("BudgetRemaining = %v", got)
	}
}

// TestInhibition: a page after a ticket escalates; a ticket while paging is silent.
func TestInhibition(t *testing.T) {
	s := newSeries(t, 0.99)
	al, _ := burn.NewAlerter(s, nil)
	addN(s, at(time.Minute), 999, 20) // burn 2: ticket
	if a, ok := al.Fire(at(time.Hour)); !ok || a.Severity != burn.Ticket {
		t.Fatalf("Fire = %+v, %v; want ticket", a, ok)
	}
	addN(s, at(61*time.Minute), 1000, 500) // escalates to page
	if a, ok := al.Fire(at(61 * time.Minute)); !ok || a.Severity != burn.Page {
		t.Fatalf("Fire = %+v, %v; want page", a, ok)
	}
	// Both page rules hold now: only one page was reported.
	if a, ok := al.Fire(at(62 * time.Minute)); ok {
		t.Errorf("second page rule reported separately: %+v", a)
	}
	al.Reset()
	if al.Active() != burn.None {
		t.Errorf("Active after Reset = %v", al.Active())
	}
	if a, ok := al.Fire(at(62 * time.Minute)); !ok || a.Severity != burn.Page || a.Rule.Long != time.Hour {
		t.Errorf("Fire after Reset = %+v, %v", a, ok)
	}
}

func TestMinTotal(t *testing.T) {
	s := newSeries(t, 0.99)
	addN(s, at(time.Minute), 9, 9) // 10 requests, 9 bad: burn 90
	rules := []burn.Rule{{Severity: burn.Page, Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4, MinTotal: 11}}
	if a := s.Evaluate(at(2*time.Minute), rules); a.Severity != burn.None {
		t.Errorf("guarded rule held on 10 requests: %+v", a)
	}
	rules[0].MinTotal = 10
	if a := s.Evaluate(at(2*time.Minute), rules); a.Severity != burn.Page {
		t.Errorf("rule with MinTotal 10 did not hold: %+v", a)
	}
}

func TestBudgetRemaining(t *testing.T) {
	s, _ := burn.NewSeries(0.99, 0)
	if got := s.BudgetRemaining(t0); got != 1 {
		t.Errorf("empty BudgetRemaining = %v", got)
	}
	addN(s, t0, 10000, 50)
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{
		{0, 0.5},                            // 1 - 50/100
		{30 * 24 * time.Hour, 0.5},          // still inside [t-30d, t]
		{30*24*time.Hour + 12*time.Hour, 1}, // expired (one 12h bucket later)
	} {
		if got := s.BudgetRemaining(at(tc.at)); !approx(got, tc.want) {
			t.Errorf("BudgetRemaining(+%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
	addN(s, at(31*24*time.Hour), 100, 3) // 3 bad of an allowance of 1
	if got := s.BudgetRemaining(at(31 * 24 * time.Hour)); !approx(got, -2) {
		t.Errorf("overspent BudgetRemaining = %v, want -2", got)
	}
}

func TestOutOfOrder(t *testing.T) {
	s := newSeries(t, 0.9) // 1 good at t0
	s.Add(at(10*time.Minute), false)
	s.Add(at(9*time.Minute), false) // 1 min late: in the 5m window
	s.Add(at(2*time.Minute), false) // 8 min late: dropped by the 5m ring only
	s.Add(at(-time.Minute), false)  // before the first Add
	if g, n := s.Counts(at(10*time.Minute), 5*time.Minute); g != 0 || n != 2 {
		t.Errorf("5m = %d, %d; want 0, 2", g, n)
	}
	if g, n := s.Counts(at(10*time.Minute), time.Hour); g != 1 || n != 5 {
		t.Errorf("1h = %d, %d; want 1, 5", g, n)
	}
	// Querying the past: what the 1h ring holds up to t0+5m.
	if g, n := s.Counts(at(5*time.Minute), time.Hour); g != 1 || n != 3 {
		t.Errorf("1h at +5m = %d, %d; want 1, 3", g, n)
	}
	// Far beyond every window.
	if g, n := s.Counts(at(100*24*time.Hour), 365*24*time.Hour); g != 0 || n != 0 {
		t.Errorf("clamped = %d, %d", g, n)
	}
	// A jump far into the future expires everything before it.
	s.Add(at(40*24*time.Hour), true)
	if g, n := s.Counts(at(40*24*time.Hour), burn.DefaultPeriod); g != 1 || n != 1 {
		t.Errorf("after jump = %d, %d; want 1, 1", g, n)
	}
}

func TestValidateRules(t *testing.T) {
	if err := burn.ValidateRules(burn.DefaultRules()); err != nil {
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
		{Severity: burn.Page, Long: time.Hour, Short: time.Minute, Factor: 1, MinTotal: -1},
	} {
		err := burn.ValidateRules([]burn.Rule{r})
		if !errors.Is(err, burn.ErrInvalidRule) {
			t.Errorf("ValidateRules(%+v) = %v", r, err)
		}
		s, _ := burn.NewSeries(0.9, 0)
		if _, err := burn.NewAlerter(s, []burn.Rule{r}); err == nil {
			t.Errorf("NewAlerter(%+v) accepted it", r)
		}
	}
	if _, err := burn.NewAlerter(nil, nil); err == nil {
		t.Error("NewAlerter(nil) accepted it")
	}
}

func TestDefaultRulesIsACopy(t *testing.T) {
	r := burn.DefaultRules()
	r[0].Factor = 1
	if burn.DefaultRules()[0].Factor != 14.4 {
		t.Error("DefaultRules shares its backing array")
	}
	s, _ := burn.NewSeries(0.9, 0)
	al, _ := burn.NewAlerter(s, r)
	r[0].Factor = 99
	if al.Rules()[0].Factor != 1 {
		t.Error("NewAlerter kept the caller's slice")
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
	al, _ := burn.NewAlerter(s, nil)
	rules := burn.DefaultRules()
	now := t0
	if n := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Second)
		s.Add(now, true)
		_ = s.Evaluate(now, rules)
		_, _ = al.Fire(now)
		_ = s.BudgetRemaining(now)
	}); n != 0 {
		t.Errorf("allocs per Add+Evaluate+Fire = %v", n)
	}
}

func BenchmarkAdd(b *testing.B) {
	s, _ := burn.NewSeries(0.99, 0)
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(10 * time.Millisecond)
		s.Add(now, i%100 != 0)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	s, _ := burn.NewSeries(0.99, 0)
	now := t0
	for i := range 1_000_000 {
		now = now.Add(250 * time.Millisecond)
		s.Add(now, i%50 != 0)
	}
	rules := burn.DefaultRules()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		_ = s.Evaluate(now, rules)
	}
}

func BenchmarkAlerterFire(b *testing.B) {
	s, _ := burn.NewSeries(0.99, 0)
	al, _ := burn.NewAlerter(s, nil)
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(10 * time.Millisecond)
		s.Add(now, i%10 != 0)
		_, _ = al.Fire(now)
	}
}
