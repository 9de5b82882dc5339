//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* sched.bpf.c: run-queue delay (enqueued -> on CPU: after a wakeup or a
 * preemption) per thread of the target process, aggregated into a per-tgid
 * log2 histogram; delays at or above outlier_ns also go to the ring buffer.
 *
 * One program, at sched_switch only. The scheduler itself stamps a task when
 * it is put on a run queue (sched_info.last_queued, in run-queue clock time;
 * the stamp behind /proc/<pid>/schedstat's run_delay) and clears it after
 * the switch; the delay is that stamp's age on the run-queue clock, which
 * __schedule has just updated. No wakeup programs and no per-thread map:
 * every other context switch of the host costs one load and compare. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

SLO_HIST_MAPS(runq_hist);

SEC("tp_btf/sched_switch")
int BPF_PROG(slo_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	__u32 tgid = next->tgid;
	if (!slo_want(tgid) || next->pid == 0)
		return 0;
	__u64 queued = next->sched_info.last_queued;
	if (queued == 0)
		return 0;
	__u64 clock = slo_rq_clock(next);
	if (clock <= queued)
		return 0;
	__u64 d = clock - queued;
	slo_hist_add(&runq_hist_self, &runq_hist, tgid, d);
	if (d < outlier_ns)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		slo_lost(SLO_SIG_RUNQ);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->duration_ns = d;
	e->count = 1;
	e->pid = tgid;
	e->tid = next->pid;
	e->signal = SLO_SIG_RUNQ;
	e->aux = bpf_get_smp_processor_id();
	bpf_ringbuf_submit(e, 0);
	return 0;
}
