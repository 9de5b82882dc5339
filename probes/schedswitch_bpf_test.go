//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"testing"
	"time"

	"github.com/cilium/ebpf/link"
)

// schedLinks returns the kernel ids of the links that attach the programs
// of sig.
func schedLinks(t *testing.T, k *bpfKernel, sig Signal) []link.ID {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	var ids []link.ID
	for _, a := range k.atts[sig] {
		if a.link == nil {
			continue
		}
		info, err := a.link.Info()
		if err != nil {
			t.Fatalf("%s: link info: %v", a.name, err)
		}
		ids = append(ids, info.ID)
	}
	return ids
}

// switchCounts runs n context switches of this process inside read(2) and
// returns how many run-queue delays and off-CPU syscall episodes the
// histograms gained meanwhile.
func switchCounts(t *testing.T, set *Set, run func(int), n int) (runq, sys uint64) {
	t.Helper()
	r0, err0 := set.Histogram(RunqueueDelay)
	s0, err1 := set.Histogram(SyscallLatency)
	run(n)
	r1, err2 := set.Histogram(RunqueueDelay)
	s1, err3 := set.Histogram(SyscallLatency)
	for _, err := range []error{err0, err1, err2, err3} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return r1.Sub(r0).Count, s1.Sub(s0).Count
}

// TestSchedSignalsShareOneProgramPrivileged checks that the run-queue and
// syscall signals are one program on sched_switch (one link in the
// kernel, so one dispatch per context switch), and that each signal is
// still switched on and off on its own: switched off, its histogram stops
// while the other's keeps counting; both off, the link is gone.
func TestSchedSignalsShareOneProgramPrivileged(t *testing.T) {
	requireBPF(t)
	set := startSet(t, Config{Signals: []Signal{RunqueueDelay, SyscallLatency},
		RunqueueThreshold: time.Hour, SyscallThreshold: time.Hour})
	k, ok := set.kern.(*bpfKernel)
	if !ok {
		t.Fatalf("no BPF kernel side: %+v", set.Status())
	}
	runq, sys := schedLinks(t, k, RunqueueDelay), schedLinks(t, k, SyscallLatency)
	if len(runq) != 1 || len(sys) != 1 || runq[0] != sys[0] {
		t.Fatalf("sched_switch links: run-queue %v, syscall %v; want one link shared by both", runq, sys)
	}
	shared := runq[0]
	const n = 2000
	run := pingPong(t)
	steps := []struct {
		name           string
		runqOn, sysOn  bool
		wantRunq, want bool // want: syscall episodes counted
	}{
		{"both", true, true, true, true},
		{"syscall only", false, true, false, true},
		{"run-queue only", true, false, true, false},
		{"both again", true, true, true, true},
	}
	for _, st := range steps {
		if err := set.kern.setAttached(RunqueueDelay, st.runqOn); err != nil {
			t.Fatal(err)
		}
		if err := set.kern.setAttached(SyscallLatency, st.sysOn); err != nil {
			t.Fatal(err)
		}
		r, s := switchCounts(t, set, run, n)
		t.Logf("%s: %d run-queue delays, %d syscall episodes over %d round trips", st.name, r, s, n)
		// Each round trip blocks both threads in read(2) and wakes them:
		// at least one episode per round trip on, none off.
		if got := r > n/2; got != st.wantRunq || (!st.runqOn && r != 0) {
			t.Errorf("%s: %d run-queue delays counted (on=%v)", st.name, r, st.runqOn)
		}
		if got := s > n/2; got != st.want || (!st.sysOn && s != 0) {
			t.Errorf("%s: %d syscall episodes counted (on=%v)", st.name, s, st.sysOn)
		}
	}
	// Both off: the program is detached (the link closed in the kernel).
	for _, sig := range []Signal{RunqueueDelay, SyscallLatency} {
		if err := set.kern.setAttached(sig, false); err != nil {
			t.Fatal(err)
		}
	}
	if l, err := link.NewFromID(shared); err == nil {
		l.Close()
		t.Errorf("link %d still exists with both scheduler signals off", shared)
	}
}
