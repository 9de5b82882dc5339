package sidecar

// Capabilities returns the Linux capabilities the sidecar process needs, in
// the spelling of a Kubernetes securityContext (capabilities.add: the name
// without its CAP_ prefix). It is the one list the sidecar's manifests under
// deploy/ are checked against: they add exactly these and drop ALL else,
// without privileged mode.
//
//   - BPF: load BPF programs and create maps (bpf(2) since Linux 5.8).
//   - PERFMON: attach tracing programs (tp_btf) and read kernel memory
//     through them; with BPF, what loading a tracing program needs.
//   - SYS_RESOURCE: raise RLIMIT_MEMLOCK for map memory on kernels before
//     5.11 (the -memlock flag); later kernels account maps to the cgroup.
//   - NET_ADMIN: attach the DNS programs to the cgroup (cgroup/sock_create,
//     cgroup_skb), which give UDP sockets their cookie and see the packets.
//
// Each call returns a new slice.
func Capabilities() []string {
	return []string{"BPF", "PERFMON", "SYS_RESOURCE", "NET_ADMIN"}
}

// RuntimeCapabilities returns the capabilities of [Capabilities] the
// sidecar still needs once its probes are loaded and its socket is served;
// slo-sidecar drops every other one then. Each call returns a new slice.
//
//   - BPF and PERFMON: attach tracing programs later — the DNS packet
//     programs attach when a DNS query is coming and detach when DNS is
//     idle, and the overhead guard detaches and re-attaches a signal.
//   - NET_ADMIN: re-attach the DNS cgroup programs after the guard shed
//     the signal.
//
// SYS_RESOURCE is needed only to raise RLIMIT_MEMLOCK before loading.
func RuntimeCapabilities() []string {
	return []string{"BPF", "PERFMON", "NET_ADMIN"}
}
