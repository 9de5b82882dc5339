package correlate

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/llmslo/slo/probes"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkJoin joins a mix of events (60% retransmits on owned
// connections, 20% run-queue stalls, 10% DNS answers, 10% retransmits on
// unknown sockets) against 10k live requests, each owning a connection.
func BenchmarkJoin(b *testing.B) {
	const live = 10_000
	j := New(Config{})
	for i := range live {
		id := j.Start(t0, trace.SpanContext{})
		l := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 40000)
		r := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i % 16), 9}), 443)
		j.Acquire(id, Conn{Cookie: uint64(i + 1), Local: l, Remote: r}, t0)
		if i%10 == 0 {
			j.Lookup(id, "api.test", t0, t0+int64(time.Millisecond))
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	evs := make([]probes.Event, 4096)
	for i := range evs {
		k := rng.IntN(10)
		c := rng.IntN(live)
		ev := probes.Event{Mono: t0 + int64(time.Second), Count: 1,
			Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(c >> 8), byte(c)}), 40000),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(c % 16), 9}), 443)}
		switch {
		case k < 6:
			ev.Signal, ev.Cookie = probes.TCPRetransmit, uint64(c+1)
		case k < 8:
			ev.Signal, ev.Duration = probes.RunqueueDelay, 6*time.Millisecond
		case k < 9:
			ev.Signal, ev.Duration, ev.DNS.Name = probes.DNSLatency, time.Millisecond, "other.test"
		default:
			ev.Signal, ev.Cookie = probes.TCPRetransmit, uint64(live+c+1)
		}
		evs[i] = ev
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		j.Add(&evs[i&4095])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkJoinBatch is BenchmarkJoin through AddBatch (256 per lock).
func BenchmarkJoinBatch(b *testing.B) {
	const live = 10_000
	j := New(Config{})
	for i := range live {
		id := j.Start(t0, trace.SpanContext{})
		j.Acquire(id, Conn{Cookie: uint64(i + 1), Local: local1, Remote: remoteA}, t0)
	}
	evs := make([]probes.Event, 256)
	for i := range evs {
		evs[i] = probes.Event{Signal: probes.TCPRetransmit, Mono: t0 + int64(time.Second), Cookie: uint64(i*37%live + 1), Count: 1}
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		j.AddBatch(evs)
		n += len(evs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRequestLifecycle is the per-request cost on the request path:
// Start, one connection acquired and released, End (with the ledger share
// of a 50 ms request), against 10k other live requests.
func BenchmarkRequestLifecycle(b *testing.B) {
	j := New(Config{})
	for i := range 10_000 {
		j.Start(t0, trace.SpanContext{})
		_ = i
	}
	now := t0
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		now += int64(50 * time.Microsecond)
		id := j.Start(now, trace.SpanContext{})
		c := Conn{Cookie: 1<<40 + i, Local: local1, Remote: remoteA}
		j.Acquire(id, c, now)
		j.Release(c, now+int64(40*time.Millisecond))
		j.End(id, now+int64(50*time.Millisecond))
	}
}
