//go:build linux

package probes

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeKernel is a kernel whose programs' run time grows by cost[sig] per
// measurement while attached.
type fakeKernel struct {
	mu       sync.Mutex
	cost     [numSignals]time.Duration
	run      [numSignals]time.Duration
	detached [numSignals]bool
	attaches [numSignals]int
}

func (f *fakeKernel) tagConn(uint64, [16]byte, [8]byte) error     { return nil }
func (f *fakeKernel) untagConn(uint64) error                      { return nil }
func (f *fakeKernel) histogram(Signal, uint32) (Histogram, error) { return Histogram{}, nil }
func (f *fakeKernel) lost(Signal) uint64                          { return 0 }
func (f *fakeKernel) close() error                                { return nil }

func (f *fakeKernel) setAttached(sig Signal, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detached[sig] = !on
	if on {
		f.attaches[sig]++
	}
	return nil
}

func (f *fakeKernel) runTime(sig Signal) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.detached[sig] {
		f.run[sig] += f.cost[sig]
	}
	return f.run[sig]
}

func TestOverheadGuardShedsAndRestores(t *testing.T) {
	fk := &fakeKernel{}
	fk.cost[SyscallLatency] = 50 * time.Millisecond // far above any budget
	fk.cost[RunqueueDelay] = time.Nanosecond
	s := newSet(Config{OverheadBudget: 5, OverheadInterval: 20 * time.Millisecond}, 1)
	s.kern = fk
	s.setStatus(SyscallLatency, On, "")
	s.setStatus(RunqueueDelay, On, "")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); s.guard(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; status %+v, stats %+v", what, s.Status(), s.Stats().Signals[SyscallLatency-1])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("syscall_latency shed", func() bool {
		return s.StatusOf(SyscallLatency).State == Degraded && s.counters[SyscallLatency].shed.Load() >= 1
	})
	if st := s.StatusOf(RunqueueDelay); st.State != On {
		t.Errorf("cheap signal touched: %+v", st)
	}
	if s.Stats().Overhead <= 5 {
		t.Errorf("overhead %v, want above the budget", s.Stats().Overhead)
	}
	// Detached, it costs nothing: after three calm intervals it returns.
	waitFor("syscall_latency restored", func() bool {
		fk.mu.Lock()
		defer fk.mu.Unlock()
		return fk.attaches[SyscallLatency] >= 1
	})
}
