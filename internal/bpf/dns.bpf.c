//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* dns.bpf.c: DNS-over-UDP latency. cgroup_skb/egress sees the query in the
 * sending task's context (so the tgid filter applies there) and remembers it
 * by (socket cookie, transaction id); cgroup_skb/ingress matches the response
 * and emits the latency with the first SLO_DNS_MAX bytes of the response
 * (user space parses qname, qtype and rcode). Both programs always pass the
 * packet. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

#define IPPROTO_UDP_ 17
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD

struct dns_key {
	__u64 cookie;
	__u32 id;
	__u32 _pad;
};

struct dns_start {
	__u64 ts;
	__u32 tgid;
	__u32 tid;
	__u64 cgroup_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct dns_key);
	__type(value, struct dns_start);
} dns_pending SEC(".maps");

/* UDP ports (host order) that carry DNS; filled by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u16);
	__type(value, __u8);
} dns_ports SEC(".maps");

struct udp_loc {
	__u32 off;     /* offset of the UDP payload */
	__u32 len;     /* UDP payload length */
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline int parse_udp(struct __sk_buff *skb, struct udp_loc *l)
{
	__u32 l4;
	__u8 proto;
	if (skb->protocol == bpf_htons(ETH_P_IP_)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
			return -1;
		if (ip.protocol != IPPROTO_UDP_)
			return -1;
		if (ip.frag_off & bpf_htons(0x3fff))
			return -1;
		l4 = ip.ihl * 4;
		l->family = AF_INET;
		__builtin_memcpy(l->saddr, &ip.saddr, 4);
		__builtin_memcpy(l->daddr, &ip.daddr, 4);
		proto = ip.protocol;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
			return -1;
		if (ip6.nexthdr != IPPROTO_UDP_)
			return -1;
		l4 = sizeof(ip6);
		l->family = AF_INET6;
		__builtin_memcpy(l->saddr, &ip6.saddr, 16);
		__builtin_memcpy(l->daddr, &ip6.daddr, 16);
		proto = ip6.nexthdr;
	} else {
		return -1;
	}
	(void)proto;
	struct udphdr udp;
	if (bpf_skb_load_bytes(skb, l4, &udp, sizeof(udp)) < 0)
		return -1;
	l->sport = bpf_ntohs(udp.source);
	l->dport = bpf_ntohs(udp.dest);
	l->off = l4 + sizeof(udp);
	__u32 ulen = bpf_ntohs(udp.len);
	if (ulen < sizeof(udp) + 12)
		return -1;
	l->len = ulen - sizeof(udp);
	return 0;
}

static __always_inline bool is_dns_port(__u16 port)
{
	return bpf_map_lookup_elem(&dns_ports, &port) != NULL;
}

/* udp_packet is the cheap first filter, run on every packet of the cgroup:
 * it reads the IP protocol in place (direct packet access, no helper call)
 * and passes everything but UDP. Headers outside the linear data fall
 * through to parse_udp, which copies them. */
static __always_inline bool udp_packet(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	if (skb->protocol == bpf_htons(ETH_P_IP_)) {
		struct iphdr *ip = data;
		if ((void *)(ip + 1) > end)
			return true;
		return ip->protocol == IPPROTO_UDP_;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr *ip6 = data;
		if ((void *)(ip6 + 1) > end)
			return true;
		return ip6->nexthdr == IPPROTO_UDP_;
	}
	return false;
}

/* Queries seen by egress and not yet answered (approximately: a query
 * that never gets an answer stays counted until dns_idle_ns after the last
 * query). While it is 0, ingress passes every packet without parsing. */
__u64 dns_inflight = 0;
__u64 dns_last_query_ns = 0;
#define DNS_IDLE_NS (30ULL * 1000 * 1000 * 1000)

SEC("cgroup_skb/egress")
int slo_dns_egress(struct __sk_buff *skb)
{
	if (!udp_packet(skb))
		return 1;
	struct udp_loc l = {};
	if (parse_udp(skb, &l) < 0 || !is_dns_port(l.dport))
		return 1;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (tgid == 0 || !slo_want(tgid))
		return 1;
	__u8 hdr[4];
	if (bpf_skb_load_bytes(skb, l.off, hdr, sizeof(hdr)) < 0)
		return 1;
	if (hdr[2] & 0x80) /* QR set: a response, not a query */
		return 1;
	struct dns_key k = {
		.cookie = bpf_get_socket_cookie(skb),
		.id = ((__u32)hdr[0] << 8) | hdr[1],
	};
	struct dns_start s = {
		.ts = bpf_ktime_get_ns(),
		.tgid = tgid,
		.tid = (__u32)id,
		.cgroup_id = bpf_get_current_cgroup_id(),
	};
	bpf_map_update_elem(&dns_pending, &k, &s, BPF_ANY);
	bpf_map_update_elem(&sock_owner, &k.cookie, &tgid, BPF_ANY);
	dns_last_query_ns = s.ts;
	__sync_fetch_and_add(&dns_inflight, 1);
	return 1;
}

SEC("cgroup_skb/ingress")
int slo_dns_ingress(struct __sk_buff *skb)
{
	if (!dns_inflight)
		return 1;
	if (!udp_packet(skb))
		return 1;
	struct udp_loc l = {};
	if (parse_udp(skb, &l) < 0 || !is_dns_port(l.sport))
		return 1;
	__u8 hdr[4];
	if (bpf_skb_load_bytes(skb, l.off, hdr, sizeof(hdr)) < 0)
		return 1;
	if (!(hdr[2] & 0x80))
		return 1;
	struct dns_key k = {
		.cookie = bpf_get_socket_cookie(skb),
		.id = ((__u32)hdr[0] << 8) | hdr[1],
	};
	__u64 now = bpf_ktime_get_ns();
	struct dns_start *s = bpf_map_lookup_elem(&dns_pending, &k);
	if (!s) {
		/* Unanswered queries: reopen the fast path once idle. */
		if (now - dns_last_query_ns > DNS_IDLE_NS)
			dns_inflight = 0;
		return 1;
	}
	struct dns_start st = *s;
	bpf_map_delete_elem(&dns_pending, &k);
	if (dns_inflight)
		__sync_fetch_and_sub(&dns_inflight, 1);

	struct dns_event *de = bpf_ringbuf_reserve(&events, sizeof(*de), 0);
	if (!de) {
		slo_lost(SLO_SIG_DNS);
		return 1;
	}
	struct event *e = &de->e;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->duration_ns = now - st.ts;
	e->cookie = k.cookie;
	e->cgroup_id = st.cgroup_id;
	e->count = 1;
	e->pid = st.tgid;
	e->tid = st.tid;
	e->signal = SLO_SIG_DNS;
	e->family = l.family;
	e->aux = k.id;
	/* Response: local is the destination, remote the server. */
	e->lport = l.dport;
	e->rport = l.sport;
	__builtin_memcpy(e->laddr, l.daddr, 16);
	__builtin_memcpy(e->raddr, l.saddr, 16);
	slo_trace(e);

	__u32 n = l.len;
	if (n > SLO_DNS_MAX)
		n = SLO_DNS_MAX;
	if (n < 12) {
		e->payload_len = 0;
	} else if (bpf_skb_load_bytes(skb, l.off, de->payload, n) == 0) {
		e->payload_len = n;
	} else {
		e->payload_len = 0;
	}
	bpf_ringbuf_submit(de, 0);
	return 1;
}
