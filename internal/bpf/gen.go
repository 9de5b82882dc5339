// Package bpf holds the eBPF C sources of the module's kernel probes and the
// Go bindings bpf2go generates from them. It is internal: only probes/ (and
// probes/sidecar) load these objects.
//
// Each probe is one *.bpf.c file; event.h is the boundary with user space
// (the ring-buffer record layout and the maps every object shares). The
// generated *_x86_bpfel.go/.o (amd64) and *_arm64_bpfel.go/.o (arm64) files
// are committed, so building needs no C toolchain; `make generate` (clang-19,
// libbpf-dev) reproduces them. Both targets compile from the same sources and
// headers: headers/vmlinux.h declares, architecture-neutral, only the kernel
// members the programs read (CO-RE relocates them to the running kernel's
// layout), and arch.h holds the one thing that differs (where the entry
// registers keep the system call). On other GOARCHes this package is empty and
// probes/ reports the BPF signals as off.
package bpf

//go:generate go tool bpf2go -tags linux -target amd64,arm64 -type event -type hist -type trace_tag Sched sched.bpf.c -- -I./headers -I.
//go:generate go tool bpf2go -tags linux -target amd64,arm64 -type event -type trace_tag Net net.bpf.c -- -I./headers -I.
//go:generate go tool bpf2go -tags linux -target amd64,arm64 -type event -type dns_event -type trace_tag Dns dns.bpf.c -- -I./headers -I.
//go:generate go tool bpf2go -tags linux -target amd64,arm64 -type event -type hist Mm mm.bpf.c -- -I./headers -I.
//go:generate go tool bpf2go -tags linux -target amd64,arm64 -type event -type hist Blk blk.bpf.c -- -I./headers -I.
//go:generate go tool bpf2go -tags linux -target amd64,arm64 Bench bench.bpf.c -- -I./headers -I.
//go:generate go tool bpf2go -tags linux -target amd64,arm64 Self self.bpf.c -- -I./headers -I.
