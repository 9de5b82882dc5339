package probes

import (
	"log/slog"
	"time"

	"golang.org/x/time/rate"
)

// Config selects and tunes the signals of a [Set]. The zero value asks for
// every signal the host supports, about the calling process, with the
// defaults documented on each field.
type Config struct {
	// Signals to enable; empty means every signal this host supports
	// ([DefaultSignals]).
	Signals []Signal
	// Pid is the process whose events are delivered; 0 means the calling
	// process. The kernel filters on its thread-group id.
	Pid int
	// CgroupPath is the cgroup directory the cfs_throttle and psi pollers
	// read (a cgroup v1 cpu hierarchy directory or a cgroup v2 directory);
	// "" means the process's own cgroup (v1 cpu controller when mounted,
	// else v2).
	CgroupPath string
	// DNSPorts are the UDP ports carrying DNS; empty means {53}. At most 16.
	// DNS over TCP, TLS or HTTPS is not observed.
	DNSPorts []uint16
	// OmitDNSNames keeps DNS query names out of events (DNSInfo.Name stays
	// empty): the query type, rcode, server and timing are kept. The name
	// is dropped where the record is decoded — in this process, or in the
	// slo-sidecar when it runs with -omit-dns-names; a client that sets it
	// also drops names the sidecar sends.
	OmitDNSNames bool

	// ClaimOnSend also attributes TCP connections the process opened or
	// accepted before Start, by claiming a socket when the process sends
	// on it. It runs a BPF program on every send(2) on the host; without
	// it, connections are attributed when connected, accepted on a port the
	// process listens on (listen after Start), or tagged with [Set.TagConn].
	ClaimOnSend bool

	// AllProcesses observes every process on the host instead of one (Pid
	// only names the process the pollers watch): the mode of the
	// slo-sidecar, which filters per client. It never uses a sidecar.
	AllProcesses bool
	// KernelPath chooses where kernel signals come from. 0 (auto) loads
	// them in-process, asks the slo-sidecar for those that could not load
	// (when SidecarSocket is set or the socket exists) and otherwise leaves
	// them off: the floor of pollers and go_sched_latency. PathInProcess,
	// PathSidecar or PathFloor force one path. [Set.Path] reports the
	// current one.
	KernelPath Path
	// SidecarSocket is the slo-sidecar's Unix socket; "" means
	// $SLO_SIDECAR_SOCKET, else [DefaultSidecarSocket]; "off" disables the
	// sidecar.
	SidecarSocket string
	// Logger receives the kernel path decision and sidecar connection
	// changes, each cause once; nil discards them.
	Logger *slog.Logger

	// RunqueueThreshold is the run-queue delay at or above which an event is
	// emitted (every delay goes to the in-kernel histogram); 0 means 5ms.
	RunqueueThreshold time.Duration
	// SyscallThreshold is the syscall latency outlier threshold; 0 means 50ms.
	SyscallThreshold time.Duration
	// BlockIOThreshold is the block I/O latency outlier threshold; 0 means 50ms.
	BlockIOThreshold time.Duration
	// ReclaimThreshold is the direct-reclaim outlier threshold; 0 means
	// every reclaim is an event.
	ReclaimThreshold time.Duration

	// PollInterval is the period of the pollers (cpu_steal, cfs_throttle,
	// psi, go_sched_latency); 0 means 1s.
	PollInterval time.Duration
	// RateLimit caps the events per second delivered for a signal
	// (token bucket, burst = the limit rounded up, at least 1). Signals
	// not in the map are unlimited. Discarded events count as RateLimited.
	RateLimit map[Signal]rate.Limit

	// OverheadBudget is the largest acceptable probe overhead in percent of
	// the process's CPU time: BPF program run time (BPF_ENABLE_STATS) plus
	// the ring-buffer reader's busy time. Above it the costliest signal is
	// shed (Degraded); a shed signal returns after the overhead stayed below
	// half the budget for three intervals. 0 disables the guard. The guard
	// holds a BPF_ENABLE_STATS descriptor while the Set runs, which turns
	// on run-time accounting for every BPF program on the host (a few ns
	// per program run).
	OverheadBudget float64
	// OverheadInterval is how often the guard measures; 0 means 5s.
	OverheadInterval time.Duration

	// RemoveMemlock lifts RLIMIT_MEMLOCK before loading (needed on kernels
	// before 5.11 only). It changes a process-wide limit, so it is never
	// done unless asked.
	RemoveMemlock bool
	// RingBufferSize is the ring buffer's size in bytes, a power of two
	// multiple of the page size; 0 means 1 MiB.
	RingBufferSize int
}

func (c Config) withDefaults() Config {
	if len(c.DNSPorts) == 0 {
		c.DNSPorts = []uint16{53}
	}
	if c.RunqueueThreshold <= 0 {
		c.RunqueueThreshold = 5 * time.Millisecond
	}
	if c.SyscallThreshold <= 0 {
		c.SyscallThreshold = 50 * time.Millisecond
	}
	if c.BlockIOThreshold <= 0 {
		c.BlockIOThreshold = 50 * time.Millisecond
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.OverheadInterval <= 0 {
		c.OverheadInterval = 5 * time.Second
	}
	if c.RingBufferSize <= 0 {
		c.RingBufferSize = 1 << 20
	}
	return c
}

// wants reports whether sig was requested.
func (c Config) wants(sig Signal) bool {
	if len(c.Signals) == 0 {
		return true
	}
	for _, s := range c.Signals {
		if s == sig {
			return true
		}
	}
	return false
}
