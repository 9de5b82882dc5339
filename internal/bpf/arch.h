/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* arch.h: what differs between the target architectures: where a task's
 * user-entry registers keep the system call it is in. bpf2go defines
 * __TARGET_ARCH_<arch> for each -target. */
#ifndef SLO_ARCH_H
#define SLO_ARCH_H

#define SLO_ENOSYS 38

#if defined(__TARGET_ARCH_x86)
/* x86-64: orig_ax holds the call number and ax the -ENOSYS the entry code
 * put there until the result replaces it on return; a page fault's frame
 * has the error code in orig_ax and the user's rax in ax. */
static __always_inline bool slo_in_syscall(const struct pt_regs *regs, long *nr)
{
	*nr = regs->orig_ax;
	return regs->ax == -SLO_ENOSYS;
}
#elif defined(__TARGET_ARCH_arm64)
/* arm64: every entry from user mode sets syscallno to NO_SYSCALL (-1) and
 * the svc path then stores the call number (x0 keeps the first argument
 * until the result replaces it, so no -ENOSYS mark): syscallno >= 0 while
 * the task is in a system call, and on its way back to user mode after it. */
static __always_inline bool slo_in_syscall(const struct pt_regs *regs, long *nr)
{
	*nr = regs->syscallno;
	return *nr >= 0;
}
#else
#error "unsupported BPF target architecture: amd64 (x86) and arm64 only"
#endif

#endif
