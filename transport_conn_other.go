//go:build !linux

package slo

import "net"

// socketCookie returns 0: socket cookies exist on Linux only.
func socketCookie(net.Conn) uint64 { return 0 }
