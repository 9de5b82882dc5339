//go:build linux

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmslo/slo/cmd/slo-lab/internal/lab"
	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/testutil"
)

// TestSIGTERMCleansUp starts the lab as a process of its own, sends it
// SIGTERM while a memory-pressure fault holds its service in a nested
// cgroup, and checks that it removed everything it had created: the
// service's cgroups (and the fault's, nested in them), the network
// namespace, the service and the fault's allocator.
func TestSIGTERMCleansUp(t *testing.T) {
	testutil.RequireRootNet(t)
	if testing.Short() {
		t.Skip("runs the lab for about half a minute")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), testRunEnv+"=-only memory_pressure -reps 2 -quiet-wait 1s -subnet 242 -out "+t.TempDir())
	cmd.Stderr = &testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	name := lab.LabPrefix + strconv.Itoa(cmd.Process.Pid)
	memParent, err := faults.CgroupOf(os.Getpid(), "memory")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	deadline := time.Now().Add(2 * time.Minute)
	for len(pids) < 2 && time.Now().Before(deadline) { // the service and the allocator
		time.Sleep(100 * time.Millisecond)
		nested, _ := filepath.Glob(filepath.Join(memParent, name, faults.CgroupPrefix+"mem-*"))
		if len(nested) == 1 {
			b, _ := os.ReadFile(filepath.Join(nested[0], "cgroup.procs"))
			pids = pids[:0]
			for _, f := range strings.Fields(string(b)) {
				p, _ := strconv.Atoi(f)
				pids = append(pids, p)
			}
		}
	}
	if len(pids) < 2 {
		t.Fatalf("no memory-pressure fault held the service within 2 minutes (pids %v)", pids)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the lab did not exit within 30 s of SIGTERM")
	}
	for _, ctl := range []string{"cpu", "memory", "cpuset"} {
		parent, err := faults.CgroupOf(os.Getpid(), ctl)
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(parent, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s cgroup %s left behind (%v)", ctl, name, err)
		}
	}
	if _, err := os.Stat(filepath.Join("/run/netns", name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("network namespace %s left behind", name)
	}
	for _, p := range pids {
		if st := procState(p); st != "" && st != "Z" {
			t.Errorf("process %d (service or allocator) still runs after the lab ended: state %s", p, st)
		}
	}
}

// procState returns the state letter of process pid ("Z": a zombie, ended
// but not yet reaped), or "" when there is no such process.
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}

// testWriter logs what the lab writes.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
