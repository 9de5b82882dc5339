package burn

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

type event struct {
	t    time.Time
	good bool
}

// TestCountsMatchRecount checks Counts against a brute-force recount of a
// random event list with out-of-order arrivals, for standard and
// non-standard windows and for query times before and after the newest event.
func TestCountsMatchRecount(t *testing.T) {
	windows := []time.Duration{
		5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour, DefaultPeriod,
		10 * time.Second, 7 * time.Minute, 45 * time.Minute, 2 * time.Hour, 10 * 24 * time.Hour,
	}
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		s, err := NewSeries(0.5+rng.Float64()*0.499, 0)
		if err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(time.Hour))))
		now := base
		// Mean gap between 50 ms and ~3 h, so that runs stress short and long windows.
		meanGap := time.Duration(float64(50*time.Millisecond) * float64(int64(1)<<rng.IntN(18)))
		maxSkew := time.Duration(rng.Int64N(int64(10 * time.Minute)))
		var events []event
		for i := range 2000 {
			now = now.Add(time.Duration(rng.ExpFloat64() * float64(meanGap)))
			et := now
			if i > 0 && maxSkew > 0 {
				et = et.Add(-time.Duration(rng.Int64N(int64(maxSkew)))) // late arrival
			}
			good := rng.Float64() < 0.9
			s.Add(et, good)
			events = append(events, event{et, good})
			if i%131 != 0 {
				continue
			}
			for _, w := range windows {
				// Query at the newest time, a little later, and in the past.
				for _, q := range []time.Time{
					now,
					now.Add(time.Duration(rng.Int64N(int64(w)))),
					now.Add(-time.Duration(rng.Int64N(int64(w)))),
				} {
					checkCounts(t, s, events, q, w)
				}
			}
		}
	}
}

// checkCounts compares s.Counts(q, w) with an exact recount over events of
// the bucket range the Series documents, and, for queries at or after every
// event, with the [q-w, q] and [q-w-width, q] bounds.
func checkCounts(t *testing.T, s *Series, events []event, q time.Time, w time.Duration) {
	t.Helper()
	r, k := s.ringFor(w)
	qi := floorDiv(int64(q.Sub(s.epoch)), r.width)
	lo, hi := max(qi-k, r.head-BucketsPerWindow), min(qi, r.head)
	var wantG, wantT int64
	var latest time.Time
	for _, e := range events {
		if e.t.After(latest) {
			latest = e.t
		}
		if ei := floorDiv(int64(e.t.Sub(s.epoch)), r.width); ei >= lo && ei <= hi {
			wantT++
			if e.good {
				wantG++
			}
		}
	}
	g, n := s.Counts(q, w)
	if g != wantG || n != wantT {
		t.Fatalf("Counts(%v, %v) = %d, %d; recount %d, %d", q.Sub(s.epoch), w, g, n, wantG, wantT)
	}
	if q.Before(latest) || w > r.dur {
		return
	}
	// Documented bound: all of [q-w, q], and nothing older than one bucket width more.
	var inner, outer int64
	for _, e := range events {
		if e.t.After(q) {
			continue
		}
		age := q.Sub(e.t)
		if age <= w {
			inner++
		}
		if age <= w+time.Duration(r.width) {
			outer++
		}
	}
	if n < inner || n > outer {
		t.Fatalf("Counts(%v, %v) = %d outside [%d, %d]", q.Sub(s.epoch), w, n, inner, outer)
	}
	if br, want := s.BurnRate(q, w), s.burnRate(wantG, wantT); br != want {
		t.Fatalf("BurnRate = %v, want %v", br, want)
	}
}

func FuzzSeries(f *testing.F) {
	f.Add([]byte{0, 1, 2, 200, 255, 3, 9, 100})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := NewSeries(0.99, 0)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := base
		var events []event
		for i := 0; i+1 < len(data); i += 2 {
			// Steps from seconds to days, occasionally backwards.
			step := time.Duration(int8(data[i])) * time.Duration(1<<(data[i+1]%24)) * time.Millisecond * 10
			now = now.Add(step)
			good := data[i+1]&0x80 == 0
			s.Add(now, good)
			events = append(events, event{now, good})
			for _, w := range []time.Duration{5 * time.Minute, time.Hour, 72 * time.Hour, DefaultPeriod, 90 * time.Minute} {
				checkCounts(t, s, events, now, w)
			}
			_ = s.Evaluate(now, DefaultRules())
			if b := s.BudgetRemaining(now); b > 1 {
				t.Fatalf("BudgetRemaining %v > 1", b)
			}
		}
	})
}

// TestAlerterInvariants drives an Alerter with random bursts and checks:
// a reported alert holds and is more severe than what was active; a rule is
// reported again only after a step at which both its windows were at or
// below its factor.
func TestAlerterInvariants(t *testing.T) {
	rules := DefaultRules()
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 7))
		s, _ := NewSeries(0.99, 0)
		al, err := NewAlerter(s, rules)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		cleared := make([]bool, len(rules)) // since the rule was last reported
		for i := range cleared {
			cleared[i] = true
		}
		reports := 0
		badFrac := 0.0
		for range 3000 {
			now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Minute))))
			if rng.IntN(40) == 0 { // change regime
				badFrac = []float64{0, 0.005, 0.02, 0.1, 0.5}[rng.IntN(5)]
			}
			for range rng.IntN(50) {
				s.Add(now, rng.Float64() >= badFrac)
			}
			before := al.Active()
			a, ok := al.Fire(now)
			for i, r := range rules {
				if s.BurnRate(now, r.Long) <= r.Factor && s.BurnRate(now, r.Short) <= r.Factor {
					cleared[i] = true
				}
			}
			if !ok {
				continue
			}
			reports++
			if !(a.LongBurn > a.Rule.Factor && a.ShortBurn > a.Rule.Factor) || a.Severity <= before {
				t.Fatalf("seed %d: reported %+v with %v active", seed, a, before)
			}
			i := slices.Index(rules, a.Rule)
			if !cleared[i] {
				t.Fatalf("seed %d: rule %d reported again without clearing", seed, i)
			}
			cleared[i] = false
			if al.Active() != a.Severity {
				t.Fatalf("seed %d: Active %v after reporting %v", seed, al.Active(), a.Severity)
			}
		}
		t.Logf("seed %d: %d alerts", seed, reports)
		if reports == 0 {
			t.Errorf("seed %d: no alerts at all; the test exercises nothing", seed)
		}
	}
}
