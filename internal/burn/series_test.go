package burn_test

import (
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
	want := []burn.Window{
		{"5m", 5 * time.Minute}, {"30m", 30 * time.Minute}, {"1h", time.Hour}, {"6h", 6 * time.Hour},
		{"1d", 24 * time.Hour}, {"3d", 72 * time.Hour},
	}
	if diff := cmp.Diff(want, burn.StandardWindows()); diff != "" {
		t.Errorf("StandardWindows (-want +got):\n%s", diff)
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

func BenchmarkAdd(b *testing.B) {
	s, _ := burn.NewSeries(0.99, 0)
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(10 * time.Millisecond)
		s.Add(now, i%100 != 0)
	}
}
