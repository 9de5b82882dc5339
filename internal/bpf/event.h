/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* event.h: the boundary between the BPF programs and probes/ — the ring-buffer
 * record layout, the maps every object shares (user space creates them once and
 * hands them to each object as replacements) and small helpers. Changing a
 * struct here changes the wire format decoded by probes/decode.go. */
#ifndef SLO_EVENT_H
#define SLO_EVENT_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "arch.h"

#define AF_INET 2
#define AF_INET6 10

/* Signal ids on the wire (probes.Signal values 1..7). */
enum slo_sig {
	SLO_SIG_RUNQ = 1,
	SLO_SIG_TCP_RETRANS = 2,
	SLO_SIG_CONNECT = 3,
	SLO_SIG_DNS = 4,
	SLO_SIG_RECLAIM = 5,
	SLO_SIG_BLKIO = 6,
	SLO_SIG_SYSCALL = 7,
};

#define SLO_FLAG_TRACE 1 /* trace_id/span_id are valid */
#define SLO_FLAG_ERROR 2 /* the operation failed (connect error) */
#define SLO_FLAG_QUERY_EGRESS 4
#define SLO_FLAG_ARM 8   /* DNS: a query is coming, attach the packet programs */
#define SLO_FLAG_FROM_CONNECT 16 /* DNS: duration counts from the connect/send that armed */
#define SLO_FLAG_TCP 32 /* DNS: the exchange went over TCP */

#define SLO_DNS_MAX 320 /* bytes of DNS message copied after the header */

/* One ring-buffer record: 128 bytes, little endian, followed by payload_len
 * bytes of payload (DNS only). */
struct event {
	__u64 ts_ns;       /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u64 duration_ns;
	__u64 cookie;      /* socket cookie, 0 if none */
	__u64 cgroup_id;   /* cgroup v2 id, 0 if unknown */
	__u64 count;       /* signal-specific count (bytes, pages, 1) */
	__u32 pid;         /* tgid */
	__u32 tid;
	__s32 err;         /* positive errno, 0 = none */
	__u16 lport;       /* host order */
	__u16 rport;       /* host order */
	__u8 laddr[16];    /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
	__u8 trace_id[16];
	__u8 span_id[8];
	__u8 signal;       /* enum slo_sig */
	__u8 family;       /* AF_INET, AF_INET6, 0 */
	__u8 state;        /* TCP state */
	__u8 flags;        /* SLO_FLAG_* */
	__u32 aux;         /* syscall nr, DNS id, block op, reclaim order */
	__u16 payload_len;
	__u16 _pad[3];
};

struct dns_event {
	struct event e;
	__u8 payload[SLO_DNS_MAX];
};

struct trace_tag {
	__u8 trace_id[16];
	__u8 span_id[8];
};

/* Log2 latency histogram: slot i counts durations in [2^i, 2^(i+1)) ns. */
#define SLO_HIST_SLOTS 64
struct hist {
	__u64 slots[SLO_HIST_SLOTS];
	__u64 count;
	__u64 sum_ns;
};

/* Keep the record types in BTF for bpf2go -type. */
const struct event *slo_unused_event __attribute__((unused));
const struct dns_event *slo_unused_dns_event __attribute__((unused));

/* Shared maps (replaced by user space with one instance for all objects). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* socket cookie -> owning tgid, filled in process context (connect, send,
 * recv) so softirq-context events can be attributed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u32);
} sock_owner SEC(".maps");

/* socket cookie -> trace ids, filled by user space (Set.TagConn). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct trace_tag);
} sock_trace SEC(".maps");

/* Ring-buffer records that could not be reserved (buffer full). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Set by user space before load. 0 = every process. */
const volatile __u32 target_tgid = 0;
/* Events at or above this duration go to the ring buffer. */
const volatile __u64 outlier_ns = 0;

static __always_inline bool slo_want(__u32 tgid)
{
	return target_tgid == 0 || tgid == target_tgid;
}

static __always_inline void slo_lost(__u32 sig)
{
	__u64 *v = bpf_map_lookup_elem(&lost, &sig);
	if (v)
		*v += 1;
}

static __always_inline __u32 slo_log2(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

/* All-zero histogram used to create map entries (too big for the stack). */
const volatile struct hist slo_zero_hist = {};

/* SLO_HIST_MAPS declares the two per-CPU histogram maps of a signal:
 * name##_self (one entry: the target process, an inlined array lookup on
 * the hot path) and name (keyed by tgid: every process, target_tgid 0).
 * Per-CPU values keep the counters' cache lines local to the CPU the
 * program runs on; user space sums the CPUs. */
#define SLO_HIST_MAPS(name)                                    \
	struct {                                               \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);       \
		__uint(max_entries, 1);                        \
		__type(key, __u32);                            \
		__type(value, struct hist);                    \
	} name##_self SEC(".maps");                            \
	struct {                                               \
		__uint(type, BPF_MAP_TYPE_PERCPU_HASH);        \
		__uint(map_flags, BPF_F_NO_PREALLOC);          \
		__uint(max_entries, 1024);                     \
		__type(key, __u32); /* tgid */                 \
		__type(value, struct hist);                    \
	} name SEC(".maps")

/* slo_hist_add counts d in the histogram of tgid: self (a per-CPU array)
 * when a target process is set, else all (a per-CPU hash by tgid). */
static __always_inline void slo_hist_add(void *self, void *all, __u32 tgid, __u64 d)
{
	struct hist *h;
	if (target_tgid) {
		__u32 zero = 0;
		h = bpf_map_lookup_elem(self, &zero);
	} else {
		h = bpf_map_lookup_elem(all, &tgid);
		if (!h) {
			bpf_map_update_elem(all, &tgid, (void *)&slo_zero_hist, BPF_NOEXIST);
			h = bpf_map_lookup_elem(all, &tgid);
		}
	}
	if (!h)
		return;
	__u32 s = slo_log2(d);
	if (s >= SLO_HIST_SLOTS)
		s = SLO_HIST_SLOTS - 1;
	/* Per-CPU memory, and a program never runs twice at once on one CPU
	 * (the kernel skips a nested run of the same program): plain adds.
	 * Each signal has its own histogram. */
	h->slots[s] += 1;
	h->count += 1;
	h->sum_ns += d;
}

/* slo_rq_clock returns the run-queue clock of the CPU p is being switched
 * in on (__schedule has just updated it): p's cfs_rq belongs to that run
 * queue (set_task_rq), also for tasks of other classes. 0 when the kernel
 * keeps no cfs_rq->rq (CONFIG_FAIR_GROUP_SCHED off; user space reports
 * the signal Off then). */
static __always_inline __u64 slo_rq_clock(const struct task_struct *p)
{
	if (!bpf_core_field_exists(struct cfs_rq, rq))
		return 0;
	struct cfs_rq *cfs = p->se.cfs_rq;
	if (!cfs)
		return 0;
	struct rq *rq = cfs->rq;
	if (!rq)
		return 0;
	return rq->clock;
}

static __always_inline void slo_trace(struct event *e)
{
	if (!e->cookie)
		return;
	struct trace_tag *t = bpf_map_lookup_elem(&sock_trace, &e->cookie);
	if (!t)
		return;
	__builtin_memcpy(e->trace_id, t->trace_id, sizeof(e->trace_id));
	__builtin_memcpy(e->span_id, t->span_id, sizeof(e->span_id));
	e->flags |= SLO_FLAG_TRACE;
}

/* slo_sock_tuple fills family, addresses and ports of e from sk. */
static __always_inline void slo_sock_tuple(struct event *e, const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->family = family;
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (family == AF_INET) {
		__u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(e->laddr, &s, 4);
		__builtin_memcpy(e->raddr, &d, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

#endif
