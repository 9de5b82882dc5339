//go:build !linux

package lab

import "syscall"

// LabPrefix starts the name of every cgroup and network namespace the lab
// creates (on Linux).
const LabPrefix = "llmslo-lab-"

// svcCgroups are the service's cgroups; there are none off Linux.
type svcCgroups struct {
	dirs  map[string]string
	cpuV2 bool
	cpus  []int
}

func newSvcCgroups(func(string, ...any)) *svcCgroups { return &svcCgroups{dirs: map[string]string{}} }

func (c *svcCgroups) enter(int) error { return nil }

func (c *svcCgroups) close() error { return nil }

// CleanStale does nothing off Linux.
func CleanStale() ([]string, error) { return nil, nil }

func childAttr() *syscall.SysProcAttr { return nil }
