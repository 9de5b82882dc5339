//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/llmslo/slo/internal/bpf"
)

// nopPrograms loads empty programs for the tracepoints the probes hook most
// (sched_switch, net_dev_queue, netif_receive_skb) and returns a switch
// that attaches (true) or detaches (false) them: the "nop" variant of the
// probe benchmarks, the cost of any program there before it does anything.
func nopPrograms(tb testing.TB) func(on bool) {
	var objs bpf.BenchObjects
	if err := bpf.LoadBenchObjects(&objs, nil); err != nil {
		tb.Fatal(err)
	}
	var links []link.Link
	set := func(on bool) {
		for _, l := range links {
			l.Close()
		}
		links = nil
		if !on {
			return
		}
		for _, p := range []*ebpf.Program{objs.SloBenchNopSwitch, objs.SloBenchNopXmit, objs.SloBenchNopRecv} {
			l, err := link.AttachTracing(link.TracingOptions{Program: p})
			if err != nil {
				tb.Fatal(err)
			}
			links = append(links, l)
		}
	}
	tb.Cleanup(func() { set(false); objs.Close() })
	return set
}
