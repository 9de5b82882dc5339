//go:build linux

package sidecar

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/internal/testutil"
)

func TestJoinNS(t *testing.T) {
	tests := []struct {
		root, p, want string
		ok            bool
	}{
		{"/", "/a/b", "/a/b", true},
		{"/kubepods/pod1/c1", "/", "/kubepods/pod1/c1", true},
		{"/kubepods/pod1/c1", "/../c2", "/kubepods/pod1/c2", true},
		{"/kubepods/pod1/c1", "/../../../system.slice", "/system.slice", true},
		{"/kubepods/pod1/c1", "/../../../../x", "", false},
		{"/", "/../x", "", false},
	}
	for _, tt := range tests {
		got, ok := joinNS(tt.root, tt.p)
		if got != tt.want || ok != tt.ok {
			t.Errorf("joinNS(%q, %q) = %q, %v; want %q, %v", tt.root, tt.p, got, ok, tt.want, tt.ok)
		}
	}
}

// runCgidHelper prints the cgroup id of SLO_SC_PID as this process
// resolves it from a new cgroup namespace rooted at its own cgroup.
func runCgidHelper() int {
	runtime.LockOSThread() // the namespace is this thread's
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	pid, _ := strconv.Atoi(os.Getenv("SLO_SC_PID"))
	r := cgroupResolver{}
	id, err := r.id(pid)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	p, _ := cgroupPath(pid)
	fmt.Fprintln(os.Stderr, "path", p, "nsroot", r.nsRoot)
	fmt.Println(id)
	return 0
}

// TestCgroupIDFromOtherNamespace resolves this process's cgroup from a child
// in its own cgroup namespace, where /proc shows it as "/..".
func TestCgroupIDFromOtherNamespace(t *testing.T) {
	testutil.RequireRootNet(t)
	want, err := CgroupID("", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	fd, _ := newCgroup(t, "sc-ns")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = []string{"SLO_SIDECAR_HELPER=cgid", "SLO_SC_PID=" + strconv.Itoa(os.Getpid())}
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s %s", err, out, stderr.String())
	}
	t.Logf("child: %s", strings.TrimSpace(stderr.String()))
	if !strings.Contains(stderr.String(), "path /..") {
		t.Errorf("the child did not see this process outside its namespace: %s", stderr.String())
	}
	if got := strings.TrimSpace(string(out)); got != strconv.FormatUint(want, 10) {
		t.Errorf("child in its own cgroup namespace resolved %s, want %d", got, want)
	}
}
