//go:build linux

package main

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// capNumbers maps the capability names of sidecar.Capabilities to numbers.
var capNumbers = map[string]uint{
	"BPF": unix.CAP_BPF, "PERFMON": unix.CAP_PERFMON, "NET_ADMIN": unix.CAP_NET_ADMIN, "SYS_RESOURCE": unix.CAP_SYS_RESOURCE,
}

// errCapsPerThread says the capabilities could not be changed on every
// thread at once (a binary built with cgo).
var errCapsPerThread = errors.New("capabilities are per thread and this binary uses cgo: none dropped")

// keepCapabilities reduces the effective and permitted capability sets of
// every thread of the process to keep (names as sidecar.Capabilities spells
// them) and clears the inheritable set. It returns what it dropped, by
// number, as a bit mask.
func keepCapabilities(keep []string) (uint64, error) {
	var mask uint64
	for _, n := range keep {
		c, ok := capNumbers[n]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		mask |= 1 << c
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	had := uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
	for i := range data {
		m := uint32(mask >> (32 * i))
		data[i].Effective &= m
		data[i].Permitted &= m
		data[i].Inheritable = 0
	}
	_, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	switch {
	case e == syscall.ENOTSUP:
		return 0, errCapsPerThread
	case e != 0:
		return 0, fmt.Errorf("capset: %w", e)
	}
	return had &^ mask, nil
}
