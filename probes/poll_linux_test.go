//go:build linux

package probes

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/testutil"
	"github.com/llmslo/slo/probes/internal/cgroupfs"
)

// newQuotaCgroup creates a cgroup limited to 10% of one CPU (cgroup v1 cpu
// controller when mounted, else cgroup v2) and removes it at cleanup.
func newQuotaCgroup(t *testing.T) (dir string, procs string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testutil.Skip(t, "creating cgroups needs root")
	}
	v1, v2, _ := cgroupfs.Mounts()
	name := "slo-probes-test-" + strconv.Itoa(os.Getpid())
	write := func(file, val string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(val), 0o644); err != nil {
			t.Fatalf("write %s: %v", file, err)
		}
	}
	switch {
	case v1 != "":
		dir = filepath.Join(v1, name)
	case v2 != "":
		dir = filepath.Join(v2, name)
		_ = os.WriteFile(filepath.Join(v2, "cgroup.subtree_control"), []byte("+cpu"), 0o644)
	default:
		testutil.Skip(t, "no cgroup cpu controller mounted")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("create cgroup: %v", err)
	}
	t.Cleanup(func() {
		// Processes were killed by their own cleanups (registered later,
		// run earlier); wait for the kernel to let go of them.
		for i := 0; ; i++ {
			err := os.Remove(dir)
			if err == nil || os.IsNotExist(err) {
				return
			}
			if i == 100 {
				t.Errorf("remove cgroup %s: %v", dir, err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	if v1 != "" {
		write(filepath.Join(dir, "cpu.cfs_period_us"), "100000")
		write(filepath.Join(dir, "cpu.cfs_quota_us"), "10000")
	} else {
		write(filepath.Join(dir, "cpu.max"), "10000 100000")
	}
	return dir, filepath.Join(dir, "cgroup.procs")
}

func TestCFSThrottlePrivileged(t *testing.T) {
	dir, procs := newQuotaCgroup(t)
	spinner := startHelper(t, "spin", "SLO_PROBES_CPU=0")
	if err := os.WriteFile(procs, []byte(strconv.Itoa(spinner.cmd.Process.Pid)), 0o644); err != nil {
		t.Fatalf("move spinner into cgroup: %v", err)
	}
	set := startSet(t, Config{Signals: []Signal{CFSThrottle}, CgroupPath: dir, PollInterval: 200 * time.Millisecond})
	if st := set.StatusOf(CFSThrottle); st.State != On {
		t.Fatalf("cfs_throttle %s: %s", st.State, st.Reason)
	}
	events, cancel := set.Subscribe(64)
	defer cancel()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-events:
			t.Logf("cfs_throttle: %d periods throttled (%.0f%%), %v throttled", ev.Count, ev.Value, ev.Duration)
			if ev.Count > 0 && ev.Duration > 0 {
				return
			}
		case <-timeout:
			t.Fatal("no cfs_throttle event with throttled periods in 5s")
		}
	}
}

// TestUnprivileged runs Start in a child process as nobody: the BPF signals
// must be off with a reason, the floor must deliver, nothing may panic.
func TestUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		testutil.Skip(t, "switching to nobody needs root")
	}
	// The test binary must be executable by nobody.
	dir, err := os.MkdirTemp("", "slo-probes-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "probes.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()

	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLO_PROBES_HELPER=unpriv")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged helper: %v\n%s", err, out)
	}
	states := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 5)
		if len(f) >= 4 && f[0] == "status" {
			states[f[1]] = f[2:]
			t.Log(sc.Text())
		}
	}
	for _, sig := range AllSignals() {
		st, ok := states[sig.String()]
		if !ok {
			t.Errorf("%s: no status line", sig)
			continue
		}
		if sig.kernel() {
			if st[0] != "off" || len(st) < 3 || !strings.Contains(st[2], "permission") {
				t.Errorf("%s as nobody: %v, want off with a permission reason", sig, st)
			}
		}
	}
	if st := states[GoSchedLatency.String()]; len(st) < 2 || st[0] != "on" || st[1] != "true" {
		t.Errorf("go_sched_latency as nobody: %v, want on and delivering", st)
	}
	if st := states[CPUSteal.String()]; len(st) < 2 || st[0] != "on" || st[1] != "true" {
		t.Errorf("cpu_steal as nobody: %v, want on and delivering", st)
	}
}
