package probes

import (
	"net/netip"
	"syscall"
	"time"
)

// Event is one piece of kernel or runtime evidence about the process.
// Fields a signal does not use are zero; [Signal] documents which it fills.
type Event struct {
	// Signal says what the event is.
	Signal Signal
	// Mono is the kernel CLOCK_MONOTONIC time of the event in nanoseconds
	// (bpf_ktime_get_ns; for pollers the time of the poll).
	Mono int64
	// Time is Mono converted to wall-clock time (offset measured at Start).
	Time time.Time
	// PID is the thread-group id (the process id) the event belongs to;
	// 0 when only the socket's registration, not the kernel, named it.
	PID uint32
	// TID is the thread id, 0 when unknown (softirq context).
	TID uint32
	// CgroupID is the cgroup v2 id the kernel stamped on the event: the
	// task's cgroup at the event, or for a retransmission the cgroup the
	// socket was created in; 0 when unknown.
	CgroupID uint64
	// Duration is the latency or stall the event measured.
	Duration time.Duration
	// Count is a signal-specific count (retransmits, bytes, pages, samples).
	Count uint64
	// Value is a signal-specific ratio (percent for CPUSteal, CFSThrottle,
	// PSI; seconds for GoSchedLatency's mean).
	Value float64
	// Op is a signal-specific operation: the CPU for RunqueueDelay, the
	// syscall number for SyscallLatency, the request op for BlockIO, the
	// resource for PSI.
	Op uint32
	// Local and Remote are the connection's endpoints (network signals).
	Local, Remote netip.AddrPort
	// Cookie is the kernel's socket cookie (getsockopt SO_COOKIE).
	Cookie uint64
	// State is the TCP state of the socket when the event fired.
	State uint8
	// Failed is set on a failed operation (a connect that ended in CLOSE).
	Failed bool
	// Errno is the error the operation ended with, 0 for none.
	Errno syscall.Errno
	// DNS is set on DNSLatency events.
	DNS DNSInfo
	// HasTrace says TraceID and SpanID were stamped by the kernel from the
	// connection's tag ([Set.TagConn]).
	HasTrace bool
	// TraceID and SpanID are the W3C trace context of the request that
	// owned the connection.
	TraceID [16]byte
	SpanID  [8]byte
}

// DNSInfo describes a DNS exchange.
type DNSInfo struct {
	// Name is the first question's name without the trailing dot, lower
	// case as sent ("example.com").
	Name string
	// QType is the question type (1 A, 28 AAAA, ...).
	QType uint16
	// Rcode is the response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN).
	Rcode uint8
	// ID is the transaction id.
	ID uint16
	// Server is the address that answered.
	Server netip.AddrPort
	// FromConnect reports that the query left before the probe watched
	// packets (the first DNS traffic after a quiet period arms them): the
	// duration counts from the connect(2) or sendto(2) on the socket that
	// preceded the query, longer than the exchange by the time between
	// the two (microseconds for Go's and glibc's resolvers).
	FromConnect bool
	// TCP reports that the exchange went over TCP (a resolver's fallback
	// on a truncated answer, or a TCP-only resolver).
	TCP bool
}
