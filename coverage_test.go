package slo

import (
	"testing"
	"time"
)

// TestColdStartGate: a tracker seconds old does not page on 99 good
// requests and one failure (99.9 %, burn 10 over every window), unless the
// gate is off; in partial mode a total outage (99 %) pages when the 1h
// window's burn times its coverage passes 14.4, at 519 s by hand (100 × t /
// 3600 > 14.4 from t > 518.4 s).
func TestColdStartGate(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		opt  Option
		want int
	}{
		{"default gate", nil, 0},
		{"partial coverage", WithPartialCoverage(true), 0},
		{"gate off", ungated(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: t0}
			sink := &captureSink{ch: make(chan struct{}, 8)}
			tr, err := New(WithObjectives(ErrorRate(0.999)), WithIncidentSink(sink), withClock(clk.Now), tc.opt, WithoutProbes())
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			h := tr.Instrument(statusHandler)
			for i := range 100 {
				clk.Advance(400 * time.Millisecond)
				serve(h, map[bool]string{true: "500", false: "200"}[i == 99])
			}
			time.Sleep(1200 * time.Millisecond) // an evaluation tick
			if n := sink.count(); n != tc.want {
				t.Errorf("%d incidents 40 s after start, want %d", n, tc.want)
			}
		})
	}

	clk := &fakeClock{now: t0}
	sink := &captureSink{ch: make(chan struct{}, 8)}
	tr, err := New(WithObjectives(ErrorRate(0.99)), WithIncidentSink(sink), withClock(clk.Now), WithPartialCoverage(true), WithoutProbes())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	h := tr.Instrument(statusHandler)
	for range 600 {
		serve(h, "500")
		clk.Advance(time.Second)
	}
	select {
	case <-sink.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no incident after 600 s of outage")
	}
	sink.mu.Lock()
	inc := sink.got[0]
	sink.mu.Unlock()
	if d := inc.Time.Sub(t0); d != 519*time.Second || inc.Rule != "1h>14.4 and 5m>14.4" {
		t.Errorf("paged %v after start on %q, want 519s on the 1h rule", d, inc.Rule)
	}
}
