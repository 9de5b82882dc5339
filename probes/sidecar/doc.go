// Package sidecar is the server side of the privileged slo-sidecar: it
// serves kernel events from a host-wide probes.Set to unprivileged
// processes over a Unix socket, each client receiving only the events of
// its own cgroup.
//
// A client is identified by the kernel, never by its own word: the
// server takes the cgroup v2 id of the process that connected from its
// pidfd (SO_PEERPIDFD and PIDFD_GET_INFO, Linux 6.13), else resolves the
// SO_PEERCRED pid through /proc/<pid>/cgroup and checks with the pidfd
// that the process has not exited meanwhile (Linux 6.5; a pidfd is
// readable once its process exits, and polling it needs no permission
// over the process). Without SO_PEERPIDFD a pid that exits and is reused
// between the client's connect and that /proc read is not detected: the
// one window the kernel leaves open there.
//
// From then on the client receives only events whose cgroup id is its
// own: the id the kernel stamped on the event when it happened — the
// cgroup of the task, or for socket events (retransmissions in softirq
// context included) the cgroup the socket was created in. No pid is
// resolved to a cgroup on the delivery path, so neither a reused pid nor a
// socket that outlives its process leaks one tenant's events to another.
// The client lives in package probes ([probes.Start] falls back to it).
//
// # Tenants
//
// The clients of one cgroup are a tenant. Each tenant has a connection
// limit (handshakes count) and an event budget; what it lost, and why, is
// counted per tenant ([Stats].Tenants) and reported to each client in the
// heartbeats, which the client shows in its signals' status.
//
// # Protocol
//
// Client and server share one internal package for the byte format, so it
// changes with both sides and is versioned in the handshake. Every message
// is a frame: a 4-byte little-endian length N, then one type byte and N−1
// bytes of payload; frames over the reader's limit are refused unread. The
// client opens with a hello (magic "SLOS", protocol version, the signals
// it wants as a bit mask); the server answers with a welcome (version,
// heartbeat period, the client's cgroup id and pid as the server
// authorised them, per-signal status) or a bye with a reason. Then the
// server streams event frames, each one ring-buffer record exactly as the
// kernel wrote it (128 bytes plus a DNS payload), status updates when a
// signal changes state, and heartbeats with its CLOCK_MONOTONIC time and
// the client's drop count; the client sends heartbeats back.
//
// # Limits
//
// The socket file is created with mode 0660 (configurable) and an optional
// group. The server bounds the number of clients, each client's queue (in
// bytes) and the frame size. Events go to each client through its own
// queue: a full queue drops the event for that client (counted); a client
// whose socket accepts nothing for [Config].WriteTimeout, or that sends a
// malformed or oversized frame, is disconnected with a counted reason. One
// client never slows another or the event source.
//
// # Usage
//
//	set, err := probes.Start(ctx, probes.Config{AllProcesses: true})
//	...
//	srv, err := sidecar.NewServer(set, sidecar.Config{Socket: "/run/llmslo/sidecar.sock"})
//	...
//	err = srv.Serve(ctx)
package sidecar
