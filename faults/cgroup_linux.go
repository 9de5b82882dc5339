//go:build linux

package faults

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// CgroupPrefix starts the name of every cgroup directory this package creates.
const CgroupPrefix = "llmslo-"

// hierarchy is a mounted cgroup hierarchy that has one controller.
type hierarchy struct {
	v2    bool
	mount string // mount point
	root  string // root of the mount inside the hierarchy (usually "/")
	ctl   string // controller name
}

// findHierarchy returns the hierarchy holding controller: a cgroup2 mount
// whose root lists it in cgroup.controllers, else a v1 mount with it.
func findHierarchy(ctl string) (hierarchy, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return hierarchy{}, fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	var v1 *hierarchy
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 0 || sep+3 >= len(fields) || len(fields) < 5 {
			continue
		}
		fstype, superOpts := fields[sep+1], fields[sep+3]
		h := hierarchy{mount: unescapeMount(fields[4]), root: fields[3], ctl: ctl}
		switch fstype {
		case "cgroup2":
			b, err := os.ReadFile(filepath.Join(h.mount, "cgroup.controllers"))
			if err == nil && slices.Contains(strings.Fields(string(b)), ctl) {
				h.v2 = true
				return h, nil
			}
		case "cgroup":
			if v1 == nil && slices.Contains(strings.Split(superOpts, ","), ctl) {
				v1 = &h
			}
		}
	}
	if v1 != nil {
		return *v1, nil
	}
	return hierarchy{}, fmt.Errorf("no cgroup hierarchy with the %s controller: %w", ctl, errors.ErrUnsupported)
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// cgroupOf returns the directory of pid's cgroup in h.
func (h hierarchy) cgroupOf(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	p, ok := parseProcCgroup(b, h.v2, h.ctl)
	if !ok {
		return "", fmt.Errorf("pid %d has no %s cgroup", pid, h.ctl)
	}
	if h.root != "/" {
		p = strings.TrimPrefix(p, h.root)
	}
	return filepath.Join(h.mount, p), nil
}

// parseProcCgroup finds, in the contents of /proc/PID/cgroup, the path of the
// v2 cgroup (v2) or of the v1 hierarchy that has controller ctl.
func parseProcCgroup(b []byte, v2 bool, ctl string) (string, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			continue
		}
		if v2 && parts[0] == "0" && parts[1] == "" {
			return parts[2], true
		}
		if !v2 && slices.Contains(strings.Split(parts[1], ","), ctl) {
			return parts[2], true
		}
	}
	return "", false
}

// CgroupOf returns the directory of pid's cgroup for controller ("cpu",
// "memory", ...) in the hierarchy this package would use for it (cgroup v2
// when the controller is available there, else v1). Tests and the lab read
// cpu.stat or memory.stat from it.
func CgroupOf(pid int, controller string) (string, error) {
	h, err := findHierarchy(controller)
	if err != nil {
		return "", fmt.Errorf("faults: %w", err)
	}
	p, err := h.cgroupOf(pid)
	if err != nil {
		return "", fmt.Errorf("faults: %w", err)
	}
	return p, nil
}

// cgroup is a cgroup directory created by this package.
type cgroup struct {
	h    hierarchy
	path string
}

// newCgroup creates a cgroup for h.ctl and pushes its removal on u. On v1 it
// nests under the cgroup of parentPID, so limits that already apply keep
// applying; on v2 it is created at the root of the mount (the root may hold
// processes and enable controllers), enabling the controller in the root's
// cgroup.subtree_control when needed (left enabled).
func newCgroup(u *undoer, ctl, kind string, parentPID int) (*cgroup, error) {
	h, err := findHierarchy(ctl)
	if err != nil {
		return nil, err
	}
	parent := h.mount
	if !h.v2 {
		if parent, err = h.cgroupOf(parentPID); err != nil {
			return nil, err
		}
	}
	if err := unix.Access(parent, unix.W_OK); err != nil {
		return nil, fmt.Errorf("create cgroup under %s: %w", parent, privErr(err))
	}
	if h.v2 {
		if err := enableController(parent, ctl); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(parent, CgroupPrefix+kind+"-"+randomSuffix(4))
	if err := os.Mkdir(path, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", privErr(err))
	}
	cg := &cgroup{h: h, path: path}
	u.push("remove cgroup "+path, cg.remove)
	return cg, nil
}

func enableController(dir, ctl string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	if slices.Contains(strings.Fields(string(b)), ctl) {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+ctl), 0); err != nil {
		return fmt.Errorf("enable %s controller in %s: %w", ctl, dir, privErr(err))
	}
	return nil
}

func privErr(err error) error {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EROFS) {
		return fmt.Errorf("%w: %w", err, ErrPrivilege)
	}
	return err
}

func (c *cgroup) write(file, value string) error {
	if err := os.WriteFile(filepath.Join(c.path, file), []byte(value), 0); err != nil {
		return fmt.Errorf("write %s=%q: %w", file, value, privErr(err))
	}
	return nil
}

// enter moves pid (the whole process) into c and pushes on u the move back
// to the cgroup it came from.
func (c *cgroup) enter(u *undoer, pid int) error {
	from, err := c.h.cgroupOf(pid)
	if err != nil {
		return err
	}
	if err := c.write("cgroup.procs", strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("move pid %d: %w", pid, err)
	}
	u.push(fmt.Sprintf("move pid %d back to %s", pid, from), func() error {
		return movePID(from, pid)
	})
	return nil
}

// movePID writes pid to dir/cgroup.procs; a process that has exited is not
// an error.
func movePID(dir string, pid int) error {
	err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

func (c *cgroup) pids() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(c.path, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// remove moves any process still in c (e.g. children forked by a moved
// process) to the parent cgroup and removes the directory, retrying while
// exiting processes linger. A directory already gone is success.
func (c *cgroup) remove() error {
	if _, err := os.Stat(c.path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	parent := filepath.Dir(c.path)
	var err error
	for i := 0; i < 50; i++ {
		pids, perr := c.pids()
		if perr != nil && !errors.Is(perr, os.ErrNotExist) {
			return perr
		}
		for _, p := range pids {
			_ = movePID(parent, p)
		}
		err = unix.Rmdir(c.path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("rmdir %s: %w", c.path, err)
}
