// Package cgroupfs finds where the cgroup hierarchies are mounted, for the
// pollers of package probes and the sidecar's per-cgroup filtering.
package cgroupfs

import (
	"bufio"
	"bytes"
	"os"
	"strings"
)

// Mounts returns the mount point of the cgroup v1 hierarchy that has the cpu
// controller and the first cgroup2 mount point of this process, each "" when
// there is none, from /proc/self/mountinfo.
func Mounts() (v1cpu, v2 string, err error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	v1cpu, v2 = parse(b)
	return v1cpu, v2, nil
}

// parse reads mountinfo lines: id parent major:minor root mountpoint
// opts... - fstype source superopts.
func parse(b []byte) (v1cpu, v2 string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 {
			continue
		}
		switch {
		case g[0] == "cgroup2" && v2 == "":
			v2 = f[4]
		case g[0] == "cgroup" && v1cpu == "" && len(g) >= 3:
			for _, o := range strings.Split(g[2], ",") {
				if o == "cpu" {
					v1cpu = f[4]
				}
			}
		}
	}
	return v1cpu, v2
}
