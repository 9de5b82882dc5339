// Package monoclock reads the kernel's CLOCK_MONOTONIC, the clock of BPF
// timestamps (bpf_ktime_get_ns) and of probes.Event.Mono, and pairs it with
// Go time. It is the one place the module reads that clock: the probes (wall
// time of events, poller timestamps, DNS arming), the sidecar (heartbeats)
// and correlate (its Clock's calibration) all call it.
//
// Go's time.Now carries a reading of the same clock on Linux but does not
// expose its value, hence [Pair]: a Go time and a CLOCK_MONOTONIC reading
// taken at the same instant, from which any later time.Time converts
// exactly. On platforms without CLOCK_MONOTONIC, [Pair] and [WallOffset]
// return [errors.ErrUnsupported] and [Now] returns 0.
//
// Every function is safe for concurrent use and allocates nothing.
package monoclock
