/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* dns_tcp.h: DNS over TCP, part of dns.bpf.c (see there). Two cgroup_skb
 * programs on the target's cgroup, attached with the packet programs, read
 * the segments of TCP sockets the target connected to a DNS port. They
 * never refuse a packet. */

/* A TCP segment that starts a DNS message. */
struct dns_seg {
	__u8 family;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport; /* host order */
	__u16 dport;
	__u16 id;
	__u8 flags; /* the DNS flags' first byte (QR in the top bit) */
	__u32 off;  /* offset of the DNS message in the packet */
	__u32 len;  /* DNS bytes in the segment */
};

/* dns_tcp_seg reads the headers of skb (a cgroup_skb packet starts at its
 * IP header) and the first DNS bytes; -1 unless the segment is TCP and
 * starts a message (its first two bytes, the message length, cover the
 * rest of the segment). */
static __always_inline int dns_tcp_seg(struct __sk_buff *skb, struct dns_seg *g)
{
	__u32 l4;
	if (skb->protocol == bpf_htons(ETH_P_IP_)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0 || ip.protocol != IPPROTO_TCP_)
			return -1;
		g->family = AF_INET;
		__builtin_memcpy(g->saddr, &ip.saddr, 4);
		__builtin_memcpy(g->daddr, &ip.daddr, 4);
		l4 = ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0 || ip6.nexthdr != IPPROTO_TCP_)
			return -1;
		g->family = AF_INET6;
		__builtin_memcpy(g->saddr, &ip6.saddr, 16);
		__builtin_memcpy(g->daddr, &ip6.daddr, 16);
		l4 = sizeof(ip6);
	} else {
		return -1;
	}
	struct tcphdr tcp;
	if (bpf_skb_load_bytes(skb, l4, &tcp, sizeof(tcp)) < 0)
		return -1;
	__u32 off = l4 + (tcp.res1_doff >> 4) * 4;
	if (off < l4 + sizeof(tcp) || skb->len < off + 2 + 12)
		return -1;
	struct {
		__be16 len;
		__u8 dns[4];
	} __attribute__((packed)) m;
	if (bpf_skb_load_bytes(skb, off, &m, sizeof(m)) < 0)
		return -1;
	g->sport = bpf_ntohs(tcp.source);
	g->dport = bpf_ntohs(tcp.dest);
	g->off = off + 2;
	g->len = skb->len - g->off;
	__u32 mlen = bpf_ntohs(m.len);
	if (mlen < 12 || mlen < g->len)
		return -1;
	g->id = ((__u16)m.dns[0] << 8) | m.dns[1];
	g->flags = m.dns[2];
	return 0;
}

/* dns_tcp_conn returns the dns_conn record of the socket of skb when it is
 * one the target connected to a DNS port over TCP (cookie set), else NULL. */
static __always_inline struct dns_conn *dns_tcp_conn(struct __sk_buff *skb, __u64 *cookie)
{
	if (dns_tcp_arm_ns == 0)
		return NULL;
	*cookie = bpf_get_socket_cookie(skb);
	if (*cookie == 0)
		return NULL;
	return bpf_map_lookup_elem(&dns_conn, cookie);
}

/* TCP queries are keyed without the network namespace (a cgroup_skb
 * packet does not carry it): the tuple and id are the socket's own. */
SEC("cgroup_skb/egress")
int slo_dns_tcp_egress(struct __sk_buff *skb)
{
	__u64 cookie;
	struct dns_conn *c = dns_tcp_conn(skb, &cookie);
	if (!c)
		return 1;
	struct dns_seg g = {};
	if (dns_tcp_seg(skb, &g) < 0 || !is_dns_port(g.dport) || (g.flags & 0x80))
		return 1;
	struct dns_key k = {.lport = g.sport, .rport = g.dport, .id = g.id};
	__builtin_memcpy(k.raddr, g.daddr, 16);
	struct dns_start s = {
		.ts = bpf_ktime_get_ns(),
		.cookie = cookie,
		.cgroup_id = c->cgroup_id,
		.tgid = c->tgid,
		.tid = c->tid,
	};
	bpf_map_update_elem(&dns_pending, &k, &s, BPF_ANY);
	dns_last_query_ns = s.ts;
	return 1;
}

SEC("cgroup_skb/ingress")
int slo_dns_tcp_ingress(struct __sk_buff *skb)
{
	__u64 cookie;
	struct dns_conn *c = dns_tcp_conn(skb, &cookie);
	if (!c)
		return 1;
	struct dns_seg g = {};
	if (dns_tcp_seg(skb, &g) < 0 || !is_dns_port(g.sport) || !(g.flags & 0x80))
		return 1;
	__u64 now = bpf_ktime_get_ns();
	struct dns_key k = {.lport = g.dport, .rport = g.sport, .id = g.id};
	__builtin_memcpy(k.raddr, g.saddr, 16);
	struct dns_start st;
	bool fallback;
	if (!dns_match(c, &k, cookie, now, &st, &fallback))
		return 1;
	struct dns_event *de = bpf_ringbuf_reserve(&events, sizeof(*de), 0);
	if (!de) {
		slo_lost(SLO_SIG_DNS);
		return 1;
	}
	struct event *e = &de->e;
	dns_fill(e, &st, &k, now, fallback, g.family, g.saddr, g.daddr);
	e->flags |= SLO_FLAG_TCP;
	__u32 n = g.len;
	if (n > SLO_DNS_MAX)
		n = SLO_DNS_MAX;
	if (n >= 12 && bpf_skb_load_bytes(skb, g.off, de->payload, n) == 0)
		e->payload_len = n;
	bpf_ringbuf_submit(de, 0);
	return 1;
}
