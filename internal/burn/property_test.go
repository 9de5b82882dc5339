package burn

import (
	"math"
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
	lo, hi := max(qi-k, r.head-bucketsPerWindow), min(qi, r.head)
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
	checkInterpolated(t, s, events, q, w, inner)
}

// checkInterpolated recounts what Stat and BurnRate count: the buckets after
// the one holding q-w whole, that one in proportion to its part inside the
// window; and checks that the total is within that bucket's requests of the
// exact count inner of [q-w, q].
func checkInterpolated(t *testing.T, s *Series, events []event, q time.Time, w time.Duration, inner int64) {
	t.Helper()
	r, _ := s.ringFor(w)
	off := int64(q.Sub(s.epoch))
	start := off - int64(w)
	oldest, qi := floorDiv(start, r.width), floorDiv(off, r.width)
	frac := float64((oldest+1)*r.width-start) / float64(r.width)
	var good, total, edge float64
	for _, e := range events {
		ei := floorDiv(int64(e.t.Sub(s.epoch)), r.width)
		if ei < r.head-bucketsPerWindow || ei > min(qi, r.head) || ei < oldest {
			continue
		}
		part := 1.0
		if ei == oldest {
			part, edge = frac, edge+1
		}
		total += part
		if e.good {
			good += part
		}
	}
	if br, want := s.BurnRate(q, w), s.burnRate(good, total); math.Abs(br-want) > 1e-9*math.Max(1, want) {
		t.Fatalf("BurnRate(%v, %v) = %v, recount %v", q.Sub(s.epoch), w, br, want)
	}
	if st := s.Stat(q, w); st.Total != int64(math.Round(total)) || math.Abs(total-float64(inner)) > edge+1e-9 {
		t.Fatalf("Stat(%v, %v) total %d (%.3f), exact count %d, oldest bucket %v", q.Sub(s.epoch), w, st.Total, total, inner, edge)
	}
}

// TestRings checks the rings a Series keeps: the standard windows and the
// budget period, ascending, a period equal to a standard window kept once.
func TestRings(t *testing.T) {
	for _, tc := range []struct {
		period time.Duration
		want   []time.Duration
	}{
		{0, append(standardDurs[:len(standardDurs):len(standardDurs)], DefaultPeriod)},
		{time.Minute, append([]time.Duration{time.Minute}, standardDurs[:]...)},
		{time.Hour, standardDurs[:]},
	} {
		s, err := NewSeries(0.9, tc.period)
		if err != nil {
			t.Fatal(err)
		}
		var got []time.Duration
		for _, r := range s.rings {
			got = append(got, r.dur)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("period %v: rings %v, want %v", tc.period, got, tc.want)
		}
		wantPeriod := tc.period
		if wantPeriod == 0 {
			wantPeriod = DefaultPeriod
		}
		if s.period != wantPeriod {
			t.Errorf("period %v: kept %v", tc.period, s.period)
		}
	}
}

func FuzzSeries(f *testing.F) {
	f.Add([]byte{0, 1, 2, 200, 255, 3, 9, 100})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := NewSeries(0.99, 0)
		al, _ := NewAlerter(s, nil, Gate{})
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
			_, _ = al.Fire(now)
			if b := s.BudgetRemaining(now); b > 1 {
				t.Fatalf("BudgetRemaining %v > 1", b)
			}
		}
	})
}

// TestAlerterMatchesDefinition drives an Alerter with random bursts and
// checks each Fire against the definition recomputed from burn rates: the
// rules that hold, the level (the most severe of them), an alert exactly
// when the level rises, naming the first rule of that level.
func TestAlerterMatchesDefinition(t *testing.T) {
	rules := DefaultRules()
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 7))
		s, _ := NewSeries(0.99, 0)
		al, err := NewAlerter(s, rules, Gate{})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		level, fires, falls := None, map[Severity]int{}, 0
		badFrac := 0.0
		for range 3000 {
			now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Minute))))
			if rng.IntN(40) == 0 { // change regime
				badFrac = []float64{0, 0.005, 0.02, 0.1, 0.5}[rng.IntN(5)]
			}
			for range rng.IntN(50) {
				s.Add(now, rng.Float64() >= badFrac)
			}
			var holding []Rule
			top := -1
			for i, r := range rules {
				if s.BurnRate(now, r.Long) > r.Factor && s.BurnRate(now, r.Short) > r.Factor {
					holding = append(holding, r)
					if top < 0 || r.Severity > rules[top].Severity {
						top = i
					}
				}
			}
			newLevel := None
			if top >= 0 {
				newLevel = rules[top].Severity
			}
			a, fired := al.Fire(now)
			if want := newLevel > level; fired != want {
				t.Fatalf("seed %d at %v: fired %v (%+v), want %v: level %v -> %v", seed, now, fired, a, want, level, newLevel)
			}
			if fired && (a.Rule != rules[top] || a.Long.Rate != s.BurnRate(now, a.Rule.Long) || a.Short.Rate != s.BurnRate(now, a.Rule.Short)) {
				t.Fatalf("seed %d: fired %+v, want rule %v", seed, a, rules[top])
			}
			if got := slices.Collect(al.Holding()); !slices.Equal(got, holding) {
				t.Fatalf("seed %d: Holding %v, want %v", seed, got, holding)
			}
			if fired {
				fires[newLevel]++
			}
			if newLevel < level {
				falls++
			}
			level = newLevel
		}
		t.Logf("seed %d: %d pages, %d tickets, %d falls", seed, fires[Page], fires[Ticket], falls)
		if fires[Page] == 0 || fires[Ticket] == 0 || falls == 0 {
			t.Errorf("seed %d: %v fires, %d falls; the test exercises too little", seed, fires, falls)
		}
	}
}

// TestSpans checks the observed spans against a recount over a bitmap of
// unit slots: random adds (the earliest spans dropped past maxSpans are
// dropped from the bitmap too, which only happens when all spans are
// disjoint), closes and queries.
func TestSpans(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 3))
		var c spans
		var ref [400]bool
		for range 30 {
			from := int64(rng.IntN(380))
			to := from + 1 + int64(rng.IntN(20))
			c.add(from, to)
			for k := from; k < to; k++ {
				ref[k] = true
			}
			// Drop from the reference what the spans forgot (before the first).
			if c.n > 0 {
				for k := int64(0); k < c.s[0].from; k++ {
					ref[k] = false
				}
			}
			for i := 1; i < c.n; i++ {
				if c.s[i].from <= c.s[i-1].to {
					t.Fatalf("seed %d: spans not sorted and disjoint: %v", seed, c.s[:c.n])
				}
			}
			lo, hi := int64(rng.IntN(400)), int64(rng.IntN(400))
			if lo > hi {
				lo, hi = hi, lo
			}
			var want int64
			for k := lo; k < hi; k++ {
				if ref[k] {
					want++
				}
			}
			if got := c.covered(lo, hi); got != want {
				t.Fatalf("seed %d: covered(%d, %d) = %d, want %d; spans %v", seed, lo, hi, got, want, c.s[:c.n])
			}
		}
	}
	var c spans
	c.add(10, openEnd)
	c.add(0, 5)
	if got := c.covered(0, 100); got != 95 {
		t.Errorf("live span: covered %d, want 95", got)
	}
	c.closeAt(40)
	if got := c.covered(0, 100); got != 35 {
		t.Errorf("closed at 40: covered %d, want 35", got)
	}
	c.closeAt(0) // nothing live: no change
	if c.n != 2 {
		t.Errorf("spans %v", c.s[:c.n])
	}
}

// TestGatedAlerterMatchesDefinition drives gated Alerters (the default gate,
// and the same in partial mode) with random traffic and random stops of the
// series, and checks each Fire against the definition recomputed from the
// window figures: the window and rule verdicts, holding (or keeping the
// previous state when uncovered), and an alert exactly when the level
// rises.
func TestGatedAlerterMatchesDefinition(t *testing.T) {
	rules := DefaultRules()
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 9))
		g := DefaultGate()
		g.Partial = seed%2 == 1
		s, _ := NewSeries(0.99, 0)
		al, _ := NewAlerter(s, rules, g)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s.Start(now)
		held := make([]bool, len(rules))
		level, verdicts := None, map[Verdict]int{}
		badFrac, perStep := 0.0, 6.0
		for range 4000 {
			now = now.Add(time.Duration(rng.Int64N(int64(3 * time.Minute))))
			if rng.IntN(300) == 0 { // a restart: stop for up to 2 h
				s.Stop(now)
				now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Hour))))
				s.Start(now)
			}
			if rng.IntN(40) == 0 { // change regime: bad share, and traffic down to sparse
				badFrac = []float64{0, 0.005, 0.02, 0.1, 0.5, 1}[rng.IntN(6)]
				perStep = []float64{0.05, 1, 6}[rng.IntN(3)]
			}
			for range int(rng.ExpFloat64() * perStep) {
				s.Add(now, rng.Float64() >= badFrac)
			}
			newLevel := None
			for i, r := range rules {
				v := gateDefinition(g, s.Stat(now, r.Long), s.Stat(now, r.Short), r, 0.99)
				verdicts[v]++
				held[i] = v == Holds || (v == Uncovered && held[i])
				if held[i] && r.Severity > newLevel {
					newLevel = r.Severity
				}
			}
			a, fired := al.Fire(now)
			if fired != (newLevel > level) || (fired && a.Severity != newLevel) {
				t.Fatalf("seed %d at %v: fired %v (%+v), level %v -> %v", seed, now, fired, a, level, newLevel)
			}
			for r, v := range al.Verdicts() {
				if want := gateDefinition(g, s.Stat(now, r.Long), s.Stat(now, r.Short), r, 0.99); v != want {
					t.Fatalf("seed %d: %v verdict %v, want %v", seed, r, v, want)
				}
			}
			level = newLevel
		}
		t.Logf("seed %d (partial %v): verdicts %v", seed, g.Partial, verdicts)
		if verdicts[Holds] == 0 || verdicts[Uncovered] == 0 || verdicts[TooFew] == 0 {
			t.Errorf("seed %d: verdicts %v; the test exercises too little", seed, verdicts)
		}
	}
}

// gateDefinition is the verdict of rule r from its windows, as docs/slo-state.md
// states it.
func gateDefinition(g Gate, long, short WindowStat, r Rule, target float64) Verdict {
	win := func(w WindowStat) string {
		switch {
		case w.Coverage >= g.MinCoverage && w.Rate > r.Factor:
			return "over"
		case w.Coverage >= g.MinCoverage:
			return "under"
		case g.Partial && w.Rate*w.Coverage > r.Factor:
			return "over"
		}
		return "unknown"
	}
	l, s := win(long), win(short)
	switch {
	case l == "under" || s == "under":
		return Clear
	case l == "unknown" || s == "unknown":
		return Uncovered
	case long.Total < r.MinEvents(target):
		return TooFew
	}
	return Holds
}
