//go:build linux && (386 || amd64)

package probes

// blockingSyscalls returns the x86-64 syscalls that block by design and
// are no latency evidence: futex, epoll_wait, epoll_pwait, epoll_pwait2,
// nanosleep, clock_nanosleep, select, pselect6, poll, ppoll, wait4, waitid,
// pause, rt_sigsuspend, rt_sigtimedwait, io_getevents, io_uring_enter,
// accept, accept4.
func blockingSyscalls() []int {
	return []int{202, 232, 281, 441, 35, 230, 23, 270, 7, 271, 61, 247, 34, 130, 128, 208, 426, 43, 288}
}
