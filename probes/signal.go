package probes

import (
	"errors"
	"fmt"
	"time"
)

// Signal identifies one kind of kernel or runtime evidence.
type Signal uint8

// The signals. The first seven are eBPF programs; CPUSteal, CFSThrottle and
// PSI are pollers of /proc and cgroup files; GoSchedLatency reads
// runtime/metrics and works with zero capabilities.
const (
	// RunqueueDelay is the time a thread of the process waited on a run
	// queue (woken or preempted → on CPU), as the scheduler accounts it:
	// the samples add up to the run_delay of /proc/<pid>/task/*/schedstat.
	// Outlier events carry Duration and the CPU in Op; [Set.Histogram]
	// holds every sample.
	RunqueueDelay Signal = 1
	// TCPRetransmit is one retransmitted TCP segment on a socket the process
	// owns: 4-tuple, Cookie, State (TCP state), Count = 1.
	TCPRetransmit Signal = 2
	// ConnectLatency is a TCP connect (SYN_SENT → ESTABLISHED, Duration) or
	// a failed one (SYN_SENT → CLOSE: Failed, Errno = the socket error, 0
	// when the owner abandoned the connect).
	ConnectLatency Signal = 3
	// DNSLatency is a DNS-over-UDP query → matching response (socket and
	// transaction id): Duration, DNS{Name, QType, Rcode, ID, Server,
	// FromConnect}. The packet programs run only around DNS traffic: the
	// process's UDP connect or send to a DNS port attaches them, 30 s
	// without one detaches them; the first query after a quiet period is
	// timed from that connect (FromConnect), and its answer is seen if it
	// arrives after the programs are attached (0.5–0.8 ms after the
	// connect here; longer on a CPU-starved host). A socket that keeps
	// sending queries without connecting or sending to an address again
	// after a quiet period is not observed.
	DNSLatency Signal = 4
	// MemReclaim is one memory-reclaim stall of a thread: global direct
	// reclaim (Op 0) or reclaim at its memory cgroup's limit (Op 1);
	// Duration, Count = pages reclaimed.
	MemReclaim Signal = 5
	// BlockIO is a block request submitted by the process: Duration,
	// Count = bytes, Op = request op (0 read, 1 write, ...).
	BlockIO Signal = 6
	// SyscallLatency is a thread of the process blocked inside a system
	// call: Duration = time off CPU from the moment the call put the thread
	// to sleep until it runs again (the wait plus the run-queue delay), per
	// blocking episode; Op = syscall number (amd64 numbering). Calls that
	// block by design (futex, epoll_wait, poll, nanosleep, wait4, ...) are
	// not counted; a call that blocks twice gives two samples; time a call
	// spends on CPU is not counted.
	SyscallLatency Signal = 7
	// CPUSteal is hypervisor steal time per poll: Duration = steal time
	// summed over CPUs, Value = steal as % of all CPU time.
	CPUSteal Signal = 8
	// CFSThrottle is CFS bandwidth throttling of the process's cgroup per
	// poll: Count = throttled periods, Duration = throttled time, Value = %
	// of periods throttled.
	CFSThrottle Signal = 9
	// PSI is pressure stall information per poll and resource (Op:
	// PSICPU, PSIMemory, PSIIO): Value = some avg10 (%), Duration = "some"
	// stall time since the previous poll.
	PSI Signal = 10
	// GoSchedLatency is the Go scheduler latency from runtime/metrics
	// (/sched/latencies:seconds) per poll: Count = goroutines scheduled,
	// Duration = their p99 latency, Value = mean latency in seconds.
	GoSchedLatency Signal = 11
)

// numSignals is one past the largest Signal.
const numSignals = 12

// AllSignals lists every signal in numeric order.
func AllSignals() []Signal {
	return []Signal{RunqueueDelay, TCPRetransmit, ConnectLatency, DNSLatency, MemReclaim,
		BlockIO, SyscallLatency, CPUSteal, CFSThrottle, PSI, GoSchedLatency}
}

// DefaultSignals lists the signals an empty [Config].Signals enables:
// every signal (the same list as [AllSignals]). Each BPF signal attaches to
// tracepoints the host fires for other reasons (context switches, packets,
// socket state changes) and does a few loads there; none traces every
// system call.
func DefaultSignals() []Signal {
	return AllSignals()
}

var signalNames = [numSignals]string{
	"", "runqueue_delay", "tcp_retransmit", "connect_latency", "dns_latency", "mem_reclaim",
	"blk_io", "syscall_latency", "cpu_steal", "cfs_throttle", "psi", "go_sched_latency",
}

// String returns the snake_case name of s (e.g. "dns_latency"), or
// "signal(N)" for an unknown value.
func (s Signal) String() string {
	if s > 0 && int(s) < len(signalNames) {
		return signalNames[s]
	}
	return fmt.Sprintf("signal(%d)", uint8(s))
}

// ParseSignal returns the Signal named name (as printed by [Signal.String]).
func ParseSignal(name string) (Signal, error) {
	for i, n := range signalNames {
		if i > 0 && n == name {
			return Signal(i), nil
		}
	}
	return 0, fmt.Errorf("probes: unknown signal %q", name)
}

func (s Signal) valid() bool { return s > 0 && s < numSignals }

// kernel reports whether s needs eBPF.
func (s Signal) kernel() bool { return s >= RunqueueDelay && s <= SyscallLatency }

// PSI resources, in [Event.Op] of a [PSI] event.
const (
	PSICPU    = 0
	PSIMemory = 1
	PSIIO     = 2
)

// State says whether a signal is delivering.
type State uint8

// The states of a signal.
const (
	// Off: the signal delivers nothing; Reason says why.
	Off State = iota
	// Degraded: the signal delivers part of its evidence, or was shed by
	// the overhead guard; Reason says what is missing.
	Degraded
	// On: the signal works fully.
	On
)

// String returns "off", "degraded" or "on".
func (s State) String() string {
	switch s {
	case On:
		return "on"
	case Degraded:
		return "degraded"
	default:
		return "off"
	}
}

// SignalStatus is the state of one signal and, unless On, why.
type SignalStatus struct {
	Signal Signal
	State  State
	Reason string
}

// SignalStats are the self-metrics of one signal. All counters are
// cumulative since [Start].
type SignalStats struct {
	Signal Signal
	State  State
	// Events is the number of events decoded or polled for this signal.
	Events uint64
	// Dropped counts deliveries lost because a subscriber's channel was full
	// (one per subscriber and event).
	Dropped uint64
	// RateLimited counts events discarded by [Config.RateLimit].
	RateLimited uint64
	// Lost counts records the kernel could not put in the full ring buffer.
	Lost uint64
	// Shed counts how often the overhead guard turned this signal off.
	Shed uint64
	// BPFRunTime is the kernel run time of this signal's programs (only
	// when [Config.OverheadBudget] > 0 enabled BPF run-time statistics).
	BPFRunTime time.Duration
}

// Stats are the self-metrics of a [Set].
type Stats struct {
	// Signals has one entry per signal, in numeric order.
	Signals []SignalStats
	// DecodeErrors counts ring-buffer records that failed to decode.
	DecodeErrors uint64
	// ReaderBusy is the time the ring-buffer reader spent decoding and
	// delivering (its share of the overhead guard's budget).
	ReaderBusy time.Duration
	// Overhead is the last overhead measurement, in % of the process's CPU.
	Overhead float64
}

// ErrNotSupported is returned by [Start] on platforms without probe support
// and by [Set.TagConn] when no network probe is loaded.
var ErrNotSupported = errors.New("probes: not supported")

// ErrClosed is returned by methods of a closed [Set].
var ErrClosed = errors.New("probes: set closed")

// LoadError says why the BPF programs of a signal could not be loaded or
// attached.
type LoadError struct {
	// Probe names the program or object (e.g. "sched", "dns").
	Probe string
	// Err is the underlying error (often a *ebpf.VerifierError or an
	// os.ErrPermission).
	Err error
}

// Error implements error.
func (e *LoadError) Error() string { return "probes: load " + e.Probe + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *LoadError) Unwrap() error { return e.Err }
