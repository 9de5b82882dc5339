//go:build linux

package slo

import (
	"net"

	"golang.org/x/sys/unix"
)

// socketCookie returns the SO_COOKIE of conn's socket, the identifier the
// kernel (and BPF programs, through bpf_get_socket_cookie) knows it by; 0
// when conn has no socket or the option cannot be read.
func socketCookie(conn net.Conn) uint64 {
	sc, ok := rawConn(conn)
	if !ok {
		return 0
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	var cookie uint64
	_ = raw.Control(func(fd uintptr) {
		if v, err := unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE); err == nil {
			cookie = v
		}
	})
	return cookie
}
