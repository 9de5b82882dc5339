package lab

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/llmslo/slo/faults"
)

// svcControllers are the controllers the service gets a cgroup of.
var svcControllers = []string{"cpu", "memory", "cpuset"}

// serviceTarget is where the instrumented service runs: its process, the
// CPUs it may use and its cpu cgroup. The CPU, quota and memory faults act
// on it alone.
type serviceTarget struct {
	pid       int
	cpus      []int  // nil: every CPU
	cpuCgroup string // "" : none of its own (cpu_throttle is skipped)
	cpuV2     bool
	memory    bool // it has a memory cgroup of its own
}

// target returns the target of the service process pid.
func (e *Env) target(pid int) *serviceTarget {
	t := &serviceTarget{pid: pid}
	if c := e.cgroups; c != nil {
		t.cpus, t.cpuCgroup, t.cpuV2 = c.cpus, c.dirs["cpu"], c.cpuV2
		t.memory = c.dirs["memory"] != ""
	}
	return t
}

// builder returns the injector builder of a fault on the service's CPUs,
// quota or memory, or why it cannot run here.
func (t *serviceTarget) builder(kind string) (builder, string) {
	switch kind {
	case "cpu_throttle":
		if t.cpuCgroup == "" {
			return nil, "cpu_throttle needs a cpu cgroup of the service's own (root)"
		}
		return func(f Fault) faults.Injector {
			return faults.InjectorFunc(func(context.Context) (func() error, error) {
				restore, err := t.setQuota(f.QuotaPct)
				if err != nil {
					return nil, err
				}
				var once sync.Once
				var rerr error
				return func() error { once.Do(func() { rerr = restore() }); return rerr }, nil
			})
		}, ""
	case "cpu_contention":
		// Neighbours inside the service's CPU share, on its CPUs (beside it,
		// in another cgroup, the scheduler shields a mostly idle service).
		return func(f Fault) faults.Injector {
			return faults.CPUContention{CPUs: t.cpus, Workers: f.Workers, Cgroup: t.cpuCgroup}
		}, ""
	case "memory_pressure":
		if !t.memory {
			return nil, "memory_pressure needs a memory cgroup of the service's own (root)"
		}
		return func(f Fault) faults.Injector {
			headroom := int64(f.HeadroomMB) << 20
			if headroom == 0 {
				headroom = 192 << 20
			}
			// A file far larger than the limit keeps the allocator in its
			// dirty-writing phase for the whole fault: reclaim then has to
			// wait for writeback, which is what hurts a real service.
			return faults.MemoryPressure{Headroom: headroom, PIDs: []int{t.pid}, FileBytes: 4 << 30}
		}, ""
	}
	return nil, "unknown fault kind " + kind
}

// setQuota sets the CFS quota of the service's cgroup to pct percent of one CPU
// (pct ≤ 0: unlimited) and returns a function restoring the previous value.
func (t *serviceTarget) setQuota(pct int) (restore func() error, err error) {
	if t.cpuCgroup == "" {
		return nil, errors.New("lab: no cpu cgroup")
	}
	const period = 100000
	if t.cpuV2 {
		f := filepath.Join(t.cpuCgroup, "cpu.max")
		old, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		v := "max " + strconv.Itoa(period)
		if pct > 0 {
			v = strconv.Itoa(pct*period/100) + " " + strconv.Itoa(period)
		}
		if err := os.WriteFile(f, []byte(v), 0o644); err != nil {
			return nil, err
		}
		return func() error { return os.WriteFile(f, bytes.TrimSpace(old), 0o644) }, nil
	}
	f := filepath.Join(t.cpuCgroup, "cpu.cfs_quota_us")
	old, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	v := "-1"
	if pct > 0 {
		v = strconv.Itoa(pct * period / 100)
	}
	if err := os.WriteFile(f, []byte(v), 0o644); err != nil {
		return nil, err
	}
	return func() error { return os.WriteFile(f, bytes.TrimSpace(old), 0o644) }, nil
}
