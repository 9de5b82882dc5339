//go:build linux

package probes

import (
	"context"
	"math"
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
	var prevRun [numSignals]time.Duration
	for _, sig := range AllSignals() {
		if sig.kernel() {
			prevRun[sig] = s.kern.runTime(sig)
		}
	}
	prevCPU := processCPU()
	prevBusy := s.readerBusy.Load()
	var shed []Signal
	calm := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cpu := processCPU()
		busy := s.readerBusy.Load()
		var delta [numSignals]time.Duration
		var bpfTotal time.Duration
		for _, sig := range AllSignals() {
			if !sig.kernel() {
				continue
			}
			r := s.kern.runTime(sig)
			if r >= prevRun[sig] {
				delta[sig] = r - prevRun[sig]
			}
			prevRun[sig] = r
			bpfTotal += delta[sig]
		}
		// An idle process would make any overhead look huge: the
		// denominator is at least 1% of one CPU over the interval.
		den := cpu - prevCPU
		if floor := s.cfg.OverheadInterval / 100; den < floor {
			den = floor
		}
		pct := 100 * float64(bpfTotal+time.Duration(busy-prevBusy)) / float64(den)
		prevCPU, prevBusy = cpu, busy
		s.overheadBits.Store(math.Float64bits(pct))

		switch {
		case pct > s.cfg.OverheadBudget:
			calm = 0
			var worst Signal
			for _, sig := range AllSignals() {
				if sig.kernel() && s.StatusOf(sig).State != Off && !contains(shed, sig) &&
					(worst == 0 || delta[sig] > delta[worst]) {
					worst = sig
				}
			}
			if worst == 0 || delta[worst] == 0 {
				continue
			}
			if err := s.kern.setAttached(worst, false); err == nil {
				shed = append(shed, worst)
				s.counters[worst].shed.Add(1)
				s.mu.Lock()
				s.status[worst] = SignalStatus{Signal: worst, State: Degraded,
					Reason: "shed by the overhead guard: probes used more than the overhead budget"}
				s.mu.Unlock()
			}
		case pct < s.cfg.OverheadBudget/2 && len(shed) > 0:
			calm++
			if calm < 3 {
				continue
			}
			calm = 0
			sig := shed[len(shed)-1]
			if err := s.kern.setAttached(sig, true); err == nil {
				shed = shed[:len(shed)-1]
				s.setStatus(sig, On, "")
			}
		default:
			calm = 0
		}
	}
}

func contains(list []Signal, sig Signal) bool {
	for _, s := range list {
		if s == sig {
			return true
		}
	}
	return false
}

// processCPU returns the user+system CPU time of the process.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
