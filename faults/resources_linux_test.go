//go:build linux

package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/testutil"
	"golang.org/x/sys/unix"
)

// faultChildren returns the PIDs of live helper processes this test binary
// started (their argv[0] of the script is "llmslo-fault").
func faultChildren(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	me := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 2 || f[1] != strconv.Itoa(me) || f[0] == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.Contains(string(cmdline), "llmslo-fault") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func assertNoFaultChildren(t *testing.T) {
	t.Helper()
	if pids := faultChildren(t); len(pids) > 0 {
		t.Errorf("helper processes left behind: %v", pids)
	}
}

// startVictim starts a process the test owns (a spinner or a sleeper) and
// kills it at the end. The script must run in the shell's own process (a
// builtin loop, or exec): a faults injector moves that one pid, and a child
// the shell forked after the move would be in the fault's cgroup as well.
func startVictim(t *testing.T, script string) int {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// threadShare pins a fresh thread to cpu, spins for d and returns the share
// of d it got on the CPU and how long it waited in the run queue.
func threadShare(t *testing.T, cpu int, d time.Duration) (share float64, wait time.Duration) {
	t.Helper()
	type res struct {
		share float64
		wait  time.Duration
		err   error
	}
	ch := make(chan res, 1)
	go func() {
		lockThreadForever()
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			ch <- res{err: err}
			return
		}
		run0, wait0, err := schedstat()
		if err != nil {
			ch <- res{err: err}
			return
		}
		start := time.Now()
		for time.Since(start) < d {
			for i := 0; i < 10000; i++ {
			}
		}
		wall := time.Since(start)
		run1, wait1, err := schedstat()
		ch <- res{float64(run1-run0) / float64(wall), wait1 - wait0, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.share, r.wait
}

// schedstat reads the calling thread's on-CPU and run-queue wait time.
func schedstat() (run, wait time.Duration, err error) {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, errors.New("short schedstat")
	}
	r, _ := strconv.ParseInt(f[0], 10, 64)
	w, _ := strconv.ParseInt(f[1], 10, 64)
	return time.Duration(r), time.Duration(w), nil
}

// TestCPUContention compares the CPU share of a pinned thread without and
// with 4 spinners on its CPU. The machine is shared with other workloads, so
// it takes the best of 3 attempts.
func TestCPUContention(t *testing.T) {
	cpus, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	cpu := cpus[len(cpus)-1]
	ok := false
	for attempt := 0; attempt < 3 && !ok; attempt++ {
		baseShare, baseWait := threadShare(t, cpu, 300*time.Millisecond)
		undo, err := CPUContention{CPUs: []int{cpu}, Workers: 4}.Inject(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n := len(faultChildren(t)); n != 4 {
			t.Errorf("%d spinners running, want 4", n)
		}
		time.Sleep(20 * time.Millisecond)
		share, wait := threadShare(t, cpu, 300*time.Millisecond)
		t.Logf("cpu %d: share %.2f -> %.2f, run-queue wait %v -> %v (4 spinners)", cpu, baseShare, share, baseWait, wait)
		ok = share < 0.7*baseShare
		if err := undo(); err != nil {
			t.Fatal(err)
		}
		if err := undo(); err != nil {
			t.Fatal(err)
		}
		assertNoFaultChildren(t)
	}
	if !ok {
		t.Error("the pinned thread's CPU share never dropped below 0.7× its baseline")
	}
}

// TestCPUContentionInCgroup checks that spinners join the cgroup they are
// given (neighbours inside a workload's own CPU share) and leave with undo;
// a cgroup that does not exist fails the injection and leaves no spinner.
func TestCPUContentionInCgroup(t *testing.T) {
	testutil.RequireRootNet(t)
	var u undoer
	t.Cleanup(func() { _ = u.undo() })
	cg, err := newCgroup(&u, "cpu", "test", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	undo, err := CPUContention{Workers: 2, Cgroup: cg.path}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pids, err := cg.pids()
	if err != nil || len(pids) != 2 {
		t.Errorf("cgroup holds %v (%v), want the 2 spinners", pids, err)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	assertNoFaultChildren(t)
	if pids, _ := cg.pids(); len(pids) != 0 {
		t.Errorf("after undo the cgroup holds %v", pids)
	}
	if _, err := (CPUContention{Workers: 2, Cgroup: filepath.Join(cg.path, "missing")}).Inject(t.Context()); err == nil {
		t.Error("a cgroup that does not exist: no error")
	}
	assertNoFaultChildren(t)
}

func TestCPUContentionFailsHalfway(t *testing.T) {
	injected := errors.New("injected")
	n := 0
	_, err := CPUContention{Workers: 3, hook: func(string) error {
		if n++; n == 2 {
			return injected
		}
		return nil
	}}.Inject(t.Context())
	if !errors.Is(err, injected) {
		t.Fatalf("err = %v", err)
	}
	assertNoFaultChildren(t)
	func() {
		defer func() { _ = recover() }()
		_, _ = CPUContention{Workers: 2, hook: func(string) error { panic(injected) }}.Inject(t.Context())
	}()
	assertNoFaultChildren(t)
	if _, err := (CPUContention{CPUs: []int{-1}}).Inject(t.Context()); err == nil {
		t.Error("negative cpu accepted")
	}
}

// procCPU returns the user+system CPU time of pid.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	d, err := testutil.PidCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCPUThrottle(t *testing.T) {
	testutil.RequireRootNet(t)
	victim := startVictim(t, "while :; do :; done")
	orig, err := CgroupOf(victim, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	undo, cg := injectIn(t, CPUThrottle{QuotaPct: 10, PIDs: []int{victim}}, victim, "cpu")
	if !strings.HasPrefix(filepath.Base(cg), CgroupPrefix+"cpu-") {
		t.Fatalf("victim in %s, not in a throttle cgroup", cg)
	}
	c0 := procCPU(t, victim)
	time.Sleep(time.Second)
	share := float64(procCPU(t, victim)-c0) / float64(time.Second)
	stat, err := readKV(filepath.Join(cg, "cpu.stat"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10%% quota: victim share %.3f, cpu.stat %v", share, stat)
	if stat["nr_throttled"] == 0 {
		t.Error("nr_throttled = 0")
	}
	if share > 0.2 {
		t.Errorf("victim used %.2f of a CPU under a 10%% quota", share)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if got, _ := CgroupOf(victim, "cpu"); got != orig {
		t.Errorf("victim in %s after undo, want %s", got, orig)
	}
	if _, err := os.Stat(cg); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s left behind", cg)
	}
}

func TestCgroupSetupFailsHalfway(t *testing.T) {
	testutil.RequireRootNet(t)
	victim := startVictim(t, "exec sleep 60")
	origCPU, _ := CgroupOf(victim, "cpu")
	origMem, _ := CgroupOf(victim, "memory")
	injected := errors.New("injected")
	for _, step := range []string{"cgroup", "enter", "allocator"} {
		for _, panics := range []bool{false, true} {
			var path string
			hook := func(s string) error {
				if p, ok := strings.CutPrefix(s, "cgroup "); ok {
					path, s = p, "cgroup"
				}
				if s != step {
					return nil
				}
				if panics {
					panic(injected)
				}
				return injected
			}
			var inj Injector = CPUThrottle{QuotaPct: 50, PIDs: []int{victim}, hook: hook}
			if step == "allocator" {
				inj = MemoryPressure{LimitBytes: 32 << 20, PIDs: []int{victim}, hook: hook}
			}
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = r.(error)
					}
				}()
				_, err = inj.Inject(t.Context())
			}()
			if !errors.Is(err, injected) {
				t.Errorf("%s panics=%v: err = %v", step, panics, err)
			}
			if path == "" {
				t.Fatalf("%s: no cgroup path seen", step)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s panics=%v: cgroup %s left behind", step, panics, path)
			}
			if got, _ := CgroupOf(victim, "cpu"); got != origCPU {
				t.Errorf("%s: victim in cpu cgroup %s, want %s", step, got, origCPU)
			}
			if got, _ := CgroupOf(victim, "memory"); got != origMem {
				t.Errorf("%s: victim in memory cgroup %s, want %s", step, got, origMem)
			}
			assertNoFaultChildren(t)
		}
	}
}

// psiMemSome returns the total "some" memory stall time from PSI, or 0
// when PSI is off.
func psiMemSome(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/pressure/memory")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	_, tot, _ := strings.Cut(line, "total=")
	us, _ := strconv.ParseInt(strings.TrimSpace(tot), 10, 64)
	return time.Duration(us) * time.Microsecond
}

func TestMemoryPressure(t *testing.T) {
	testutil.RequireRootNet(t)
	victim := startVictim(t, "exec sleep 60")
	orig, err := CgroupOf(victim, "memory")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	psi0 := psiMemSome(t)
	undo, cg := injectIn(t, MemoryPressure{LimitBytes: 64 << 20, PIDs: []int{victim}, Dir: dir}, victim, "memory")
	if !strings.HasPrefix(filepath.Base(cg), CgroupPrefix+"mem-") {
		t.Fatalf("victim in %s, not in a pressure cgroup", cg)
	}
	// Under load the allocator needs a while to fill the cgroup: poll.
	v1 := fileExists(filepath.Join(cg, "memory.failcnt"))
	var hits int64
	var stat map[string]int64
	start := time.Now()
	for time.Since(start) < 20*time.Second {
		time.Sleep(250 * time.Millisecond)
		if stat, err = readKV(filepath.Join(cg, "memory.stat")); err != nil {
			t.Fatal(err)
		}
		if v1 {
			b, _ := os.ReadFile(filepath.Join(cg, "memory.failcnt"))
			hits, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		} else {
			ev, _ := readKV(filepath.Join(cg, "memory.events"))
			hits = ev["max"]
		}
		if hits > 0 && (stat["pgpgout"] > 0 || stat["pgscan_direct"] > 0) && time.Since(start) > time.Second {
			break
		}
	}
	psi := psiMemSome(t) - psi0
	// Limit reclaim is counted only per memcg (v2 memory.stat pgscan*), not
	// in /proc/vmstat; v1 exposes the limit hits (failcnt) and pgpgout.
	t.Logf("64 MiB limit, after %v: limit hits %d, cgroup pgpgout %d pgscan_direct %d, PSI memory some +%v",
		time.Since(start).Round(time.Millisecond), hits, stat["pgpgout"], stat["pgscan_direct"], psi)
	if hits == 0 {
		t.Error("the cgroup never hit its limit")
	}
	if v1 && stat["pgpgout"] == 0 {
		t.Error("no pages reclaimed from the cgroup (pgpgout 0)")
	}
	if !v1 && stat["pgscan_direct"] == 0 {
		t.Error("no direct reclaim scanning in the cgroup (pgscan_direct 0)")
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if got, _ := CgroupOf(victim, "memory"); got != orig {
		t.Errorf("victim in %s after undo, want %s", got, orig)
	}
	if _, err := os.Stat(cg); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s left behind", cg)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("allocator file left behind: %v", ents)
	}
	assertNoFaultChildren(t)
}

// TestMemoryPressureHeadroom checks that with Headroom the limit is the
// cgroup's usage once the processes are in it plus Headroom (charges the
// victim had stay where they were), and that the allocator is the OOM
// killer's first choice.
func TestMemoryPressureHeadroom(t *testing.T) {
	testutil.RequireRootNet(t)
	victim := startVictim(t, "exec sleep 60")
	const headroom = 32 << 20
	undo, cg := injectIn(t, MemoryPressure{Headroom: headroom, PIDs: []int{victim}, Dir: t.TempDir()}, victim, "memory")
	limitFile := "memory.limit_in_bytes"
	if !fileExists(filepath.Join(cg, "memory.failcnt")) {
		limitFile = "memory.max"
	}
	b, err := os.ReadFile(filepath.Join(cg, limitFile))
	if err != nil {
		t.Fatal(err)
	}
	limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// A sleeping shell and the allocator's shell charge well under 8 MiB;
	// the limit is rounded down to pages.
	if limit < headroom-4096 || limit > headroom+8<<20 {
		t.Errorf("limit = %d, want headroom %d plus the little the cgroup held", limit, headroom)
	}
	// The allocator's shell sets its oom_score_adj first thing: poll.
	var adjs []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, err = os.ReadFile(filepath.Join(cg, "cgroup.procs"))
		if err != nil {
			t.Fatal(err)
		}
		adjs = adjs[:0]
		ok := true
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			if pid == victim {
				continue
			}
			adj, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid))
			if err != nil {
				continue // exited meanwhile
			}
			got := strings.TrimSpace(string(adj))
			adjs = append(adjs, fmt.Sprintf("%d:%s", pid, got))
			ok = ok && got == "1000"
		}
		if ok && len(adjs) > 0 {
			break
		}
	}
	if len(adjs) == 0 {
		t.Error("no allocator process in the cgroup")
	}
	for _, a := range adjs {
		if !strings.HasSuffix(a, ":1000") {
			t.Errorf("allocator oom_score_adj (pid:value) %s, want 1000", a)
		}
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cg); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s left behind", cg)
	}
	assertNoFaultChildren(t)
}

// injectIn injects inj, undoes it at cleanup and returns the undo and the
// controller's cgroup victim is in afterwards.
func injectIn(t *testing.T, inj Injector, victim int, controller string) (undo func() error, cg string) {
	t.Helper()
	undo, err := inj.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = undo() })
	cg, err = CgroupOf(victim, controller)
	if err != nil {
		t.Fatal(err)
	}
	return undo, cg
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestCgroupRefusesWithoutPrivilege(t *testing.T) {
	testutil.RequireRootNet(t)
	victim := startVictim(t, "exec sleep 60")
	err := withoutCap(t, unix.CAP_DAC_OVERRIDE, func() error {
		// Drop to an unprivileged fsuid on this thread so the cgroupfs
		// permission check fails as it would for a normal user.
		unix.Setfsuid(65534)
		_, err := CPUThrottle{QuotaPct: 10, PIDs: []int{victim}}.Inject(t.Context())
		return err
	})
	if !errors.Is(err, ErrPrivilege) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("err = %v, want ErrPrivilege", err)
	}
}

func TestResourceValidation(t *testing.T) {
	for name, inj := range map[string]Injector{
		"throttle-no-pid":  CPUThrottle{QuotaPct: 10},
		"throttle-quota":   CPUThrottle{QuotaPct: 0, PIDs: []int{1}},
		"throttle-period":  CPUThrottle{QuotaPct: 10, PIDs: []int{1}, Period: time.Hour},
		"memory-limit":     MemoryPressure{LimitBytes: 1 << 20},
		"memory-file-size": MemoryPressure{LimitBytes: 32 << 20, FileBytes: 10},
		"memory-headroom":  MemoryPressure{Headroom: 1 << 20},
		"memory-both":      MemoryPressure{LimitBytes: 32 << 20, Headroom: 32 << 20},
	} {
		if _, err := inj.Inject(t.Context()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestRefusesUnprivileged runs only without root and checks that every
// privileged injector refuses with ErrPrivilege and creates nothing. (As root
// the same is covered by the tests that drop a capability on one thread.)
func TestRefusesUnprivileged(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs only unprivileged")
	}
	fakeNS := &Netns{name: NetnsPrefix + "fake", handle: -1}
	for name, inj := range map[string]Injector{
		"loss":      PacketLoss{NS: fakeNS, Percent: 10},
		"partition": Partition{NS: fakeNS},
		"throttle":  CPUThrottle{QuotaPct: 10, PIDs: []int{os.Getpid()}},
		"memory":    MemoryPressure{LimitBytes: 64 << 20, PIDs: []int{os.Getpid()}},
		"netns": InjectorFunc(func(context.Context) (func() error, error) {
			_, err := NewNetns("", Subnet(252))
			return nil, err
		}),
	} {
		_, err := inj.Inject(t.Context())
		if !errors.Is(err, ErrPrivilege) || !errors.Is(err, os.ErrPermission) {
			t.Errorf("%s: err = %v, want ErrPrivilege", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	assertNoFaultChildren(t)
}
