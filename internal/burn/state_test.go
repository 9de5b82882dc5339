package burn_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/burn"
)

// restartTraffic is one request every 6 s from t0 for 5 h at 99 %: bad
// during two total outages, [200m, 215m) and [260m, 270m).
func restartTraffic(k time.Duration) (good bool) {
	m := k / time.Minute
	return !(m >= 200 && m < 215) && !(m >= 260 && m < 270)
}

const restartEnd = 5 * time.Hour

// runRestart feeds restartTraffic to a fresh gated series from t0, firing
// after each request; with restart > 0 it saves the state after the
// request at restart, encodes and decodes it, and continues on a restored
// series started gap later. It returns the alerts fired ("<time> <rule>")
// and the last series.
func runRestart(t *testing.T, restart, gap time.Duration) ([]string, *burn.Series) {
	t.Helper()
	s, _ := burn.NewSeries(0.99, 0)
	s.Start(t0)
	al := gated(t, s, burn.DefaultGate())
	var fired []string
	for k := time.Duration(0); k < restartEnd; k += 6 * time.Second {
		if restart > 0 && k == restart+6*time.Second {
			s, al = reload(t, s, al, at(restart), at(restart+gap))
		}
		s.Add(at(k), restartTraffic(k))
		if a, ok := al.Fire(at(k)); ok {
			fired = append(fired, fmt.Sprintf("%v %s", k, a.Rule))
		}
	}
	return fired, s
}

// reload captures s and al at saved, goes through the encoding, and
// restores them into a new series and alerter at now.
func reload(t *testing.T, s *burn.Series, al *burn.Alerter, saved, now time.Time) (*burn.Series, *burn.Alerter) {
	t.Helper()
	b, err := burn.State{SavedAt: saved, Period: burn.DefaultPeriod,
		Entries: []burn.Entry{burn.Capture("obj", s, al, saved)}}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := burn.DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !st.SavedAt.Equal(saved) || st.Period != burn.DefaultPeriod || len(st.Entries) != 1 || st.Entries[0].Name != "obj" {
		t.Fatalf("decoded %+v", st)
	}
	s2, _ := burn.NewSeries(0.99, 0)
	al2 := gated(t, s2, burn.DefaultGate())
	if err := st.Entries[0].Restore(s2, al2, now); err != nil {
		t.Fatal(err)
	}
	s2.Start(now)
	return s2, al2
}

// TestRestartRestored: a series saved, encoded, decoded and restored (0 or 3
// s later, between two requests) raises the same alerts at the same times
// as the uninterrupted series: before the first outage, during it before
// the page, while the page holds (no second page), and between the
// outages. By hand: the j-th bad request of the first outage comes at
// 200m + 6(j−1) s, when the 1h window [t−1h, t] holds the good requests
// from 140m + 6(j−1) s to 200m, 600 − (j−1) of them: j/601 > 0.144 first at
// j = 87, 208m36s. In the second, the 5m window holds 50 − (j−1) good
// requests: j/51 > 0.144 first at j = 8, 260m42s (the 1h window burning
// 158/608).
func TestRestartRestored(t *testing.T) {
	want := []string{"3h28m36s 1h>14.4 and 5m>14.4", "4h20m42s 1h>14.4 and 5m>14.4"}
	got, ref := runRestart(t, 0, 0)
	if !slices.Equal(got, want) {
		t.Fatalf("uninterrupted alerts %q, want %q", got, want)
	}
	for _, restart := range []time.Duration{100 * time.Minute, 205 * time.Minute, 212 * time.Minute, 240 * time.Minute} {
		for _, gap := range []time.Duration{0, 3 * time.Second} {
			got, s := runRestart(t, restart, gap)
			if !slices.Equal(got, want) {
				t.Errorf("restart at %v, gap %v: alerts %q, want %q", restart, gap, got, want)
			}
			// The counts are the same; coverage lost the gap, by hand.
			end := at(restartEnd - 6*time.Second)
			for _, w := range burn.StandardWindows() {
				a, b := ref.Stat(end, w.Dur), s.Stat(end, w.Dur)
				lost := 0.0
				if gap > 0 && restartEnd-6*time.Second-restart <= w.Dur {
					lost = gap.Seconds() / w.Dur.Seconds()
				}
				if a.Good != b.Good || a.Total != b.Total || !approx(b.Coverage, a.Coverage-lost) {
					t.Errorf("restart at %v, gap %v, %s: %+v, uninterrupted %+v, lost coverage %v", restart, gap, w.Name, b, a, lost)
				}
			}
		}
	}
}

// TestSeeding: a series started at t0+3d (and 7 minutes later) and seeded,
// for its 6h, 1d, 3d and 30d windows, with the per-bucket counts of a
// fleet's three days has the fleet's long-window burn rates and coverage;
// its short windows are empty and uncovered. The fleet: 10 requests a
// minute (at :30), one bad in every hundredth minute, and a tenth bad for
// the hour [4200m, 4260m). By hand, at 4320m and at 4327m:
//
//	6h  [3960m, 4320m): 3600 requests, 60 + 3 (4000, 4100, 4300) bad: 1.75;   [3967m, 4320m): 3530, 63
//	1d  [2880m, 4320m): 14400, 60 + 14: 0.5139;                               [2887m, 4320m): 14330, 74
//	3d  [0, 4320m):     43200, 60 + 43: 0.2384;                               [7m, 4320m): 43130, 102
//	30d every request: 43200, 103, covered 4320/43200 (4327/43200)
//
// An uninterrupted series fed the same requests from t0 has its buckets
// aligned on t0, seven minutes off the seeded series' at 4327m: the same
// counts, its oldest bucket counted in part (at most one bucket, w/60, of
// requests apart).
func TestSeeding(t *testing.T) {
	fleet := func(m int) (total, bad int) {
		if (m >= 4200 && m < 4260) || m%100 == 0 {
			return 10, 1
		}
		return 10, 0
	}
	ref, _ := burn.NewSeries(0.99, 0)
	ref.Start(t0)
	for m := range 4320 {
		total, bad := fleet(m)
		addN(ref, at(time.Duration(m)*time.Minute+30*time.Second), total, bad)
	}
	type want struct {
		w         time.Duration
		burn, cov float64
	}
	for _, tc := range []struct {
		skew time.Duration
		want []want
	}{
		{0, []want{{6 * time.Hour, 63.0 / 36, 1}, {24 * time.Hour, 74.0 / 144, 1},
			{72 * time.Hour, 103.0 / 432, 1}, {burn.DefaultPeriod, 103.0 / 432, 0.1}, {5 * time.Minute, 0, 0}, {time.Hour, 0, 0}}},
		{7 * time.Minute, []want{{6 * time.Hour, 63.0 / 35.3, 1}, {24 * time.Hour, 74.0 / 143.3, 1},
			{72 * time.Hour, 102.0 / 431.3, 1}, {burn.DefaultPeriod, 103.0 / 432, 4327.0 / 43200}, {5 * time.Minute, 0, 0}}},
	} {
		now := at(72*time.Hour + tc.skew)
		s, _ := burn.NewSeries(0.99, 0)
		s.Start(now)
		var events []requests
		for m := range 4320 {
			total, bad := fleet(m)
			events = append(events, requests{at(time.Duration(m)*time.Minute + 30*time.Second), total, bad})
		}
		for _, w := range []time.Duration{6 * time.Hour, 24 * time.Hour, 72 * time.Hour, burn.DefaultPeriod} {
			seedFrom(t, s, now, w, events)
		}
		for _, w := range tc.want {
			got, unint := s.Stat(now, w.w), ref.Stat(now, w.w)
			if !approx(got.Rate, w.burn) || !approx(got.Coverage, w.cov) {
				t.Errorf("skew %v, %v: burn %v coverage %v, want %v and %v", tc.skew, w.w, got.Rate, got.Coverage, w.burn, w.cov)
			}
			if w.w < 6*time.Hour {
				continue
			}
			if d := unint.Total - got.Total; d < 0 || d > 10*int64(w.w/60/time.Minute) || (tc.skew == 0 && d != 0) {
				t.Errorf("skew %v, %v: seeded %d of %d good, uninterrupted %d of %d", tc.skew, w.w, got.Good, got.Total, unint.Good, unint.Total)
			}
		}
	}
}

// requests are total requests at t, bad of them bad.
type requests struct {
	t          time.Time
	total, bad int
}

// seedFrom seeds s's window w at now with events summed per bucket of the
// grid, observed from t0.
func seedFrom(t *testing.T, s *burn.Series, now time.Time, w time.Duration, events []requests) {
	t.Helper()
	g, ok := s.Grid(now, w)
	if !ok || g.N != 61 || g.Width != w/60 || !g.End(60).After(now) || g.End(59).After(now) {
		t.Fatalf("Grid(%v) = %+v, %v", w, g, ok)
	}
	counts := make([]burn.Count, g.N)
	for _, e := range events {
		if i := int(e.t.Sub(g.Start) / g.Width); !e.t.Before(g.Start) && i < g.N && !e.t.After(now) {
			counts[i].Total += int64(e.total)
			counts[i].Good += int64(e.total - e.bad)
		}
	}
	if err := s.Seed(now, w, counts, t0); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreRefuses: a state restores only into a fresh series of its
// target and windows.
func TestRestoreRefuses(t *testing.T) {
	s := newSeries(t, 0.99)
	e := burn.Capture("x", s, nil, at(time.Minute))
	for name, fresh := range map[string]func() *burn.Series{
		"started":       func() *burn.Series { return newSeries(t, 0.99) },
		"other target":  func() *burn.Series { s, _ := burn.NewSeries(0.995, 0); return s },
		"other windows": func() *burn.Series { s, _ := burn.NewSeries(0.99, 7*24*time.Hour); return s },
	} {
		if err := e.Restore(fresh(), nil, at(time.Hour)); err == nil {
			t.Errorf("%s: restored", name)
		}
	}
	empty, _ := burn.NewSeries(0.99, 0)
	if err := (&burn.Entry{Name: "never started", Target: 0.99}).Restore(empty, nil, t0); err == nil {
		t.Error("an entry of a series that never started restored")
	}
}

// TestDecodeStateRefuses: every damaged variant of a valid file fails with
// the error of its kind.
func TestDecodeStateRefuses(t *testing.T) {
	s := newSeries(t, 0.99)
	addN(s, at(time.Minute), 100, 3)
	good, err := burn.State{SavedAt: at(2 * time.Minute), Period: burn.DefaultPeriod,
		Entries: []burn.Entry{burn.Capture("a", s, gated(t, s, burn.DefaultGate()), at(2*time.Minute))}}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := burn.DecodeState(good); err != nil {
		t.Fatalf("valid file: %v", err)
	}
	flip := func(i int) []byte { b := slices.Clone(good); b[i] ^= 0x20; return b }
	version := slices.Clone(good)
	version[8] = 2
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, burn.ErrNotState},
		{"text", []byte("{\"objectives\": []}\n"), burn.ErrNotState},
		{"magic", flip(0), burn.ErrNotState},
		{"version 2", version, burn.ErrStateVersion},
		{"truncated", good[:len(good)-9], burn.ErrStateCorrupt},
		{"trailing", append(slices.Clone(good), 0), burn.ErrStateCorrupt},
		{"flipped body byte", flip(30), burn.ErrStateCorrupt},
		{"flipped checksum", flip(len(good) - 1), burn.ErrStateCorrupt},
	} {
		if _, err := burn.DecodeState(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
