//go:build linux

package probes

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/internal/testutil"
	"github.com/llmslo/slo/probes/internal/cgroupfs"
)

func TestSyscallLatencyPrivileged(t *testing.T) {
	requireBPF(t)
	set := startSet(t, Config{Signals: []Signal{SyscallLatency}, SyscallThreshold: 50 * time.Millisecond})
	events, cancel := set.Subscribe(256)
	defer cancel()

	// A read(2) blocked 80ms on a pipe (blocking fds, not the netpoller).
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	tidc := make(chan int, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tidc <- unix.Gettid()
		var b [1]byte
		_, _ = unix.Read(p[0], b[:])
	}()
	tid := <-tidc
	time.Sleep(80 * time.Millisecond)
	if _, err := unix.Write(p[1], []byte{1}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(3 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.PID != uint32(os.Getpid()) || ev.Duration < 50*time.Millisecond {
				t.Errorf("unexpected event %+v", ev)
			}
			if int(ev.TID) == tid && ev.Op == unix.SYS_READ {
				t.Logf("read(2) took %v", ev.Duration)
				if ev.Duration < 70*time.Millisecond || ev.Duration > 2*time.Second {
					t.Errorf("read latency %v, want ≈ 80ms", ev.Duration)
				}
				return
			}
		case <-timeout:
			t.Fatal("no syscall_latency event for the blocked read")
		}
	}
}

func TestBlockIOPrivileged(t *testing.T) {
	requireBPF(t)
	dir := t.TempDir()
	set := startSet(t, Config{Signals: []Signal{BlockIO}, BlockIOThreshold: time.Nanosecond})
	events, cancel := set.Subscribe(1024)
	defer cancel()

	// 1 MiB written with O_DIRECT and synced: real block requests.
	fd, err := unix.Open(filepath.Join(dir, "blk"), unix.O_CREAT|unix.O_WRONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		testutil.Skip(t, "O_DIRECT not supported on "+dir+": "+err.Error())
	}
	defer unix.Close(fd)
	buf, err := unix.Mmap(-1, 0, 1<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	for i := range buf {
		buf[i] = byte(i)
	}
	if _, err := unix.Write(fd, buf); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fsync(fd); err != nil {
		t.Fatal(err)
	}
	var bytes uint64
	timeout := time.After(2 * time.Second)
collect:
	for {
		select {
		case ev := <-events:
			if ev.PID != uint32(os.Getpid()) {
				t.Errorf("event of pid %d delivered: %+v", ev.PID, ev)
			}
			if ev.Op == 1 { // REQ_OP_WRITE
				bytes += ev.Count
			}
		case <-timeout:
			break collect
		}
	}
	h, err := set.Histogram(BlockIO)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes written in block requests; histogram %d requests, mean %v", bytes, h.Count, h.Mean())
	if bytes < 1<<20 {
		t.Errorf("block write events cover %d bytes, want ≥ 1 MiB", bytes)
	}
}

// TestMemReclaimPrivileged writes page cache from a process in a memory
// cgroup limited to 32 MiB: it must stall in cgroup reclaim.
func TestMemReclaimPrivileged(t *testing.T) {
	requireBPF(t)
	v1, v2 := memoryCgroupRoot()
	if v1 == "" && v2 == "" {
		testutil.Skip(t, "no memory cgroup controller mounted")
	}
	root := v1
	if root == "" {
		root = v2
	}
	cg := filepath.Join(root, "slo-probes-mem-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 100; i++ {
			if err := os.Remove(cg); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("cgroup %s not removed", cg)
	})
	limit := "memory.limit_in_bytes"
	if v1 == "" {
		limit = "memory.max"
	}
	if err := os.WriteFile(filepath.Join(cg, limit), []byte(strconv.Itoa(32<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	child := startHelper(t, "pagecache", "SLO_PROBES_FILE="+filepath.Join(t.TempDir(), "cache"))
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(child.cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	set := startSet(t, Config{Signals: []Signal{MemReclaim}, Pid: child.cmd.Process.Pid, ReclaimThreshold: time.Nanosecond})
	events, cancel := set.Subscribe(1 << 14)
	defer cancel()
	if err := child.wait(60 * time.Second); err != nil {
		t.Fatalf("page-cache writer: %v", err)
	}
	var n int
	var total time.Duration
	var pages uint64
	timeout := time.After(500 * time.Millisecond)
collect:
	for {
		select {
		case ev := <-events:
			if ev.PID != uint32(child.cmd.Process.Pid) {
				t.Errorf("event of pid %d delivered: %+v", ev.PID, ev)
			}
			n++
			total += ev.Duration
			pages += ev.Count
		case <-timeout:
			break collect
		}
	}
	t.Logf("%d reclaim stalls, %v in total, %d pages reclaimed", n, total, pages)
	if n == 0 || pages == 0 {
		t.Error("no mem_reclaim event from a writer at its memory limit")
	}
}

// memoryCgroupRoot returns the cgroup v1 memory hierarchy or, without one,
// the cgroup2 mount (with the memory controller enabled for children).
func memoryCgroupRoot() (v1, v2 string) {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		return "/sys/fs/cgroup/memory", ""
	}
	_, v2, _ = cgroupfs.Mounts()
	if v2 != "" {
		_ = os.WriteFile(filepath.Join(v2, "cgroup.subtree_control"), []byte("+memory"), 0o644)
	}
	return "", v2
}
