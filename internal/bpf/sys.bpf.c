//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* sys.bpf.c: time the target's threads spend off CPU inside a system call
 * (blocked in it, or preempted in it and waiting to run again), per episode,
 * as a per-tgid histogram; episodes at or above outlier_ns go to the ring
 * buffer with the syscall number. Syscalls that block by design (futex,
 * epoll_wait, nanosleep, ...) are listed by user space in sys_skip and
 * ignored.
 *
 * One program, at sched_switch, looking at the task switched in only: the
 * raw_syscalls tracepoints would put every thread of the host on the slow
 * system-call path, and a per-thread map would cost a lookup per switch.
 *  - In a system call: the thread's user-entry registers say so: orig_ax
 *    holds the call number and ax still holds the -ENOSYS the entry code put
 *    there (the result replaces it on return); a page fault's frame has the
 *    error code in orig_ax and the user's rax in ax.
 *  - Off CPU since: the scheduler's own bookkeeping. sched_info.last_arrival
 *    is when the thread last went on CPU (run-queue clock) and
 *    se.sum_exec_runtime - se.prev_sum_exec_runtime how long it then ran, so
 *    it left the CPU at their sum; the run-queue clock, which __schedule has
 *    just updated, is now. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

#define SLO_ENOSYS 38
#define SLO_SYS_MAX 512

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLO_SYS_MAX);
	__type(key, __u32);  /* syscall nr */
	__type(value, __u8); /* 1 = ignore */
} sys_skip SEC(".maps");

SLO_HIST_MAPS(sys_hist);

SEC("tp_btf/sched_switch")
int BPF_PROG(slo_sys_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	__u32 tgid = next->tgid;
	if (!slo_want(tgid) || next->pid == 0)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(next);
	if (!regs)
		return 0;
	/* A trusted pointer: plain loads, no probe-read helper calls. */
	long nr = regs->orig_ax;
	long ax = regs->ax;
	if (nr < 0 || nr >= SLO_SYS_MAX || ax != -SLO_ENOSYS)
		return 0;
	__u32 k = (__u32)nr;
	__u8 *skip = bpf_map_lookup_elem(&sys_skip, &k);
	if (!skip || *skip)
		return 0;
	__u64 clock = slo_rq_clock(next);
	__u64 left = next->sched_info.last_arrival +
		     (next->se.sum_exec_runtime - next->se.prev_sum_exec_runtime);
	if (next->sched_info.last_arrival == 0 || clock <= left)
		return 0;
	__u64 d = clock - left;
	slo_hist_add(&sys_hist_self, &sys_hist, tgid, d);
	if (d < outlier_ns)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		slo_lost(SLO_SIG_SYSCALL);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->duration_ns = d;
	e->count = 1;
	e->pid = tgid;
	e->tid = next->pid;
	e->cgroup_id = BPF_CORE_READ(next, cgroups, dfl_cgrp, kn, id);
	e->aux = (__u32)nr;
	e->signal = SLO_SIG_SYSCALL;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
