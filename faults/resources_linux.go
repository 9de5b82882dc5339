//go:build linux

package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// child is a helper process started by an injector.
type child struct {
	cmd  *exec.Cmd
	gate io.WriteCloser // stdin: the script waits for it before working
}

// startChild starts `sh -c script` with its stdin as a gate (scripts start
// with `read _`), pinned to cpu when cpu >= 0, and pushes on u the kill (by
// PID) and reap. Call release to let it run.
func startChild(u *undoer, script string, cpu int, args ...string) (*child, error) {
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "llmslo-fault"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	gate, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		gate.Close()
		return nil, fmt.Errorf("start helper process: %w", err)
	}
	c := &child{cmd: cmd, gate: gate}
	u.push(fmt.Sprintf("kill helper pid %d", cmd.Process.Pid), c.kill)
	if cpu >= 0 {
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(cmd.Process.Pid, &set); err != nil {
			return nil, fmt.Errorf("pin helper to cpu %d: %w", cpu, err)
		}
	}
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) release() error {
	_, err := c.gate.Write([]byte("go\n"))
	c.gate.Close()
	return err
}

func (c *child) kill() error {
	c.gate.Close()
	if c.cmd.ProcessState == nil {
		if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		_ = c.cmd.Wait() // "signal: killed" is the expected outcome
	}
	return nil
}

// allowedCPUs returns the CPUs the calling process may run on.
func allowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, err
	}
	var cpus []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus, nil
}

const spinScript = `read _; while :; do :; done`

// Inject starts the spinners.
func (c CPUContention) Inject(ctx context.Context) (undo func() error, err error) {
	cpus := c.CPUs
	if len(cpus) == 0 {
		if cpus, err = allowedCPUs(); err != nil {
			return nil, fmt.Errorf("faults: cpu contention: %w", err)
		}
	}
	for _, cpu := range cpus {
		if cpu < 0 || cpu >= maxCPUs {
			return nil, fmt.Errorf("faults: cpu contention: invalid cpu %d", cpu)
		}
	}
	workers := c.Workers
	if workers <= 0 {
		workers = len(cpus)
	}
	if workers > 1024 {
		return nil, fmt.Errorf("faults: cpu contention: %d workers is too many", workers)
	}
	var u undoer
	defer u.onFailure(&err)
	children := make([]*child, 0, workers)
	for i := range workers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ch, err := startChild(&u, spinScript, cpus[i%len(cpus)])
		if err != nil {
			return nil, fmt.Errorf("faults: cpu contention: %w", err)
		}
		children = append(children, ch)
		if c.Cgroup != "" {
			if err := movePID(c.Cgroup, ch.pid()); err != nil {
				return nil, fmt.Errorf("faults: cpu contention: spinner into %s: %w", c.Cgroup, privErr(err))
			}
		}
		if err := c.hook.at("spinner"); err != nil {
			return nil, err
		}
	}
	for _, ch := range children {
		if err := ch.release(); err != nil {
			return nil, fmt.Errorf("faults: cpu contention: release spinner: %w", err)
		}
	}
	return u.undo, nil
}

// Inject creates the throttled cgroup and moves the processes into it.
func (c CPUThrottle) Inject(ctx context.Context) (undo func() error, err error) {
	if len(c.PIDs) == 0 {
		return nil, errors.New("faults: cpu throttle needs at least one pid")
	}
	period := c.Period
	if period == 0 {
		period = 100 * time.Millisecond
	}
	if period < time.Millisecond || period > time.Second {
		return nil, fmt.Errorf("faults: cpu throttle period %v out of 1ms..1s", period)
	}
	if c.QuotaPct < 1 || c.QuotaPct > 100*maxCPUs {
		return nil, fmt.Errorf("faults: cpu throttle quota %d%% out of range", c.QuotaPct)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	periodUS := period.Microseconds()
	quotaUS := max(periodUS*int64(c.QuotaPct)/100, 1000) // kernel minimum 1 ms
	var u undoer
	defer u.onFailure(&err)
	cg, err := newCgroup(&u, "cpu", "cpu", c.PIDs[0])
	if err != nil {
		return nil, fmt.Errorf("faults: cpu throttle: %w", err)
	}
	if err := c.hook.at("cgroup " + cg.path); err != nil {
		return nil, err
	}
	if cg.h.v2 {
		err = cg.write("cpu.max", fmt.Sprintf("%d %d", quotaUS, periodUS))
	} else {
		// Period first: the quota is checked against it (and the parent).
		if err = cg.write("cpu.cfs_period_us", strconv.FormatInt(periodUS, 10)); err == nil {
			err = cg.write("cpu.cfs_quota_us", strconv.FormatInt(quotaUS, 10))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("faults: cpu throttle: %w", err)
	}
	for _, pid := range c.PIDs {
		if err := cg.enter(&u, pid); err != nil {
			return nil, fmt.Errorf("faults: cpu throttle: %w", err)
		}
		if err := c.hook.at("enter"); err != nil {
			return nil, err
		}
	}
	return u.undo, nil
}

// memScript makes the allocator the OOM killer's first choice, creates the
// file from inside the cgroup (so its pages are charged there) and then
// streams it through the page cache forever.
const memScript = `echo 1000 >/proc/self/oom_score_adj 2>/dev/null
read _
dd if=/dev/zero of="$1" bs=1048576 count="$2" 2>/dev/null
while :; do cat "$1" >/dev/null; done`

// Inject creates the limited cgroup, moves the processes in and starts the
// allocator.
func (m MemoryPressure) Inject(ctx context.Context) (undo func() error, err error) {
	fileBytes, dir, err := m.plan()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var u undoer
	defer u.onFailure(&err)
	parent := os.Getpid()
	if len(m.PIDs) > 0 {
		parent = m.PIDs[0]
	}
	cg, err := newCgroup(&u, "memory", "mem", parent)
	if err != nil {
		return nil, fmt.Errorf("faults: memory pressure: %w", err)
	}
	if m.LimitBytes != 0 {
		if err := cg.setMemLimit(m.LimitBytes); err != nil {
			return nil, fmt.Errorf("faults: memory pressure: %w", err)
		}
	}
	if err := m.hook.at("cgroup " + cg.path); err != nil {
		return nil, err
	}
	file, err := fillFile(&u, dir)
	if err != nil {
		return nil, fmt.Errorf("faults: memory pressure: %w", err)
	}
	mib := strconv.FormatInt((fileBytes+(1<<20)-1)>>20, 10)
	alloc, err := startChild(&u, memScript, -1, file, mib)
	if err != nil {
		return nil, fmt.Errorf("faults: memory pressure: %w", err)
	}
	if err := cg.enter(&u, alloc.pid()); err != nil {
		return nil, fmt.Errorf("faults: memory pressure: allocator: %w", err)
	}
	if err := m.hook.at("allocator"); err != nil {
		return nil, err
	}
	if err := m.enter(&u, cg); err != nil {
		return nil, fmt.Errorf("faults: memory pressure: %w", err)
	}
	if err := alloc.release(); err != nil {
		return nil, fmt.Errorf("faults: memory pressure: release allocator: %w", err)
	}
	return u.undo, nil
}

// plan checks m and returns the size of the allocator's file and the
// directory it goes in.
func (m MemoryPressure) plan() (fileBytes int64, dir string, err error) {
	size := m.LimitBytes
	switch {
	case m.LimitBytes != 0 && m.Headroom != 0:
		return 0, "", errors.New("faults: memory pressure: set LimitBytes or Headroom, not both")
	case m.LimitBytes == 0:
		if m.Headroom < 16<<20 {
			return 0, "", fmt.Errorf("faults: memory pressure headroom %d below 16 MiB", m.Headroom)
		}
		size = m.Headroom
	case m.LimitBytes < 16<<20:
		return 0, "", fmt.Errorf("faults: memory pressure limit %d below 16 MiB", m.LimitBytes)
	}
	fileBytes = m.FileBytes
	if fileBytes == 0 {
		fileBytes = 2 * size
	}
	if fileBytes < 1<<20 {
		return 0, "", fmt.Errorf("faults: memory pressure file size %d below 1 MiB", fileBytes)
	}
	dir = m.Dir
	if dir == "" {
		dir = os.TempDir()
		if isTmpfs(dir) {
			dir = "/var/tmp"
		}
	}
	if isTmpfs(dir) {
		return 0, "", fmt.Errorf("faults: memory pressure: %s is a tmpfs (not reclaimable without swap)", dir)
	}
	return fileBytes, dir, nil
}

// fillFile creates the allocator's (empty) file in dir; u removes it.
func fillFile(u *undoer, dir string) (string, error) {
	f, err := os.CreateTemp(dir, CgroupPrefix+"mem-*.fill")
	if err != nil {
		return "", err
	}
	file := f.Name()
	f.Close()
	u.push("remove "+file, func() error {
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	})
	return file, nil
}

// enter moves m's processes into cg and, when the limit follows usage,
// sets it to the usage then plus the headroom.
func (m MemoryPressure) enter(u *undoer, cg *cgroup) error {
	for _, pid := range m.PIDs {
		if err := cg.enter(u, pid); err != nil {
			return err
		}
	}
	if m.LimitBytes == 0 {
		usage, err := cg.memUsage()
		if err != nil {
			return err
		}
		return cg.setMemLimit(usage + m.Headroom)
	}
	return nil
}

// setMemLimit writes the memory limit of c.
func (c *cgroup) setMemLimit(limit int64) error {
	v := strconv.FormatInt(limit, 10)
	if c.h.v2 {
		return c.write("memory.max", v)
	}
	return c.write("memory.limit_in_bytes", v)
}

// memUsage reads the memory charged to c.
func (c *cgroup) memUsage() (int64, error) {
	f := "memory.usage_in_bytes"
	if c.h.v2 {
		f = "memory.current"
	}
	b, err := os.ReadFile(filepath.Join(c.path, f))
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", f, err)
	}
	return v, nil
}

func isTmpfs(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Clean(dir), &st); err != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC
}

// maxCPUs is the number of CPUs a unix.CPUSet can name.
const maxCPUs = len(unix.CPUSet{}) * 64
