//go:build linux

package sidecar

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/internal/wire"
)

// TestBoundedWith256Connections opens 300 connections to a server limited
// to 256: half of those admitted complete the handshake and never read,
// the others never say hello. The server's goroutines stay within two per
// admitted connection, its heap within the admitted clients' queue bounds,
// and both return to where they were when the connections close.
func TestBoundedWith256Connections(t *testing.T) {
	const limit, extra, queue = 256, 44, 64 << 10
	src := newFakeSource()
	srv := startServer(t, src, Config{
		MaxClients: limit, MaxClientsPerCgroup: limit, QueueBytes: queue,
		WriteTimeout: time.Minute, HandshakeTimeout: time.Minute,
	})
	runtime.GC()
	g0 := runtime.NumGoroutine()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)

	var conns []net.Conn
	hello := wire.AppendFrame(nil, wire.TypeHello, wire.AppendHello(nil, wire.Hello{Version: wire.Version, Signals: 1 << probes.DNSLatency}))
	for i := range limit + extra {
		c, err := net.Dial("unix", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			_, _ = c.Write(hello)
		}
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	waitFor(t, 10*time.Second, "admissions", func() bool {
		st := srv.Stats()
		return st.Rejected[ReasonTooManyClients] == extra && st.Clients == limit/2
	})
	mine := myCgroup(t)
	for i := range 20000 {
		src.emit(probes.Event{Signal: probes.DNSLatency, Mono: int64(i), CgroupID: mine})
	}
	time.Sleep(500 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	g1 := runtime.NumGoroutine()
	grow := int64(m1.HeapInuse) - int64(m0.HeapInuse)
	st := srv.Stats()
	// Half the admitted connections said hello and are clients; the other
	// half are still in their handshake, which counts against the limit.
	t.Logf("%d connections: %d admitted (%d clients, %d in handshake), %d refused; goroutines %d → %d (+%d); heap in use +%d KiB; dropped %d",
		limit+extra, limit, st.Clients, limit-st.Clients, st.Rejected[ReasonTooManyClients], g0, g1, g1-g0, grow>>10, st.Dropped)
	if g1-g0 > 2*limit {
		t.Errorf("goroutines grew by %d with %d admitted connections, want at most 2 each", g1-g0, limit)
	}
	// Two queues per client (pending and spare) plus a reader's buffer.
	if bound := int64(limit) * (2*queue + 16<<10); grow > bound {
		t.Errorf("heap grew by %d KiB, beyond the bound %d KiB", grow>>10, bound>>10)
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, 10*time.Second, "goroutines back", func() bool {
		return runtime.NumGoroutine() <= g0+2 && srv.Stats().Clients == 0
	})
}
