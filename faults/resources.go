package faults

import "time"

// CPUContention runs busy-looping child processes ("noisy neighbours"), each
// pinned with sched_setaffinity to one CPU, so that threads of the workload
// on those CPUs wait in the run queue. Undo kills the children (by PID) and
// waits for them.
//
// It needs no privilege. The children are `sh` loops that die with the
// injecting thread's process (PR_SET_PDEATHSIG).
type CPUContention struct {
	// CPUs to load. Empty means every CPU the calling process may run on.
	CPUs []int
	// Workers is the number of spinners, assigned to CPUs round-robin.
	// Zero means one per CPU.
	Workers int
	// Cgroup, when set, is a cgroup directory (a v2 cgroup, or a v1 cpu
	// cgroup) the spinners join: neighbours inside the workload's own CPU
	// share (a container's sidecar) rather than beside it. It needs write
	// access to its cgroup.procs (root).
	Cgroup string

	hook stepHook
}

// CPUThrottle puts processes in a new cgroup whose CFS bandwidth quota is
// QuotaPct percent of one CPU per Period, so they are throttled once they use
// it up. It uses cgroup v2 (cpu.max) when the cpu controller is available
// there, else cgroup v1 (cpu.cfs_quota_us, cpu.cfs_period_us). Undo moves the
// processes back to the cgroups they came from (stray children forked
// meanwhile go to the parent) and removes the cgroup.
//
// It needs write access to the cgroup filesystem (root); without it Inject
// returns an error matching [ErrPrivilege]. On v2 it may enable the cpu
// controller in the root's cgroup.subtree_control and leaves it enabled.
type CPUThrottle struct {
	// QuotaPct is the CPU time allowed, in percent of one CPU (1..100×CPUs).
	QuotaPct int
	// PIDs are the processes to throttle (whole processes: all threads).
	// At least one is required.
	PIDs []int
	// Period is the CFS period; zero means 100 ms.
	Period time.Duration

	hook stepHook
}

// MemoryPressure puts processes in a new memory cgroup limited to LimitBytes
// (or to Headroom above what the cgroup holds once they are in it) and starts
// an allocator child in it that keeps streaming a file of FileBytes through
// the page cache, so the cgroup sits at its limit and every allocation of the
// processes in it goes through memcg reclaim (counted as pgscan_direct /
// allocstall in /proc/vmstat, memory.failcnt on v1, memory.stat pgscan_direct
// and memory.events max on v2). Undo kills the allocator, deletes its file,
// moves the processes back and removes the cgroup.
//
// Pages a process already had stay charged to the cgroup it came from
// (cgroup v2 never moves charges, v1 only with move_charge_at_immigrate), so
// the limit bounds only what the processes allocate from then on, plus the
// allocator's page cache. Without swap, anonymous memory cannot be reclaimed:
// keep the limit above the new anonymous memory the PIDs will touch, or the
// OOM killer acts in the cgroup; the allocator is its first choice
// (oom_score_adj 1000). It needs write access to the cgroup filesystem
// (root); without it Inject returns an error matching [ErrPrivilege].
type MemoryPressure struct {
	// LimitBytes is the cgroup memory limit, at least 16 MiB. Set it or
	// Headroom, not both.
	LimitBytes int64
	// Headroom, when LimitBytes is zero, sets the limit once the processes
	// and the allocator are in the cgroup: its usage then plus Headroom
	// (at least 16 MiB). That is the room the processes have for new
	// memory before every allocation has to reclaim the allocator's pages.
	Headroom int64
	// PIDs are the processes to put under pressure (may be empty: then only
	// the allocator runs in the cgroup).
	PIDs []int
	// FileBytes is the size of the file the allocator streams; zero means
	// 2×LimitBytes (2×Headroom when the limit follows usage).
	FileBytes int64
	// Dir holds the allocator's file and must be disk-backed (tmpfs pages
	// are not reclaimable without swap). Empty means os.TempDir(), or
	// /var/tmp when that is a tmpfs.
	Dir string

	hook stepHook
}
