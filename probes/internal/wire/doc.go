// Package wire is the byte format spoken over the slo-sidecar's Unix
// socket. Both sides own it: the client (package probes) and the server
// (package probes/sidecar) import it, and nothing outside probes/ can, so
// the format changes with both ends at once ([Version] in the handshake
// guards against a client and a server from different releases).
//
// Every message is a frame: a 4-byte little-endian length N, then N bytes —
// one type byte and N−1 bytes of payload. Frames larger than the reader's
// limit are refused without reading their payload. A session starts with
// the client's [Hello] (magic, protocol [Version], requested signals) and
// the server's [Welcome] (version, heartbeat period, the cgroup the server
// authorised, per-signal status) or a [Bye] with a reason. Then the server
// streams [TypeEvent] frames whose payload is one probes ring-buffer
// record exactly as the kernel wrote it (128 bytes plus an optional DNS
// payload), [TypeStatus] updates and [TypeHeartbeat] frames; the client
// sends heartbeats back.
//
// Decoders never panic and never allocate more than the frame limit, on any
// input (fuzzed).
package wire
