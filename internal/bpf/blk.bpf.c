//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* blk.bpf.c: block I/O latency (accounting start -> done) of requests
 * submitted by the target process, as a per-tgid histogram; requests at or
 * above outlier_ns go to the ring buffer. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

struct blk_start {
	__u64 ts;
	__u32 tgid;
	__u32 tid;
	__u64 cgroup_id;
	__u32 op;
	__u32 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* struct request pointer */
	__type(value, struct blk_start);
} blk_start SEC(".maps");

SLO_HIST_MAPS(blk_hist);

SEC("tp_btf/block_io_start")
int BPF_PROG(slo_block_io_start, struct request *rq)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (tgid == 0 || !slo_want(tgid))
		return 0;
	__u64 key = (__u64)rq;
	struct blk_start s = {
		.ts = bpf_ktime_get_ns(),
		.tgid = tgid,
		.tid = (__u32)id,
		.cgroup_id = bpf_get_current_cgroup_id(),
		.op = BPF_CORE_READ(rq, cmd_flags) & 0xff,
		.bytes = BPF_CORE_READ(rq, __data_len),
	};
	bpf_map_update_elem(&blk_start, &key, &s, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_io_done")
int BPF_PROG(slo_block_io_done, struct request *rq)
{
	__u64 key = (__u64)rq;
	struct blk_start *s = bpf_map_lookup_elem(&blk_start, &key);
	if (!s)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 d = now - s->ts;
	struct blk_start c = *s;
	bpf_map_delete_elem(&blk_start, &key);
	slo_hist_add(&blk_hist_self, &blk_hist, c.tgid, d);
	if (d < outlier_ns)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		slo_lost(SLO_SIG_BLKIO);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->duration_ns = d;
	e->count = c.bytes;
	e->pid = c.tgid;
	e->tid = c.tid;
	e->cgroup_id = c.cgroup_id;
	e->aux = c.op;
	e->signal = SLO_SIG_BLKIO;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
