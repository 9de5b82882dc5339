//go:build linux

package probes

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/llmslo/slo/internal/testutil"
)

// requireBPF gates the privileged tests. features.HaveProgramType(Tracing)
// probes fentry, which kernels without fentry refuse even to root, so the
// gate probes raw tracepoints (tp_btf needs the same privileges) and
// cgroup_skb.
func requireBPF(t *testing.T) {
	t.Helper()
	testutil.RequireBPF(t, ebpf.RawTracepoint, ebpf.CGroupSKB)
}

// startSet starts a Set for the test and closes it at cleanup.
func startSet(t *testing.T, cfg Config) *Set {
	t.Helper()
	set, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := set.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return set
}

func TestStartAllSignalsPrivileged(t *testing.T) {
	requireBPF(t)
	set := startSet(t, Config{Signals: AllSignals(), OverheadBudget: 50})
	for _, st := range set.Status() {
		t.Logf("%-17s %-8s %s", st.Signal, st.State, st.Reason)
		if st.Signal.kernel() && st.State != On {
			t.Errorf("%s: state %s (%s), want on", st.Signal, st.State, st.Reason)
		}
	}
	// Sleep-wakeups of this process land in the run-queue histogram.
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, err := set.Histogram(RunqueueDelay)
		if err != nil {
			t.Fatal(err)
		}
		if h.Count > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no run-queue samples for this process after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// BPF_ENABLE_STATS is on (OverheadBudget > 0): run time is measured.
	var rq SignalStats
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		rq = set.Stats().Signals[RunqueueDelay-1]
		if rq.BPFRunTime > 0 {
			break
		}
	}
	if rq.BPFRunTime <= 0 || rq.State != On {
		t.Errorf("runqueue_delay stats %+v, want on with BPF run time > 0", rq)
	}
	if err := set.TagConn(1, [16]byte{1}, [8]byte{2}); err != nil {
		t.Errorf("TagConn: %v", err)
	}
	if err := set.UntagConn(1); err != nil {
		t.Errorf("UntagConn: %v", err)
	}
	if err := set.UntagConn(1); err != nil {
		t.Errorf("UntagConn twice: %v", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	set, err := Start(t.Context(), Config{Signals: []Signal{GoSchedLatency, RunqueueDelay}})
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel := set.Subscribe(4)
	if err := set.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := set.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	cancel()
	cancel()
	for range ch {
	}
	if _, err := set.Histogram(RunqueueDelay); !errors.Is(err, ErrClosed) {
		t.Errorf("Histogram after Close = %v, want ErrClosed", err)
	}
	if err := set.TagConn(1, [16]byte{}, [8]byte{}); !errors.Is(err, ErrClosed) {
		t.Errorf("TagConn after Close = %v, want ErrClosed", err)
	}
	ch2, cancel2 := set.Subscribe(1)
	defer cancel2()
	if _, ok := <-ch2; ok {
		t.Error("Subscribe after Close returned an open channel")
	}
}

func TestContextCancelCloses(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	set, err := Start(ctx, Config{Signals: []Signal{GoSchedLatency}, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ch, unsub := set.Subscribe(1)
	defer unsub()
	cancel()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("subscriber channel not closed after ctx cancel")
		}
	}
}

func TestStartInvalidConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Signals: []Signal{0}},
		{Signals: []Signal{numSignals}},
		{DNSPorts: make([]uint16, 17)},
		{Pid: -1},
		{RingBufferSize: 1000},
		{RingBufferSize: 1024},
	} {
		if set, err := Start(t.Context(), cfg); err == nil {
			set.Close()
			t.Errorf("Start(%+v) succeeded, want error", cfg)
		}
	}
}

// TestFloodAndClose floods the ring buffer (every run-queue sample is an
// event) with a subscriber that never reads, then closes: drops are counted,
// nothing blocks, nothing leaks.
func TestFloodAndClosePrivileged(t *testing.T) {
	requireBPF(t)
	set, err := Start(t.Context(), Config{Signals: []Signal{RunqueueDelay}, RunqueueThreshold: time.Nanosecond, RingBufferSize: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	_, cancel := set.Subscribe(1)
	defer cancel()
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Microsecond) // wakeups of this process
	}
	st := set.Stats().Signals[RunqueueDelay-1]
	t.Logf("events %d, dropped %d, lost in kernel %d", st.Events, st.Dropped, st.Lost)
	if st.Events == 0 || st.Dropped == 0 {
		t.Errorf("stats %+v, want events and subscriber drops", st)
	}
	done := make(chan error, 1)
	go func() { done <- set.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked under load")
	}
}
