//go:build linux

package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/llmslo/slo/faults"
	"golang.org/x/sys/unix"
)

// LabPrefix starts the name of every cgroup and network namespace the lab
// itself creates: "llmslo-lab-" and the lab's pid. They are nested in the
// lab's own cgroups (never at the root of a hierarchy, unless the lab runs
// there). A lab that crashed leaves them behind; the next lab removes those
// whose pid no longer runs, killing what is still in them, when it starts.
const LabPrefix = "llmslo-lab-"

// svcCgroups are the service's cgroups: one per controller (cpu, memory,
// cpuset), nested in the lab's own. The CPU quota, memory and contention
// faults act on them (and the CPUs they allow) alone.
type svcCgroups struct {
	dirs  map[string]string // controller → directory
	cpuV2 bool
	cpus  []int
}

// newSvcCgroups creates the service's cgroups, named LabPrefix+pid, under
// the lab's own. A controller whose cgroup cannot be created is left out
// (logged); the faults that need it are then skipped.
func newSvcCgroups(logf func(string, ...any)) *svcCgroups {
	c := &svcCgroups{dirs: map[string]string{}, cpus: serviceCPUs()}
	name := LabPrefix + strconv.Itoa(os.Getpid())
	for _, ctl := range svcControllers {
		parent, err := faults.CgroupOf(os.Getpid(), ctl)
		if err != nil {
			logf("lab: no %s cgroup for the service: %v", ctl, err)
			continue
		}
		dir := filepath.Join(parent, name)
		if slices.Contains(mapValues(c.dirs), dir) { // cgroup v2: one directory for all
			c.dirs[ctl] = dir
			continue
		}
		if err := makeCgroup(parent, dir, ctl, c.cpus); err != nil {
			logf("lab: no %s cgroup for the service: %v", ctl, err)
			continue
		}
		c.dirs[ctl] = dir
		if ctl == "cpu" {
			_, err := os.Stat(filepath.Join(dir, "cpu.max"))
			c.cpuV2 = err == nil
		}
	}
	return c
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// makeCgroup creates dir under parent for controller ctl; a cpuset is
// limited to cpus (on cgroup v2 the controller is enabled in the parent
// first, which fails when the parent holds processes and is not the root).
func makeCgroup(parent, dir, ctl string, cpus []int) error {
	if _, err := os.Stat(filepath.Join(parent, "cgroup.subtree_control")); err == nil {
		b, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
		if !slices.Contains(strings.Fields(string(b)), ctl) {
			if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+"+ctl), 0); err != nil {
				return fmt.Errorf("enable %s in %s: %w", ctl, parent, err)
			}
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if ctl != "cpuset" {
		return nil
	}
	mems, _ := os.ReadFile(filepath.Join(parent, "cpuset.mems"))
	if _, err := os.Stat(filepath.Join(dir, "cpuset.cpus")); err != nil {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "cpuset.cpus"), []byte(cpuList(cpus)), 0); err != nil {
		return fmt.Errorf("cpuset.cpus: %w", err)
	}
	if m := strings.TrimSpace(string(mems)); m != "" {
		if err := os.WriteFile(filepath.Join(dir, "cpuset.mems"), []byte(m), 0); err != nil {
			return fmt.Errorf("cpuset.mems: %w", err)
		}
	}
	return nil
}

// serviceCPUs are the CPUs the service may use: the last one the lab may
// run on when there are several (the lab's load generator and dependencies
// keep the others), else all of them.
func serviceCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for i := range runtime.NumCPU() * 4 {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if len(cpus) > 1 {
		return cpus[len(cpus)-1:]
	}
	return cpus
}

func cpuList(cpus []int) string {
	var s []string
	for _, c := range cpus {
		s = append(s, strconv.Itoa(c))
	}
	return strings.Join(s, ",")
}

// enter moves process pid (all its threads) into every service cgroup.
func (c *svcCgroups) enter(pid int) error {
	done := map[string]bool{}
	for _, ctl := range svcControllers {
		dir, ok := c.dirs[ctl]
		if !ok || done[dir] {
			continue
		}
		done[dir] = true
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	return nil
}

// close removes the service's cgroups (and anything nested in them),
// killing what still runs there.
func (c *svcCgroups) close() error {
	var errs []error
	for _, dir := range mapValues(c.dirs) {
		if err := removeCgroupTree(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroupTree kills the processes of dir and of the cgroups nested in
// it, and removes them all, deepest first. A directory already gone is no
// error.
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for range 100 {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		err = unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("rmdir %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("rmdir %s: still busy", dir)
}

// CleanStale removes what labs that are no longer running left behind: the
// cgroups named LabPrefix+pid in this process's cgroups and the network
// namespaces of that name, for every pid that does not run. It returns
// what it removed.
func CleanStale() ([]string, error) {
	var removed []string
	var errs []error
	seen := map[string]bool{}
	for _, ctl := range svcControllers {
		parent, err := faults.CgroupOf(os.Getpid(), ctl)
		if err != nil || seen[parent] {
			continue
		}
		seen[parent] = true
		for _, dir := range staleEntries(parent) {
			if err := removeCgroupTree(dir); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, dir)
		}
	}
	for _, ns := range staleEntries("/run/netns") {
		name := filepath.Base(ns)
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns delete %s: %v: %s", name, err, out))
			continue
		}
		removed = append(removed, "netns "+name)
	}
	return removed, errors.Join(errs...)
}

// staleEntries returns the entries of dir named LabPrefix+pid (faults'
// netns prefix included) whose pid does not run.
func staleEntries(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), LabPrefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(rest)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// childAttr makes a child die with the lab.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
