/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* vmlinux.h: the kernel types the probes read, written by hand and
 * architecture-neutral, in place of a per-architecture BTF dump (several MB
 * each, and one per target).
 *
 * Kernel-internal structs carry only the members the programs read and are
 * marked preserve_access_index: the compiler records every access as a CO-RE
 * relocation by member name, and the loader (cilium/ebpf) moves it to where
 * the running kernel's BTF puts that member, on any architecture, so the
 * layouts here need not match any kernel. A member missing from the running
 * kernel fails the load with the program's name (or is guarded with
 * bpf_core_field_exists). Anonymous unions of the kernel's definitions are
 * left out: CO-RE finds a member through them by name.
 *
 * The UAPI types (map types, flags, the context structs of cgroup programs,
 * protocol headers read as bytes) are fixed ABI and are written with their
 * real layouts. What differs by architecture (struct pt_regs) is in arch.h.
 *
 * To add a member: declare it in its struct below with the kernel's type
 * (the kernel headers, or `bpftool btf dump file /sys/kernel/btf/vmlinux`). */
#ifndef SLO_VMLINUX_H
#define SLO_VMLINUX_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u16 __sum16;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };
typedef unsigned int gfp_t;
typedef __u32 blk_opf_t;

/* UAPI: include/uapi/linux/bpf.h. */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

enum {
	BPF_F_NO_PREALLOC = 1,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

/* Context of cgroup/sock_create (leading members; the verifier maps the
 * offsets). */
struct bpf_sock {
	__u32 bound_dev_if;
	__u32 family;
	__u32 type;
	__u32 protocol;
};

/* Context of cgroup/connect and cgroup/sendmsg (leading members). */
struct bpf_sock_addr {
	__u32 user_family;
	__u32 user_ip4;
	__u32 user_ip6[4];
	__u32 user_port;
	__u32 family;
	__u32 type;
	__u32 protocol;
};

/* Context of cgroup_skb programs (leading members). */
struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;
};

/* Protocol headers (wire layout), read as bytes into the stack. */
struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be16 u6_addr16[8];
		__be32 u6_addr32[4];
	} in6_u;
};

struct iphdr {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	__u8 ihl : 4;
	__u8 version : 4;
#else
	__u8 version : 4;
	__u8 ihl : 4;
#endif
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__sum16 check;
	__be32 saddr;
	__be32 daddr;
};

struct ipv6hdr {
	__u8 priority_version;
	__u8 flow_lbl[3];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	struct in6_addr saddr;
	struct in6_addr daddr;
};

struct udphdr {
	__be16 source;
	__be16 dest;
	__be16 len;
	__sum16 check;
};

struct tcphdr {
	__be16 source;
	__be16 dest;
	__be32 seq;
	__be32 ack_seq;
	__u8 res1_doff; /* data offset in the high 4 bits */
	__u8 flags;
	__be16 window;
	__sum16 check;
	__be16 urg_ptr;
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* Scheduler: include/linux/sched.h, kernel/sched/sched.h. */
struct rq {
	u64 clock;
};

struct cfs_rq {
	struct rq *rq;
};

struct sched_entity {
	struct cfs_rq *cfs_rq;
	u64 sum_exec_runtime;
	u64 prev_sum_exec_runtime;
};

struct sched_info {
	unsigned long long last_arrival;
	unsigned long long last_queued;
};

struct kernfs_node {
	u64 id;
};

struct cgroup {
	struct kernfs_node *kn;
};

struct css_set {
	struct cgroup *dfl_cgrp;
};

struct task_struct {
	int pid;
	int tgid;
	struct sched_entity se;
	struct sched_info sched_info;
	struct css_set *cgroups;
};

/* Networking: include/net/sock.h, include/linux/skbuff.h. */
struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

typedef struct {
	s64 counter;
} atomic64_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	atomic64_t skc_cookie;
};

struct sk_buff;

struct sk_buff_head {
	struct sk_buff *next;
	struct sk_buff *prev;
};

struct sock_cgroup_data {
	struct cgroup *cgroup;
};

struct sock {
	struct sock_common __sk_common;
	struct sk_buff_head sk_receive_queue;
	u16 sk_protocol;
	int sk_err;
	struct sock_cgroup_data sk_cgrp_data;
};

struct net_device {
	possible_net_t nd_net;
};

struct sk_buff {
	struct sk_buff *next;
	struct sk_buff *prev;
	struct sock *sk;
	struct net_device *dev;
	unsigned int len;
	unsigned int data_len;
	__be16 protocol;
	__u16 transport_header;
	__u16 network_header;
	unsigned char *head;
	unsigned char *data;
};

/* Block layer: include/linux/blk-mq.h. */
struct request {
	blk_opf_t cmd_flags;
	unsigned int __data_len;
};

/* Architecture registers: see arch.h. */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long orig_ax;
	unsigned long ax;
};
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs {
	s32 syscallno;
};
#endif

#pragma clang attribute pop

#endif
