//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* net.bpf.c: TCP retransmissions and connect latency/failures of the target
 * process. Retransmissions fire in softirq/timer context where the current
 * pid is meaningless, so ownership comes from sock_owner, filled on connect
 * (process context), on accept (the connection arrived on a port the target
 * listens on), on send by the target (sockets that existed before the
 * probes: only when claim_on_send is set) and by user space (a tagged
 * socket). Every record carries the cgroup the socket was created in
 * (sk_cgrp_data), read at event time. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

#define IPPROTO_TCP_ 6
#define TCP_ESTABLISHED_ 1
#define TCP_SYN_SENT_ 2
#define TCP_SYN_RECV_ 3
#define TCP_CLOSE_ 7
#define TCP_LISTEN_ 10

/* A listening socket of the target: accepted connections on it are ours. */
struct listen_key {
	__u32 netns;
	__u16 port;
	__u16 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct listen_key);
	__type(value, __u32); /* tgid */
} listen_ports SEC(".maps");

static __always_inline struct listen_key listen_key_of(const struct sock *sk)
{
	struct listen_key k = {
		.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum),
		.port = BPF_CORE_READ(sk, __sk_common.skc_num),
	};
	return k;
}

struct conn_start {
	__u64 ts;
	__u32 tgid;
	__u32 tid;
	__u64 cgroup_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* socket cookie */
	__type(value, struct conn_start);
} connect_start SEC(".maps");

static __always_inline __u32 owner_of(__u64 cookie)
{
	__u32 *o = bpf_map_lookup_elem(&sock_owner, &cookie);
	if (o)
		return *o;
	/* A socket user space tagged with a trace is ours too. */
	if (bpf_map_lookup_elem(&sock_trace, &cookie))
		return target_tgid ? target_tgid : 0xffffffff;
	return 0;
}

/* Claim sockets on every send: catches connections opened before the
 * probes started, at the cost of a program run per send on the host. */
const volatile bool claim_on_send = false;

static __always_inline void claim(struct sock *sk)
{
	if (!claim_on_send)
		return;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (target_tgid == 0 || tgid != target_tgid)
		return;
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return;
	__u64 cookie = bpf_get_socket_cookie(sk);
	__u32 *o = bpf_map_lookup_elem(&sock_owner, &cookie);
	if (o && *o == tgid)
		return;
	bpf_map_update_elem(&sock_owner, &cookie, &tgid, BPF_ANY);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(slo_sock_send, struct sock *sk, int ret, int flags)
{
	claim(sk);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(slo_tcp_retransmit, const struct sock *sk, const struct sk_buff *skb, int err)
{
	__u64 cookie = bpf_get_socket_cookie((void *)sk);
	__u32 owner = owner_of(cookie);
	if (owner == 0 || (target_tgid && owner != target_tgid && owner != 0xffffffff))
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		slo_lost(SLO_SIG_TCP_RETRANS);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->cookie = cookie;
	e->count = 1;
	e->pid = owner == 0xffffffff ? 0 : owner;
	/* The cgroup the socket was created in, stamped by the kernel: it
	 * stays the owner's after the owning process exited and its pid was
	 * reused (a closing socket retransmits for minutes). */
	e->cgroup_id = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	e->err = err < 0 ? -err : 0;
	e->signal = SLO_SIG_TCP_RETRANS;
	slo_sock_tuple(e, sk);
	slo_trace(e);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(slo_inet_sock_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP_)
		return 0;
	__u64 cookie = bpf_get_socket_cookie((void *)sk);

	if (newstate == TCP_SYN_SENT_) {
		/* connect(2): process context. */
		__u64 id = bpf_get_current_pid_tgid();
		__u32 tgid = id >> 32;
		if (!slo_want(tgid))
			return 0;
		struct conn_start cs = {
			.ts = bpf_ktime_get_ns(),
			.tgid = tgid,
			.tid = (__u32)id,
			.cgroup_id = bpf_get_current_cgroup_id(),
		};
		bpf_map_update_elem(&connect_start, &cookie, &cs, BPF_ANY);
		bpf_map_update_elem(&sock_owner, &cookie, &tgid, BPF_ANY);
		return 0;
	}
	if (newstate == TCP_LISTEN_) {
		/* listen(2): process context. */
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		if (!slo_want(tgid))
			return 0;
		struct listen_key lk = listen_key_of(sk);
		bpf_map_update_elem(&listen_ports, &lk, &tgid, BPF_ANY);
		return 0;
	}
	if (oldstate == TCP_LISTEN_) {
		/* LISTEN -> SYN_RECV is a child socket being created from the
		 * listener; LISTEN -> CLOSE is the listener going away. */
		if (newstate == TCP_CLOSE_) {
			struct listen_key lk = listen_key_of(sk);
			bpf_map_delete_elem(&listen_ports, &lk);
		}
		return 0;
	}
	if (oldstate == TCP_SYN_RECV_ && newstate == TCP_ESTABLISHED_) {
		/* A connection accepted on one of the target's ports (softirq). */
		struct listen_key lk = listen_key_of(sk);
		__u32 *tgid = bpf_map_lookup_elem(&listen_ports, &lk);
		if (tgid)
			bpf_map_update_elem(&sock_owner, &cookie, tgid, BPF_ANY);
		return 0;
	}
	if (newstate == TCP_CLOSE_) {
		bpf_map_delete_elem(&sock_owner, &cookie);
		bpf_map_delete_elem(&sock_trace, &cookie);
	}
	if (oldstate != TCP_SYN_SENT_)
		return 0;
	struct conn_start *cs = bpf_map_lookup_elem(&connect_start, &cookie);
	if (!cs)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		slo_lost(SLO_SIG_CONNECT);
		bpf_map_delete_elem(&connect_start, &cookie);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->duration_ns = now - cs->ts;
	e->cookie = cookie;
	e->cgroup_id = cs->cgroup_id;
	e->count = 1;
	e->pid = cs->tgid;
	e->tid = cs->tid;
	e->signal = SLO_SIG_CONNECT;
	slo_sock_tuple(e, sk);
	e->state = newstate;
	if (newstate != TCP_ESTABLISHED_) {
		e->flags |= SLO_FLAG_ERROR;
		e->err = BPF_CORE_READ(sk, sk_err);
	}
	slo_trace(e);
	bpf_map_delete_elem(&connect_start, &cookie);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
