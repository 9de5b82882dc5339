package correlate_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/llmslo/slo/correlate"
	"github.com/llmslo/slo/probes"
	"go.opentelemetry.io/otel/trace"
)

// A request owns a connection; two retransmissions on it are joined exactly,
// and a run-queue stall during the request is credited to it.
func ExampleJoiner() {
	j := correlate.New(correlate.Config{})
	const ms = int64(time.Millisecond)
	t0 := 1000 * int64(time.Second) // kernel CLOCK_MONOTONIC ns

	req := j.Start(t0, trace.SpanContext{})
	conn := correlate.Conn{Cookie: 42,
		Local:  netip.MustParseAddrPort("10.0.0.1:40000"),
		Remote: netip.MustParseAddrPort("10.0.0.2:443")}
	j.Acquire(req, conn, t0+5*ms)
	for _, ev := range []probes.Event{
		{Signal: probes.TCPRetransmit, Mono: t0 + 20*ms, Cookie: 42, Count: 1},
		{Signal: probes.TCPRetransmit, Mono: t0 + 90*ms, Cookie: 42, Count: 1},
		{Signal: probes.RunqueueDelay, Mono: t0 + 50*ms, Duration: 8 * time.Millisecond},
	} {
		j.Add(&ev)
	}
	j.Release(conn, t0+100*ms)
	s := j.End(req, t0+120*ms)
	fmt.Println(s.Retransmits, s.Runqueue, s.Tier, s.Confidence)
	for _, kv := range s.AppendAttributes(nil) {
		fmt.Println(kv.Key, kv.Value.Emit())
	}
	// Output:
	// 2 8ms trace_id_exact 1
	// llm.ebpf.tcp.retransmits 2
	// llm.ebpf.sched.runqueue_delay_ms 8
	// llm.ebpf.correlation_confidence 1
	// llm.ebpf.correlation_tier trace_id_exact
}
