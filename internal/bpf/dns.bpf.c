//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* dns.bpf.c: DNS latency, over UDP and over TCP.
 *
 * Always attached, and run only when a socket of the target's cgroup
 * connects or sends to an address (never per packet of a connected
 * socket): cgroup/connect4/6 and cgroup/sendmsg4/6. A UDP connect or
 * unconnected send to a DNS port arms the packet programs below: it records
 * when the first query to that server may have left (dns_conn) and, if they
 * are detached, asks user space to attach them (an SLO_FLAG_ARM record).
 * User space detaches them again after 30 s without DNS traffic, so
 * a process that does no DNS pays nothing per packet.
 *
 * Attached while armed:
 *  - tp_btf/net_dev_queue sees every packet handed to a device, in the
 *    sending task's context for a UDP send (so the tgid filter applies); it
 *    passes everything but UDP sockets with two loads and remembers a query
 *    by (netns, remote address, ports, transaction id);
 *  - tp_btf/sk_data_ready runs when a socket gets data; it returns after
 *    one load unless the socket is UDP, then matches the DNS responses
 *    queued on it and emits the latency with the first SLO_DNS_MAX bytes of
 *    the response in the packet's linear data (user space parses qname,
 *    qtype and rcode). A response to a query that left before the packet
 *    programs were attached (the first one after a quiet period: a
 *    resolver sends it microseconds after connecting) matches the socket's
 *    dns_conn record instead: its latency counts from the connect.
 * cgroup/sock_create gives new UDP sockets their cookie (below). No program
 * changes a packet or refuses a socket.
 *
 * DNS over TCP (a resolver's fallback on a truncated answer, large answers,
 * some service meshes): a TCP connect of the target to a DNS port arms the
 * same way and leaves the same dns_conn record. TCP data sits in page
 * fragments the tracepoints cannot read, so two cgroup_skb programs on the
 * target's cgroup, attached and detached with the packet programs above,
 * read the segments of the sockets with such a record (bpf_skb_load_bytes;
 * after the first TCP DNS connect, every packet of the cgroup pays a
 * protocol and port check while they are attached). A message on TCP is
 * the 2-byte length and the DNS message: egress remembers the query when
 * its first segment leaves, ingress matches the answer's first segment
 * (resolvers send one query per connection, or one after another) and
 * times it like a UDP one, or from the connect. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD

struct dns_key {
	__u8 raddr[16]; /* the server */
	__u32 netns;
	__u16 lport;
	__u16 rport;
	__u16 id;
	__u16 _pad[3];
};

struct dns_start {
	__u64 ts;
	__u64 cookie;
	__u64 cgroup_id;
	__u32 tgid;
	__u32 tid;
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

/* Per socket (cookie): the last connect or address-carrying send of the
 * target to a DNS port, the fallback match of ingress for answers to
 * queries egress did not see. */
#define DNS_CONN_IDS 4
#define DNS_QUEUE_LOOK 4

struct dns_conn {
	__u64 ts;
	__u64 cgroup_id;
	__u32 tgid;
	__u32 tid;
	__u32 answered_n;             /* answers matched to this record */
	__u16 answered[DNS_CONN_IDS]; /* their transaction ids */
	__u16 _pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* socket cookie */
	__type(value, struct dns_conn);
} dns_conn SEC(".maps");

/* Older dns_conn records are no query any resolver still waits for. */
#define DNS_CONN_MAX_NS (10ULL * 1000 * 1000 * 1000)

/* dns_attached: 1 while user space has the packet programs attached (it
 * sets and clears it); dns_last_arm_ns: the last connect or send that armed
 * them (user space detaches after 30 s without one and without a
 * query). */
__u32 dns_attached = 0;
__u64 dns_last_arm_ns = 0;

/* The last query egress saw (user space detaches after 30 s without one
 * and without a connect). */
__u64 dns_last_query_ns = 0;

/* The last TCP connect of the target to a DNS port; 0 (never) lets every
 * packet through the cgroup_skb programs after one load. */
__u64 dns_tcp_arm_ns = 0;

static __always_inline bool is_dns_port(__u16 port)
{
	return bpf_map_lookup_elem(&dns_ports, &port) != NULL;
}

/* The headers of one UDP datagram, read from its network header. */
struct udp_pkt {
	__u8 family;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport; /* host order */
	__u16 dport;
	__u32 len;   /* UDP payload length */
	const void *payload;
	__u8 dns[4]; /* id, flags */
};

/* read_udp reads IP, UDP and the first DNS bytes at nh (the network
 * header); proto is skb->protocol. */
static __always_inline int read_udp(const void *nh, __u16 proto, struct udp_pkt *p)
{
	const void *l4;
	if (proto == bpf_htons(ETH_P_IP_)) {
		struct iphdr ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), nh) < 0)
			return -1;
		if (ip.protocol != IPPROTO_UDP_ || (ip.frag_off & bpf_htons(0x3fff)))
			return -1;
		p->family = AF_INET;
		__builtin_memcpy(p->saddr, &ip.saddr, 4);
		__builtin_memcpy(p->daddr, &ip.daddr, 4);
		l4 = nh + ip.ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr ip6;
		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), nh) < 0)
			return -1;
		if (ip6.nexthdr != IPPROTO_UDP_)
			return -1;
		p->family = AF_INET6;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
		l4 = nh + sizeof(ip6);
	} else {
		return -1;
	}
	struct {
		struct udphdr udp;
		__u8 dns[4];
	} h;
	if (bpf_probe_read_kernel(&h, sizeof(h), l4) < 0)
		return -1;
	__u32 ulen = bpf_ntohs(h.udp.len);
	if (ulen < sizeof(h.udp) + 12)
		return -1;
	p->sport = bpf_ntohs(h.udp.source);
	p->dport = bpf_ntohs(h.udp.dest);
	p->len = ulen - sizeof(h.udp);
	p->payload = l4 + sizeof(h.udp);
	__builtin_memcpy(p->dns, h.dns, 4);
	return 0;
}

/* Socket cookies are generated on first use; skb->sk is an RCU pointer
 * to the verifier, which bpf_get_socket_cookie does not take, so egress
 * reads skc_cookie as is and this program (cgroup/sock_create, once per new
 * socket) makes sure every UDP socket created after Start has one. UDP
 * sockets older than the probes report cookie 0 unless something else
 * (SO_COOKIE, another BPF program) generated theirs. */
SEC("cgroup/sock_create")
int slo_dns_sock_create(struct bpf_sock *sk)
{
	if (sk->protocol == IPPROTO_UDP_)
		bpf_get_socket_cookie(sk);
	return 1;
}

static __always_inline int dns_arm(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_UDP_ && ctx->protocol != IPPROTO_TCP_)
		return 1;
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	if (!is_dns_port(port))
		return 1;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (tgid == 0 || !slo_want(tgid))
		return 1;
	__u64 now = bpf_ktime_get_ns();
	__u64 cookie = bpf_get_socket_cookie(ctx);
	/* The latest connect or send on the socket: an earlier unanswered
	 * one timed out or was answered already. */
	struct dns_conn n = {
		.ts = now,
		.cgroup_id = bpf_get_current_cgroup_id(),
		.tgid = tgid,
		.tid = (__u32)id,
	};
	bpf_map_update_elem(&dns_conn, &cookie, &n, BPF_ANY);
	dns_last_arm_ns = now;
	if (ctx->protocol == IPPROTO_TCP_)
		dns_tcp_arm_ns = now;
	if (dns_attached)
		return 1;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		slo_lost(SLO_SIG_DNS);
		return 1;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->pid = tgid;
	e->tid = (__u32)id;
	e->signal = SLO_SIG_DNS;
	e->flags = SLO_FLAG_ARM;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 1;
}

SEC("cgroup/connect4")
int slo_dns_connect4(struct bpf_sock_addr *ctx)
{
	return dns_arm(ctx);
}

SEC("cgroup/connect6")
int slo_dns_connect6(struct bpf_sock_addr *ctx)
{
	return dns_arm(ctx);
}

SEC("cgroup/sendmsg4")
int slo_dns_sendmsg4(struct bpf_sock_addr *ctx)
{
	return dns_arm(ctx);
}

SEC("cgroup/sendmsg6")
int slo_dns_sendmsg6(struct bpf_sock_addr *ctx)
{
	return dns_arm(ctx);
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(slo_dns_egress, struct sk_buff *skb)
{
	struct sock *sk = skb->sk;
	if (!sk || sk->sk_protocol != IPPROTO_UDP_)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (tgid == 0 || !slo_want(tgid))
		return 0;
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	struct udp_pkt p = {};
	if (read_udp(head + nh, BPF_CORE_READ(skb, protocol), &p) < 0 || !is_dns_port(p.dport))
		return 0;
	if (p.dns[2] & 0x80) /* QR set: a response, not a query */
		return 0;
	struct dns_key k = {
		.netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum),
		.lport = p.sport,
		.rport = p.dport,
		.id = ((__u16)p.dns[0] << 8) | p.dns[1],
	};
	__builtin_memcpy(k.raddr, p.daddr, 16);
	struct dns_start s = {
		.ts = bpf_ktime_get_ns(),
		.cookie = sk->__sk_common.skc_cookie.counter,
		.cgroup_id = bpf_get_current_cgroup_id(),
		.tgid = tgid,
		.tid = (__u32)id,
	};
	bpf_map_update_elem(&dns_pending, &k, &s, BPF_ANY);
	bpf_map_update_elem(&sock_owner, &s.cookie, &tgid, BPF_ANY);
	dns_last_query_ns = s.ts;
	return 0;
}

/* dns_match finds the start of the exchange a response with key k (on the
 * socket of cookie, whose dns_conn record is c or NULL) answers: the query
 * egress saw, or the connect or send that armed the socket. false when the
 * response answers nothing of the target's. */
static __always_inline bool dns_match(struct dns_conn *c, struct dns_key *k, __u64 cookie, __u64 now,
				      struct dns_start *st, bool *fallback)
{
	struct dns_start *s = bpf_map_lookup_elem(&dns_pending, k);
	bool answered = false;
	if (c) {
		for (int i = 0; i < DNS_CONN_IDS; i++)
			if (i < c->answered_n && c->answered[i] == k->id)
				answered = true;
		if (!answered) {
			/* Every answer on the socket once, whichever way it
			 * matched (a duplicate answer must not match the
			 * connect record after its query's). */
			c->answered[c->answered_n % DNS_CONN_IDS] = k->id;
			c->answered_n++;
		}
	}
	*fallback = !s;
	if (s) {
		*st = *s;
		bpf_map_delete_elem(&dns_pending, k);
		return true;
	}
	if (c && !answered && now - c->ts < DNS_CONN_MAX_NS) {
		/* The query left before egress was attached: count from the
		 * connect or send that armed it, on this very socket (glibc
		 * sends A and AAAA after one connect; egress may see the
		 * second and not the first). */
		st->ts = c->ts;
		st->cookie = cookie;
		st->cgroup_id = c->cgroup_id;
		st->tgid = c->tgid;
		st->tid = c->tid;
		return true;
	}
	return false;
}

/* dns_fill fills the record of a response with key k that arrived at now
 * for the exchange started at st; family and addresses are the
 * response's (local is its destination, remote the server). */
static __always_inline void dns_fill(struct event *e, const struct dns_start *st, const struct dns_key *k,
				     __u64 now, bool fallback, __u8 family, const __u8 *saddr,
				     const __u8 *daddr)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->duration_ns = now - st->ts;
	e->cookie = st->cookie;
	e->cgroup_id = st->cgroup_id;
	e->count = 1;
	e->pid = st->tgid;
	e->tid = st->tid;
	e->signal = SLO_SIG_DNS;
	e->family = family;
	e->aux = k->id;
	if (fallback)
		e->flags |= SLO_FLAG_FROM_CONNECT;
	e->lport = k->lport;
	e->rport = k->rport;
	__builtin_memcpy(e->laddr, daddr, 16);
	__builtin_memcpy(e->raddr, saddr, 16);
	slo_trace(e);
}

/* dns_answer handles one datagram queued on sk: a DNS response to a query
 * of the target (egress saw it, or it left on the socket of an armed
 * connect) becomes an event. */
static __always_inline void dns_answer(const struct sock *sk, struct sk_buff *skb, __u64 cookie, __u64 now)
{
	unsigned char *head = skb->head;
	unsigned char *data = head + skb->network_header;
	struct udp_pkt p = {};
	if (read_udp(data, skb->protocol, &p) < 0 || !is_dns_port(p.sport))
		return;
	if (!(p.dns[2] & 0x80))
		return;
	struct dns_key k = {
		.netns = sk->__sk_common.skc_net.net->ns.inum,
		.lport = p.dport,
		.rport = p.sport,
		.id = ((__u16)p.dns[0] << 8) | p.dns[1],
	};
	__builtin_memcpy(k.raddr, p.saddr, 16);
	struct dns_conn *c = cookie ? bpf_map_lookup_elem(&dns_conn, &cookie) : NULL;
	struct dns_start st;
	bool fallback;
	if (!dns_match(c, &k, cookie, now, &st, &fallback))
		return;

	struct dns_event *de = bpf_ringbuf_reserve(&events, sizeof(*de), 0);
	if (!de) {
		slo_lost(SLO_SIG_DNS);
		return;
	}
	struct event *e = &de->e;
	dns_fill(e, &st, &k, now, fallback, p.family, p.saddr, p.daddr);

	/* Copy what the linear data (from skb->data, the UDP header once
	 * queued) holds of the message: all of it on loopback, veth and
	 * drivers that copy small packets. */
	__u32 linear = skb->len - skb->data_len;
	__u32 off = (__u32)((const unsigned char *)p.payload - skb->data);
	__u32 n = p.len;
	if (off < linear && n > linear - off)
		n = linear - off;
	if (n > SLO_DNS_MAX)
		n = SLO_DNS_MAX;
	e->payload_len = 0;
	if (n >= 12 && off < linear && bpf_probe_read_kernel(de->payload, n, p.payload) == 0)
		e->payload_len = n;
	bpf_ringbuf_submit(de, 0);
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(slo_dns_ingress, const struct sock *sk)
{
	if (sk->sk_protocol != IPPROTO_UDP_)
		return 0;
	/* UDP appends the datagram to sk_receive_queue, then calls
	 * sk_data_ready; answers that arrive back to back may both be queued
	 * before the first call runs, so the last few are read (each is
	 * handled once: egress records are deleted when matched, connect
	 * matches remember their ids). */
	__u64 now = bpf_ktime_get_ns();
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
	struct sk_buff *skb = sk->sk_receive_queue.prev;
	for (int i = 0; i < DNS_QUEUE_LOOK; i++) {
		if (!skb || (void *)skb == (void *)&sk->sk_receive_queue)
			break;
		dns_answer(sk, skb, cookie, now);
		skb = skb->prev;
	}
	return 0;
}

#include "dns_tcp.h"
