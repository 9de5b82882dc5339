package slo

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/burn"
)

// logRecords is a slog handler that keeps the records it is given.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

func (h *logRecords) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		line := r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool {
			line += " " + a.String()
			return true
		})
		out = append(out, line)
	}
	return out
}

// stateTracker returns a tracker of one 99 % error-rate objective (or objs)
// with a state file at path, on clk, logging into logs.
func stateTracker(t *testing.T, path string, clk *fakeClock, logs *logRecords, opts ...Option) *Tracker {
	t.Helper()
	all := append([]Option{WithObjectives(ErrorRate(0.99)), withClock(clk.Now), WithStateFile(path),
		WithLogger(slog.New(logs)), WithoutProbes(), WithErrorHandler(func(err error) { t.Errorf("error handler: %v", err) })}, opts...)
	tr, err := New(all...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestStateFileRestores: a tracker closes after 2 h of traffic and a
// successor starts 30 s later from its file: the same counts in every
// window as the closed tracker's, coverage short of the 30 s gap by hand,
// origin restored; the page
// held at the close holds on without a second incident while the failures
// go on, and no temporary file is left.
func TestStateFileRestores(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "slo.state")
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	sink := &captureSink{ch: make(chan struct{}, 8)}
	logs := &logRecords{}
	a := stateTracker(t, path, clk, logs, WithIncidentSink(sink))
	h := a.Instrument(statusHandler)
	for range 120 { // 2 h of 10 requests a minute, then 150 failures: 1h burn 150/750/0.01 = 20
		for range 10 {
			serve(h, "200")
		}
		clk.Advance(time.Minute)
	}
	for range 150 {
		serve(h, "500")
	}
	sink.first(t, 5*time.Second) // the page, before the restart
	before := a.Budget()[0]
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if st := a.Status().State; st.Saved.IsZero() || st.SaveError != "" {
		t.Errorf("status after close: %+v", st)
	}

	clk.Advance(30 * time.Second)
	b := stateTracker(t, path, clk, logs, WithIncidentSink(sink))
	defer b.Close()
	after, closed := b.Budget()[0], a.Budget()[0] // the closed tracker's windows, read at the same instant
	if after.Origin != OriginRestored || after.Good != before.Good || after.Total != before.Total {
		t.Errorf("restored %s %d/%d, want restored %d/%d", after.Origin, after.Good, after.Total, before.Good, before.Total)
	}
	for i, w := range after.BurnRates {
		// Observed: the first 2 h, then nothing for 30 s: of a window w
		// ending now, min(w, 2h30s) − 30 s.
		ws := windowSeconds(w.Window)
		want := (min(ws, 2*3600+30) - 30) / ws
		if w.Good != closed.BurnRates[i].Good || w.Total != closed.BurnRates[i].Total || !approx(w.Coverage, want) {
			t.Errorf("%s: %d/%d requests, coverage %v; want %d/%d and %v", w.Window, w.Good, w.Total, w.Coverage,
				closed.BurnRates[i].Good, closed.BurnRates[i].Total, want)
		}
	}
	if st := b.Status().State; !st.Restored.Equal(clk.Now().Add(-30*time.Second)) || st.Refused != "" {
		t.Errorf("status: %+v", st)
	}
	hb := b.Instrument(statusHandler)
	for range 30 {
		serve(hb, "500")
	}
	time.Sleep(1200 * time.Millisecond) // an evaluation tick
	if n := sink.count(); n != 1 {
		t.Errorf("%d incidents after the restart, want the first only", n)
	}
	if got := b.Budget()[0].Alerting; len(got) == 0 {
		t.Errorf("alerting after the restart %v, want the page held", got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want the state file only", len(ents))
	}
	if l := logs.lines(); len(l) != 0 {
		t.Errorf("log lines %q", l)
	}
}

func windowSeconds(name string) float64 {
	for _, w := range burn.StandardWindows() {
		if w.Name == name {
			return w.Dur.Seconds()
		}
	}
	return 0
}

func approx(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestStateFileRefused: every file that does not fit is refused with one
// log line naming the reason, the tracker starts cold and the file is moved
// aside.
func TestStateFileRefused(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	valid := func(t *testing.T, objs []Objective, period time.Duration, saved time.Time) []byte {
		t.Helper()
		path := filepath.Join(t.TempDir(), "s")
		clk := &fakeClock{now: saved.Add(-time.Hour)}
		opts := []Option{WithObjectives(objs...), withClock(clk.Now), WithStateFile(path), WithoutProbes()}
		if period > 0 {
			opts = append(opts, WithBudgetPeriod(period))
		}
		tr, err := New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		h := tr.Instrument(statusHandler)
		for range 50 {
			serve(h, "200")
		}
		clk.Advance(time.Hour)
		_ = tr.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ours := []Objective{ErrorRate(0.99)}
	good := valid(t, ours, 0, t0)
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name, reason string
		b            []byte
	}{
		{"empty", "not a state file", []byte{}},
		{"text", "not a state file", []byte("objectives: [error_rate_p99]\n")},
		{"truncated", "corrupt state file", good[:len(good)/2]},
		{"corrupt", "checksum", flip(len(good) / 2)},
		{"future version", "unsupported state file version", func() []byte { b := bytes.Clone(good); b[8] = 9; return b }()},
		{"other objective", "belongs to other objectives", valid(t, []Objective{ErrorRate(0.99).Named("other")}, 0, t0)},
		{"other target", "belongs to other objectives", valid(t, []Objective{ErrorRate(0.999).Named("error_rate_p99")}, 0, t0)},
		{"other period", "belongs to other objectives", valid(t, ours, 7*24*time.Hour, t0)},
		{"future-dated", "in the future", valid(t, ours, 0, t0.Add(time.Hour))},
		{"too old", "older than 24h0m0s", valid(t, ours, 0, t0.Add(-25*time.Hour))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "slo.state")
			if err := os.WriteFile(path, tc.b, 0o600); err != nil {
				t.Fatal(err)
			}
			logs := &logRecords{}
			clk := &fakeClock{now: t0}
			tr := stateTracker(t, path, clk, logs)
			defer tr.Close()
			lines := logs.lines()
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "WARN slo: state file refused; the tracker starts cold") || !strings.Contains(lines[0], tc.reason) {
				t.Errorf("log lines %q, want one naming %q", lines, tc.reason)
			}
			b := tr.Budget()[0]
			if b.Origin != OriginCold || b.Total != 0 || b.BurnRates[0].Coverage != 0 {
				t.Errorf("budget after refusal: %+v", b)
			}
			if st := tr.Status().State; !strings.Contains(st.Refused, tc.reason) || !st.Restored.IsZero() {
				t.Errorf("status %+v", st)
			}
			if moved, err := os.ReadFile(path + ".refused"); err != nil || !bytes.Equal(moved, tc.b) {
				t.Errorf("refused file not moved aside: %v", err)
			}
			t.Logf("%s", lines[0])
		})
	}
}

// TestStateFileSaves: the file is written every interval while the tracker
// runs, decodes to the tracker's counts, and a failing save reaches the
// error handler once per cause and the status.
func TestStateFileSaves(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slo.state")
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	tr := stateTracker(t, path, clk, &logRecords{}, WithStateFileInterval(20*time.Millisecond))
	defer tr.Close()
	h := tr.Instrument(statusHandler)
	for range 40 {
		serve(h, "200")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			st, err := burn.DecodeState(b)
			if err != nil {
				t.Fatalf("saved file: %v", err)
			}
			s, _ := burn.NewSeries(0.99, 0)
			if err := st.Entries[0].Restore(s, nil, clk.Now()); err != nil {
				t.Fatal(err)
			}
			if _, n := s.Counts(clk.Now(), time.Hour); n == 40 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no state file with the 40 requests after 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	var mu sync.Mutex
	var errs []error
	bad, err := New(WithObjectives(ErrorRate(0.99)), WithStateFile(filepath.Join(t.TempDir(), "missing", "slo.state")),
		WithStateFileInterval(10*time.Millisecond), WithoutProbes(),
		WithErrorHandler(func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // about 20 failed saves
	_ = bad.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "slo: save state file") {
		t.Errorf("error handler got %v, want one save error", errs)
	}
	if st := bad.Status().State; st.SaveError == "" || !st.Saved.IsZero() {
		t.Errorf("status %+v", st)
	}
}
