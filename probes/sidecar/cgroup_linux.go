//go:build linux

package sidecar

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// initPIDNamespace is PROC_PID_INIT_INO, the inode of the initial pid
// namespace.
const initPIDNamespace = 0xEFFFFFFC

// inInitPIDNamespace reports whether this process sees host pids, the ones
// the BPF programs record.
func inInitPIDNamespace() bool {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return false
	}
	return st.Ino == initPIDNamespace
}

// cgroup2Mount returns the first cgroup2 mount point of this process.
func cgroup2Mount() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) >= 5 && len(g) >= 1 && g[0] == "cgroup2" {
			return f[4], nil
		}
	}
	return "", errors.New("no cgroup2 mount")
}

// CgroupID returns the cgroup v2 id of process pid — the id BPF programs
// record (bpf_get_current_cgroup_id) — by resolving its /proc/<pid>/cgroup
// entry under the cgroup2 mount v2 ("" finds this process's first cgroup2
// mount). It fails when the process's cgroup lies outside this process's
// cgroup namespace.
func CgroupID(v2 string, pid int) (uint64, error) {
	if v2 == "" {
		var err error
		if v2, err = cgroup2Mount(); err != nil {
			return 0, err
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return 0, fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::")
		if !ok {
			continue
		}
		p = path.Clean("/" + p)
		if strings.HasPrefix(strings.TrimPrefix(p, "/"), "..") || strings.Contains(p, "/../") {
			return 0, fmt.Errorf("cgroup %q of pid %d is outside this cgroup namespace", p, pid)
		}
		var st unix.Stat_t
		dir := filepath.Join(v2, p)
		if err := unix.Stat(dir, &st); err != nil {
			return 0, fmt.Errorf("stat cgroup %s: %w", dir, err)
		}
		return st.Ino, nil
	}
	return 0, fmt.Errorf("pid %d has no cgroup v2 entry", pid)
}

// peer is what the kernel says about the process on the other end of a
// Unix socket.
type peer struct {
	pid    int
	uid    uint32
	cgroup uint64
}

// peerOf authenticates the peer of fd: SO_PEERCRED for the pid, its cgroup
// id, and — when SO_PEERPIDFD is available — a check that the pid still
// names the process that connected (not a reused pid).
func peerOf(fd int, v2 string) (peer, error) {
	uc, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return peer{}, fmt.Errorf("SO_PEERCRED: %w", err)
	}
	if uc.Pid <= 0 {
		return peer{}, errors.New("peer pid not visible in this pid namespace (share the process namespace)")
	}
	pidfd, perr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEERPIDFD)
	if perr == nil {
		defer unix.Close(pidfd)
	}
	cg, err := CgroupID(v2, int(uc.Pid))
	if err != nil {
		return peer{}, err
	}
	if perr == nil {
		if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
			return peer{}, fmt.Errorf("peer pid %d exited during authentication: %w", uc.Pid, err)
		}
	}
	return peer{pid: int(uc.Pid), uid: uc.Uid, cgroup: cg}, nil
}
