//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* bench.bpf.c: not a probe. A raw_tp program run with BPF_PROG_TEST_RUN
 * fills the shared ring buffer with bench_n TCP-retransmit-shaped records,
 * so probes/ can benchmark reading and decoding a real ring buffer. */
#include "event.h"

char __license[] SEC("license") = "Dual MIT/GPL";

const volatile __u32 bench_n = 1024;

static long fill_one(__u32 i, void *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 1;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->cookie = 1000 + i;
	e->count = 1;
	e->pid = 4242;
	e->signal = SLO_SIG_TCP_RETRANS;
	e->family = AF_INET;
	e->lport = 40000;
	e->rport = 443;
	e->laddr[0] = 10;
	e->raddr[0] = 10;
	e->state = 1;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tp")
int slo_bench_fill(void *ctx)
{
	bpf_loop(bench_n, fill_one, NULL, 0);
	return 0;
}

/* Empty programs on the tracepoints the probes use: what attaching any
 * program there costs (the dispatch), for BenchmarkProbeCost. */
SEC("tp_btf/sched_switch")
int BPF_PROG(slo_bench_nop_switch)
{
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(slo_bench_nop_xmit)
{
	return 0;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(slo_bench_nop_recv)
{
	return 0;
}
