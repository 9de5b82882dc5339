//go:build linux

package sidecar

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/llmslo/slo/probes/internal/cgroupfs"
	"golang.org/x/sys/unix"
)

// cgroup2Mount returns the first cgroup2 mount point of this process.
func cgroup2Mount() (string, error) {
	_, v2, err := cgroupfs.Mounts()
	if err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	if v2 == "" {
		return "", errors.New("no cgroup2 mount")
	}
	return v2, nil
}

// CgroupID returns the cgroup v2 id of process pid — the id BPF programs
// record (bpf_get_current_cgroup_id) — by resolving its /proc/<pid>/cgroup
// entry under the cgroup2 mount v2 ("" finds this process's first cgroup2
// mount). It fails when the process's cgroup lies outside this process's
// cgroup namespace; a [Server] also resolves those when v2 is the host's
// whole hierarchy (see [Config].CgroupRoot).
func CgroupID(v2 string, pid int) (uint64, error) {
	r := cgroupResolver{v2: v2}
	return r.id(pid)
}

// cgroupResolver turns pids into cgroup ids.
type cgroupResolver struct {
	v2     string
	once   sync.Once
	nsRoot string // this process's cgroup namespace root inside v2
	nsErr  error
}

// cgroupPath returns the cleaned cgroup v2 path of pid as /proc shows it
// (relative to the reader's cgroup namespace, possibly with "..").
func cgroupPath(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			// Not path.Clean: it would drop the leading ".." of a cgroup
			// outside the reader's namespace and name a wrong cgroup.
			if !strings.HasPrefix(p, "/") {
				return "", fmt.Errorf("pid %d: cgroup path %q is not absolute", pid, p)
			}
			return p, nil
		}
	}
	return "", fmt.Errorf("pid %d has no cgroup v2 entry", pid)
}

// joinNS resolves a namespace-relative cgroup path p against nsRoot, the
// namespace root's path in the mounted hierarchy; it reports false when the
// result leaves the hierarchy.
func joinNS(nsRoot, p string) (string, bool) {
	j := path.Join("/", nsRoot, p)
	// path.Join drops ".." above "/": check that nothing was dropped.
	depth := 0
	for _, part := range strings.Split(strings.Trim(path.Join(nsRoot), "/"), "/") {
		if part != "" {
			depth++
		}
	}
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", false
			}
		default:
			depth++
		}
	}
	return j, true
}

func (r *cgroupResolver) id(pid int) (uint64, error) {
	if r.v2 == "" {
		v2, err := cgroup2Mount()
		if err != nil {
			return 0, err
		}
		r.v2 = v2
	}
	p, err := cgroupPath(pid)
	if err != nil {
		return 0, err
	}
	if p == "/.." || strings.HasPrefix(p, "/../") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
		r.once.Do(r.findNSRoot)
		if r.nsErr != nil {
			return 0, fmt.Errorf("cgroup %q of pid %d is outside this cgroup namespace: %w", p, pid, r.nsErr)
		}
		j, ok := joinNS(r.nsRoot, p)
		if !ok {
			return 0, fmt.Errorf("cgroup %q of pid %d is outside the mounted cgroup hierarchy %s", p, pid, r.v2)
		}
		p = j
	}
	var st unix.Stat_t
	dir := filepath.Join(r.v2, p)
	if err := unix.Stat(dir, &st); err != nil {
		return 0, fmt.Errorf("stat cgroup %s: %w", dir, err)
	}
	return st.Ino, nil
}

// findNSRoot locates this process's cgroup namespace root in the mounted
// hierarchy — possible when the mount is the host's whole hierarchy (a
// hostPath mount of /sys/fs/cgroup) — by finding the directory whose
// cgroup.procs lists this process.
func (r *cgroupResolver) findNSRoot() {
	own, err := cgroupPath(os.Getpid())
	if err != nil {
		r.nsErr = err
		return
	}
	self := strconv.Itoa(os.Getpid())
	const maxDirs = 200000
	n := 0
	found := ""
	errStop := errors.New("stop")
	_ = filepath.WalkDir(r.v2, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if n++; n > maxDirs {
			return errStop
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for line := range strings.Lines(string(b)) {
			if strings.TrimSpace(line) == self {
				found = p
				return errStop
			}
		}
		return nil
	})
	if found == "" {
		r.nsErr = errors.New("this process's own cgroup is not in the mounted hierarchy (mount the host's /sys/fs/cgroup)")
		return
	}
	rel, err := filepath.Rel(r.v2, found)
	if err != nil {
		r.nsErr = err
		return
	}
	// found = nsRoot + own.
	rel = path.Clean("/" + filepath.ToSlash(rel))
	root, ok := strings.CutSuffix(rel, strings.TrimSuffix(own, "/"))
	if own == "/" {
		root, ok = rel, true
	}
	if !ok {
		r.nsErr = fmt.Errorf("own cgroup %s found at %s", own, rel)
		return
	}
	r.nsRoot = path.Clean("/" + root)
}

// peer is what the kernel says about the process on the other end of a
// Unix socket.
type peer struct {
	pid    int
	uid    uint32
	cgroup uint64
	// how names the source of the cgroup id: "pidfd_info" (the kernel's
	// word for the process that connected), "proc+pidfd" (/proc, then the
	// pidfd says that process still lives) or "proc" (/proc alone: a pid
	// reused between connect and this read goes unnoticed).
	how string
}

// peerOf authenticates the peer of fd. The pid and uid come from
// SO_PEERCRED. The cgroup comes, in order of preference, from
// PIDFD_GET_INFO on the SO_PEERPIDFD pidfd (Linux 6.13: the cgroup of the
// very process that connected, whatever became of its pid), from
// /proc/<pid>/cgroup checked against the pidfd (Linux 6.5: the process
// has not exited, so the pid was not reused), or from /proc alone. None of
// these needs permission over the peer (no signal is sent).
func peerOf(fd int, r *cgroupResolver) (peer, error) {
	uc, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return peer{}, fmt.Errorf("SO_PEERCRED: %w", err)
	}
	p := peer{pid: int(uc.Pid), uid: uc.Uid}
	pidfd, perr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEERPIDFD)
	if perr == nil {
		defer unix.Close(pidfd)
		info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_CGROUPID}
		err := unix.IoctlPidfdInfo(pidfd, &info)
		switch {
		case err == nil && info.Mask&unix.PIDFD_INFO_CGROUPID != 0 && info.Cgroupid != 0:
			p.cgroup, p.how = info.Cgroupid, "pidfd_info"
			return p, nil
		case errors.Is(err, unix.ESRCH):
			return peer{}, fmt.Errorf("peer pid %d exited before authentication", uc.Pid)
		}
	}
	if uc.Pid <= 0 {
		return peer{}, errors.New("peer pid not visible in this pid namespace (share the process namespace)")
	}
	cg, err := r.id(int(uc.Pid))
	if err != nil {
		return peer{}, err
	}
	p.cgroup, p.how = cg, "proc"
	if perr == nil {
		exited, err := pidfdExited(pidfd)
		if err != nil {
			return peer{}, fmt.Errorf("peer pid %d: %w", uc.Pid, err)
		}
		if exited {
			return peer{}, fmt.Errorf("peer pid %d exited during authentication", uc.Pid)
		}
		p.how = "proc+pidfd"
	}
	return p, nil
}

// pidfdExited reports whether the process of pidfd has exited: a pidfd is
// readable (POLLIN) from then on. Unlike pidfd_send_signal, polling needs
// no permission over the process.
func pidfdExited(pidfd int) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("poll pidfd: %w", err)
		}
		return n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0, nil
	}
}
