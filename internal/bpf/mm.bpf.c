//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* mm.bpf.c: memory reclaim stalls (begin -> end) per thread of the target
 * process: global direct reclaim and memory-cgroup reclaim (a container at
 * its memory limit); every stall at or above outlier_ns is an event, with
 * aux 0 for direct and 1 for cgroup reclaim. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);   /* tid */
	__type(value, __u64); /* begin time */
} reclaim_start SEC(".maps");

SLO_HIST_MAPS(reclaim_hist);

static __always_inline void reclaim_begin(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!slo_want(id >> 32))
		return;
	__u32 tid = (__u32)id;
	__u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&reclaim_start, &tid, &ts, BPF_ANY);
}

static __always_inline void reclaim_end(unsigned long nr_reclaimed, __u32 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!slo_want(tgid))
		return;
	__u32 tid = (__u32)id;
	__u64 *start = bpf_map_lookup_elem(&reclaim_start, &tid);
	if (!start)
		return;
	__u64 now = bpf_ktime_get_ns();
	__u64 d = now - *start;
	bpf_map_delete_elem(&reclaim_start, &tid);
	slo_hist_add(&reclaim_hist_self, &reclaim_hist, tgid, d);
	if (d < outlier_ns)
		return;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		slo_lost(SLO_SIG_RECLAIM);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->duration_ns = d;
	e->count = nr_reclaimed;
	e->pid = tgid;
	e->tid = tid;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->aux = kind;
	e->signal = SLO_SIG_RECLAIM;
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/mm_vmscan_direct_reclaim_begin")
int BPF_PROG(slo_reclaim_begin, int order, gfp_t gfp_flags)
{
	reclaim_begin();
	return 0;
}

SEC("tp_btf/mm_vmscan_direct_reclaim_end")
int BPF_PROG(slo_reclaim_end, unsigned long nr_reclaimed)
{
	reclaim_end(nr_reclaimed, 0);
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(slo_memcg_reclaim_begin, int order, gfp_t gfp_flags)
{
	reclaim_begin();
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(slo_memcg_reclaim_end, unsigned long nr_reclaimed)
{
	reclaim_end(nr_reclaimed, 1);
	return 0;
}
