//go:build ignore
/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* self.bpf.c: not a probe. Run once with BPF_PROG_TEST_RUN in the calling
 * thread, it returns the caller's thread-group id as the kernel (and every
 * other program) sees it: in the initial pid namespace, which differs from
 * getpid() inside a container. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual MIT/GPL";

SEC("raw_tp")
int slo_self_tgid(void *ctx)
{
	return bpf_get_current_pid_tgid() >> 32;
}
