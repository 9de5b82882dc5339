//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* sched.bpf.c: run-queue delay (wakeup or preemption -> on CPU) per thread of
 * the target process, aggregated into a per-tgid log2 histogram; delays at or
 * above outlier_ns also go to the ring buffer. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

/* Per-thread enqueue time, in task-local storage (no hash on the hot path). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} runq_start SEC(".maps");

SLO_HIST_MAPS(runq_hist);

static __always_inline void enqueue(struct task_struct *p)
{
	if (!slo_want(p->tgid) || p->pid == 0)
		return;
	__u64 *ts = bpf_task_storage_get(&runq_start, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(slo_sched_wakeup, struct task_struct *p)
{
	enqueue(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(slo_sched_wakeup_new, struct task_struct *p)
{
	enqueue(p);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(slo_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	/* A preempted task goes straight back to the run queue. */
	if (prev_state == 0 /* TASK_RUNNING */)
		enqueue(prev);

	__u32 tgid = next->tgid;
	if (!slo_want(tgid))
		return 0;
	__u32 tid = next->pid;
	__u64 *start = bpf_task_storage_get(&runq_start, next, 0, 0);
	if (!start || *start == 0)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 d = now - *start;
	*start = 0;
	if ((__s64)d < 0)
		return 0;
	slo_hist_add(&runq_hist_self, &runq_hist, tgid, d);
	if (d < outlier_ns)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		slo_lost(SLO_SIG_RUNQ);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->duration_ns = d;
	e->count = 1;
	e->pid = tgid;
	e->tid = tid;
	e->signal = SLO_SIG_RUNQ;
	e->aux = bpf_get_smp_processor_id();
	bpf_ringbuf_submit(e, 0);
	return 0;
}
