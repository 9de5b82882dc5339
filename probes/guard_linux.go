//go:build linux

package probes

import (
	"context"
	"math"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// guard keeps the probes' overhead (BPF run time + reader busy time, in %
// of the process's CPU time) under Config.OverheadBudget: above it, the
// signal whose programs ran longest is shed; a shed signal comes back, most
// recent first, after three intervals below half the budget.
func (s *Set) guard(ctx context.Context) {
	t := time.NewTicker(s.cfg.OverheadInterval)
	defer t.Stop()
	var g guardState
	for _, sig := range AllSignals() {
		if sig.kernel() {
			g.prevRun[sig] = s.kern.runTime(sig)
		}
	}
	g.prevCPU = processCPU()
	g.prevBusy = s.readerBusy.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pct, delta := s.overhead(&g)
		s.overheadBits.Store(math.Float64bits(pct))
		switch {
		case pct > s.cfg.OverheadBudget:
			g.calm = 0
			s.shedWorst(&g, &delta)
		case pct < s.cfg.OverheadBudget/2 && len(g.shed) > 0:
			g.calm++
			if g.calm < 3 {
				continue
			}
			g.calm = 0
			sig := g.shed[len(g.shed)-1]
			if err := s.kern.setAttached(sig, true); err == nil {
				g.shed = g.shed[:len(g.shed)-1]
				s.setStatus(sig, On, "")
			}
		default:
			g.calm = 0
		}
	}
}

// guardState is what the guard keeps between intervals.
type guardState struct {
	prevRun  [numSignals]time.Duration // BPF run time per signal
	prevCPU  time.Duration             // process CPU time
	prevBusy int64                     // reader busy ns
	shed     []Signal                  // shed signals, oldest first
	calm     int                       // intervals below half the budget
}

// overhead measures the interval since the last call: the overhead in %
// and each kernel signal's BPF run time.
func (s *Set) overhead(g *guardState) (pct float64, delta [numSignals]time.Duration) {
	cpu := processCPU()
	busy := s.readerBusy.Load()
	var bpfTotal time.Duration
	for _, sig := range AllSignals() {
		if !sig.kernel() {
			continue
		}
		r := s.kern.runTime(sig)
		if r >= g.prevRun[sig] {
			delta[sig] = r - g.prevRun[sig]
		}
		g.prevRun[sig] = r
		bpfTotal += delta[sig]
	}
	// An idle process would make any overhead look huge: the denominator
	// is at least 1% of one CPU over the interval.
	den := cpu - g.prevCPU
	if floor := s.cfg.OverheadInterval / 100; den < floor {
		den = floor
	}
	pct = 100 * float64(bpfTotal+time.Duration(busy-g.prevBusy)) / float64(den)
	g.prevCPU, g.prevBusy = cpu, busy
	return pct, delta
}

// shedWorst detaches the working, unshed signal whose programs ran longest
// in the interval (delta), if any ran at all.
func (s *Set) shedWorst(g *guardState, delta *[numSignals]time.Duration) {
	var worst Signal
	for _, sig := range AllSignals() {
		if sig.kernel() && s.StatusOf(sig).State != Off && !slices.Contains(g.shed, sig) &&
			(worst == 0 || delta[sig] > delta[worst]) {
			worst = sig
		}
	}
	if worst == 0 || delta[worst] == 0 {
		return
	}
	if err := s.kern.setAttached(worst, false); err == nil {
		g.shed = append(g.shed, worst)
		s.counters[worst].shed.Add(1)
		s.mu.Lock()
		s.status[worst] = SignalStatus{Signal: worst, State: Degraded,
			Reason: "shed by the overhead guard: probes used more than the overhead budget"}
		s.mu.Unlock()
	}
}

// processCPU returns the user+system CPU time of the process.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
