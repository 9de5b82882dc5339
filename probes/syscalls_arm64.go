//go:build linux

package probes

// blockingSyscalls returns the arm64 (asm-generic) syscalls that block by
// design and are no latency evidence: futex, epoll_pwait, epoll_pwait2,
// nanosleep, clock_nanosleep, pselect6, ppoll, wait4, waitid,
// rt_sigsuspend, rt_sigtimedwait, io_getevents, io_pgetevents,
// io_uring_enter, accept, accept4 (arm64 has no epoll_wait, select, poll
// or pause).
func blockingSyscalls() []int {
	return []int{98, 22, 441, 101, 115, 72, 73, 260, 95, 133, 137, 4, 292, 426, 202, 242}
}
