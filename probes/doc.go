// Package probes delivers kernel and runtime evidence about the running
// process — run-queue delay, TCP retransmissions, connect latency and
// failures, DNS latency, direct reclaim, block I/O and syscall latency from
// eBPF programs loaded in-process, CPU steal, CFS throttling and PSI from
// pollers, and Go scheduler latency from runtime/metrics — as typed
// [Event] values.
//
// # Usage
//
//	set, err := probes.Start(ctx, probes.Config{Signals: []probes.Signal{probes.DNSLatency, probes.TCPRetransmit}})
//	if err != nil { ... } // nothing at all could start
//	defer set.Close()
//	events, cancel := set.Subscribe(1024)
//	defer cancel()
//	for ev := range events { ... }
//
// # Kernel support
//
// The BPF programs (internal/bpf) are CO-RE tp_btf tracing programs plus
// cgroup programs that run on socket creation, connect and address-carrying
// sends, built for amd64. No program runs per packet while the process does
// no DNS: a UDP connect or send to a DNS port arms the DNS packet programs
// (the query at net_dev_queue, the answer at sk_data_ready), which are
// detached again after 30 s without DNS traffic. They need BTF (/sys/kernel/btf/vmlinux),
// ring buffers (Linux 5.8+) and CAP_BPF + CAP_PERFMON (CAP_NET_ADMIN for
// the DNS object's cgroup programs), or root. kprobes and
// fentry are not used. Every signal reports [On], [Degraded] or [Off] with a
// reason in [Set.Status]; without privileges the pollers and
// [GoSchedLatency] keep working. RLIMIT_MEMLOCK is raised only when
// [Config].RemoveMemlock asks for it.
//
// The scheduler signals (run-queue delay, syscall latency) are one
// sched_switch program, serving each signal that is on, that reads the
// scheduler's own bookkeeping (sched_info, the task's entry registers) of
// the task switched in: no wakeup or system-call tracepoints, no
// per-thread maps. The BPF objects are built for amd64 and arm64.
//
// An empty [Config].Signals means every signal ([DefaultSignals]). The
// high-rate signals (run-queue delay, block I/O, syscalls, reclaim) are
// aggregated in the kernel into log2 histograms ([Set.Histogram]); only
// outliers above the configured thresholds become events. DNS is observed
// over UDP only.
//
// Events are filtered in the kernel to one process (its thread-group id).
// Network events that fire in softirq context are attributed through the
// socket's owner, registered when the process connected it, accepted it on
// a port it listens on, tagged it with [Set.TagConn], or (with
// [Config].ClaimOnSend) sent on it.
//
// # Concurrency
//
// A [Set]'s methods are safe for concurrent use. Each subscriber gets a
// bounded channel; a slow subscriber loses events (counted in
// [Set.Stats]) and never slows the readers. Per-signal rate limits and the
// overhead guard ([Config].OverheadBudget) bound the cost.
//
// # Errors
//
// [Start] fails on an invalid [Config] or when no requested signal can
// work; on non-Linux platforms it returns [ErrNotSupported]. Load failures
// of single signals are [*LoadError] values in the status reasons, never
// fatal. After [Set.Close] methods return [ErrClosed].
package probes
