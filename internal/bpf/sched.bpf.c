//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* sched.bpf.c: run-queue delay (wakeup or preemption -> on CPU) per thread of
 * the target process, aggregated into a per-tgid log2 histogram; delays at or
 * above outlier_ns also go to the ring buffer. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);   /* tid */
	__type(value, __u64); /* enqueue time */
} runq_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* tgid */
	__type(value, struct hist);
} runq_hist SEC(".maps");

static __always_inline void enqueue(struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (!slo_want(tgid))
		return;
	__u32 tid = BPF_CORE_READ(p, pid);
	if (tid == 0)
		return;
	__u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&runq_start, &tid, &ts, BPF_ANY);
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

	__u32 tgid = BPF_CORE_READ(next, tgid);
	if (!slo_want(tgid))
		return 0;
	__u32 tid = BPF_CORE_READ(next, pid);
	__u64 *start = bpf_map_lookup_elem(&runq_start, &tid);
	if (!start)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 d = now - *start;
	bpf_map_delete_elem(&runq_start, &tid);
	if ((__s64)d < 0)
		return 0;
	slo_hist_add(&runq_hist, tgid, d);
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
