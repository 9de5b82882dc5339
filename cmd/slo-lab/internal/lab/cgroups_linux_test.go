//go:build linux

package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/testutil"
)

// TestCleanStale leaves behind what a crashed lab would (its cgroups with
// a process still in a nested one, its network namespace) under the pid of
// a process that has exited, and beside it the same under a pid that still
// runs; CleanStale must remove the first, killing the process, and keep
// the second.
func TestCleanStale(t *testing.T) {
	testutil.RequireRootNet(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	dead := LabPrefix + strconv.Itoa(gone.Process.Pid)
	live := LabPrefix + strconv.Itoa(sleeper.Process.Pid) // a lab that still runs
	parent, err := faults.CgroupOf(os.Getpid(), "memory")
	if err != nil {
		testutil.Skip(t, "no memory cgroup: "+err.Error())
	}
	nested := filepath.Join(parent, dead, "llmslo-mem-test")
	for _, d := range []string{nested, filepath.Join(parent, live)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = removeCgroupTree(filepath.Join(parent, dead))
		_ = removeCgroupTree(filepath.Join(parent, live))
	})
	if err := os.WriteFile(filepath.Join(nested, "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{dead, live} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add: %v: %s", err, out)
		}
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "delete", live).Run()
		_ = exec.Command("ip", "netns", "delete", dead).Run()
	})

	removed, err := CleanStale()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("removed %v", removed)
	if !slices.Contains(removed, filepath.Join(parent, dead)) || !slices.Contains(removed, "netns "+dead) {
		t.Errorf("removed %v, want the dead lab's memory cgroup and netns", removed)
	}
	if _, err := os.Stat(filepath.Join(parent, dead)); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", dead, err)
	}
	if err := sleeper.Wait(); err == nil {
		t.Error("the process left in the dead lab's cgroup was not killed")
	}
	if _, err := os.Stat(filepath.Join(parent, live)); err != nil {
		t.Errorf("the cgroup of a lab that still runs was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", live)); err != nil {
		t.Errorf("the netns of a lab that still runs was removed: %v", err)
	}
}
