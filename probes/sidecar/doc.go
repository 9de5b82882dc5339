// Package sidecar is the server side of the privileged slo-sidecar: it
// serves kernel events from a host-wide probes.Set to unprivileged
// processes over a Unix socket, each client receiving only the events of
// its own cgroup.
//
// A client is identified by the kernel, never by its own word: the
// server reads the peer's credentials (SO_PEERPIDFD, else SO_PEERCRED),
// resolves the pid to its cgroup v2 id through /proc/<pid>/cgroup, checks
// the process is still the same one (the pidfd is alive), and from then on
// delivers only events whose cgroup id — or, for events the kernel saw in
// softirq context, the cgroup of the owning pid — is the client's. The
// client lives in package probes ([probes.Start] falls back to it).
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
