//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* sched.bpf.c: the two scheduler signals, served by one sched_switch
 * program (one tracepoint dispatch per context switch of the host for
 * both), each switched on and off by user space through its own variable
 * (runq_on, sys_on). Both look at the task switched in only, and only when
 * it belongs to the target process: every other context switch of the host
 * costs one load and compare. Every record carries the cgroup of the task
 * switched in (its default-hierarchy cgroup's id), read at the switch.
 *
 * Run-queue delay (runq_on): enqueued -> on CPU, after a wakeup or a
 * preemption, per thread of the target process, aggregated into a per-tgid
 * log2 histogram; delays at or above runq_outlier_ns also go to the ring
 * buffer. The scheduler itself stamps a task when it is put on a run queue
 * (sched_info.last_queued, in run-queue clock time; the stamp behind
 * /proc/<pid>/schedstat's run_delay) and clears it after the switch; the
 * delay is that stamp's age on the run-queue clock, which __schedule has
 * just updated. No wakeup programs and no per-thread map.
 *
 * Syscall latency (sys_on): time the target's threads spend off CPU inside
 * a system call (blocked in it, or preempted in it and waiting to run
 * again), per episode, as a per-tgid histogram; episodes at or above
 * sys_outlier_ns go to the ring buffer with the syscall number. Syscalls
 * that block by design (futex, epoll_wait, nanosleep, ...) are listed by
 * user space in sys_skip and ignored. The raw_syscalls tracepoints would
 * put every thread of the host on the slow system-call path.
 *  - In a system call: the thread's user-entry registers say so (see
 *    slo_in_syscall in arch.h): the syscall number is kept apart and the
 *    return-value register still holds the -ENOSYS the entry code put there
 *    (the result replaces it on return).
 *  - Off CPU since: the scheduler's own bookkeeping. sched_info.last_arrival
 *    is when the thread last went on CPU (run-queue clock) and
 *    se.sum_exec_runtime - se.prev_sum_exec_runtime how long it then ran, so
 *    it left the CPU at their sum; the run-queue clock is now. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

#define SLO_SYS_MAX 512

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLO_SYS_MAX);
	__type(key, __u32);  /* syscall nr */
	__type(value, __u8); /* 1 = ignore */
} sys_skip SEC(".maps");

SLO_HIST_MAPS(runq_hist);
SLO_HIST_MAPS(sys_hist);

/* Set by user space while the signal is attached (mutable, in .bss). */
__u32 runq_on = 0;
__u32 sys_on = 0;

/* Events at or above these durations go to the ring buffer. */
const volatile __u64 runq_outlier_ns = 0;
const volatile __u64 sys_outlier_ns = 0;

static __always_inline void slo_emit_switch(const struct task_struct *next, __u32 sig, __u64 d,
					    __u32 aux)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		slo_lost(sig);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->duration_ns = d;
	e->count = 1;
	e->pid = next->tgid;
	e->tid = next->pid;
	/* The task's cgroup now, not a pid to be resolved later. */
	e->cgroup_id = BPF_CORE_READ(next, cgroups, dfl_cgrp, kn, id);
	e->aux = aux;
	e->signal = sig;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void slo_runq(const struct task_struct *next, __u32 tgid, __u64 clock)
{
	__u64 queued = next->sched_info.last_queued;
	if (queued == 0 || clock <= queued)
		return;
	__u64 d = clock - queued;
	slo_hist_add(&runq_hist_self, &runq_hist, tgid, d);
	if (d >= runq_outlier_ns)
		slo_emit_switch(next, SLO_SIG_RUNQ, d, bpf_get_smp_processor_id());
}

static __always_inline void slo_sys(struct task_struct *next, __u32 tgid, __u64 clock)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(next);
	if (!regs)
		return;
	long nr;
	if (!slo_in_syscall(regs, &nr) || nr < 0 || nr >= SLO_SYS_MAX)
		return;
	__u32 k = (__u32)nr;
	__u8 *skip = bpf_map_lookup_elem(&sys_skip, &k);
	if (!skip || *skip)
		return;
	__u64 arrival = next->sched_info.last_arrival;
	__u64 left = arrival + (next->se.sum_exec_runtime - next->se.prev_sum_exec_runtime);
	if (arrival == 0 || clock <= left)
		return;
	__u64 d = clock - left;
	slo_hist_add(&sys_hist_self, &sys_hist, tgid, d);
	if (d >= sys_outlier_ns)
		slo_emit_switch(next, SLO_SIG_SYSCALL, d, k);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(slo_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	__u32 tgid = next->tgid;
	if (!slo_want(tgid) || next->pid == 0)
		return 0;
	__u64 clock = slo_rq_clock(next);
	if (runq_on)
		slo_runq(next, tgid, clock);
	if (sys_on)
		slo_sys(next, tgid, clock);
	return 0;
}
