//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* sys.bpf.c: system-call latency of the target process as a per-tgid
 * histogram; calls at or above outlier_ns go to the ring buffer. Syscalls that
 * block by design (futex, epoll_wait, nanosleep, ...) are listed by user space
 * in sys_skip and ignored. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

struct sys_start {
	__u64 ts;
	__u64 nr;
};

/* Per-thread syscall entry, in task-local storage. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sys_start);
} sys_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 512);
	__type(key, __u32);  /* syscall nr */
	__type(value, __u8); /* 1 = ignore */
} sys_skip SEC(".maps");

SLO_HIST_MAPS(sys_hist);

SEC("tp_btf/sys_enter")
int BPF_PROG(slo_sys_enter, struct pt_regs *regs, long id)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if (!slo_want(pt >> 32))
		return 0;
	__u32 nr = (__u32)id;
	__u8 *skip = bpf_map_lookup_elem(&sys_skip, &nr);
	if (skip && *skip)
		return 0;
	struct sys_start *s = bpf_task_storage_get(&sys_start, bpf_get_current_task_btf(), 0,
						   BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (s) {
		s->ts = bpf_ktime_get_ns();
		s->nr = (__u64)id;
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(slo_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tgid = pt >> 32;
	if (!slo_want(tgid))
		return 0;
	__u32 tid = (__u32)pt;
	struct sys_start *s = bpf_task_storage_get(&sys_start, bpf_get_current_task_btf(), 0, 0);
	if (!s || s->ts == 0)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 d = now - s->ts;
	__u64 nr = s->nr;
	s->ts = 0;
	slo_hist_add(&sys_hist_self, &sys_hist, tgid, d);
	if (d < outlier_ns)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		slo_lost(SLO_SIG_SYSCALL);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->duration_ns = d;
	e->count = 1;
	e->pid = tgid;
	e->tid = tid;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->aux = (__u32)nr;
	e->err = ret < 0 ? (__s32)-ret : 0;
	e->signal = SLO_SIG_SYSCALL;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
