// Package faults injects real, reversible faults into a running system so the
// rest of llmslo can be tested, and scored, against actual failures: DNS delay
// and error answers, packet loss, delay and partitions in a network namespace, CPU
// contention and CFS throttling, memory pressure, and application-level faults
// in an upstream model provider or retrieval backend.
//
// # Injectors
//
// Every fault is an [Injector]. Inject starts the fault and returns an undo
// function that stops it. Undo is idempotent: the first call removes
// everything the injector created (namespaces, veth links, nftables tables,
// iptables rules, cgroup directories, child processes); later calls do nothing and return nil
// unless a previous removal failed, in which case they retry the steps that
// failed. When Inject itself fails, or panics, everything it had set up so far
// is removed before it returns. A [Plan] groups injectors; its zero value
// injects nothing.
//
// # Privileges
//
// Each injector documents what it needs. Kernel-level injectors ([Netns],
// [PacketLoss], [NetDelay], [Partition], [CPUThrottle], [MemoryPressure]) need root, or
// CAP_NET_ADMIN+CAP_SYS_ADMIN for the network ones; without them they return
// an error that matches both [ErrPrivilege] and [os.ErrPermission] with
// errors.Is, before changing anything. The DNS server needs no privilege when it
// listens on an unprivileged port. [CPUContention] and the HTTP-level faults
// ([ProviderFaults], [SlowRetrieval], [SlowTLSListener]) need none.
//
// # Traffic
//
// Network faults only ever touch traffic inside a network namespace created by
// [NewNetns] (or the link between it and the host), never the host's own
// interfaces: a test binds its server inside the namespace and connects to
// [Netns.NSAddr] from the host.
//
// # Concurrency
//
// Injectors are values configured before Inject; the returned undo is safe to
// call from any goroutine. [DNSServer], [ProviderFaults] and [SlowRetrieval]
// change behaviour at run time through atomic setters.
//
// This package is meant for tests, the incident lab and examples; it is never
// imported by the library's runtime packages.
package faults
