//go:build linux

package sidecar

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/monoclock"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/internal/wire"
)

// tenantServer serves src with connections authenticated as the cgroups
// next yields, in connection order (the test's own process stands for
// every tenant).
func tenantServer(t *testing.T, src Source, cfg Config, next <-chan uint64) *Server {
	t.Helper()
	cfg.Socket = filepath.Join(t.TempDir(), "sidecar.sock")
	srv, err := NewServer(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.authenticate = func(int) (peer, error) { return peer{pid: 1, cgroup: <-next, how: "test"}, nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitServing(t, srv)
	return srv
}

// tenantConn connects and says hello for sigs; it returns the connection
// and the first frame's type (Welcome or Bye).
func tenantConn(t *testing.T, srv *Server, sigs uint32) (net.Conn, *wire.Reader, wire.Type) {
	t.Helper()
	c, err := net.Dial("unix", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A refused connection may be closed before the hello arrives.
	_, _ = c.Write(wire.AppendFrame(nil, wire.TypeHello, wire.AppendHello(nil, wire.Hello{Version: wire.Version, Signals: sigs})))
	rd := wire.NewReader(c, wire.DefaultMaxFrame)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, rd, f.Type
}

// delays reads event frames until the connection closes and returns, per
// event, how long after its emission (the record's timestamp) it arrived.
func delays(rd *wire.Reader) []time.Duration {
	var out []time.Duration
	for {
		f, err := rd.Next()
		if err != nil {
			return out
		}
		if f.Type == wire.TypeEvent && len(f.Payload) >= 8 {
			out = append(out, time.Duration(monoclock.Now()-int64(binary.LittleEndian.Uint64(f.Payload))))
		}
	}
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// TestTenantFairness: tenant A opens connections up to its limit (one
// more is refused) and floods events at five times its budget; tenant B
// still connects and receives every one of its events. The delivery delay
// (emission to arrival, both on CLOCK_MONOTONIC) of both tenants is
// logged.
func TestTenantFairness(t *testing.T) {
	const cgA, cgB = 1001, 1002
	next := make(chan uint64, 16)
	src := newFakeSource()
	cfg := Config{MaxClientsPerCgroup: 4, TenantEventRate: 10000, SourceBuffer: 1 << 16}
	srv := tenantServer(t, src, cfg, next)
	sig := uint32(1) << probes.DNSLatency

	var wg sync.WaitGroup
	var aDelays [][]time.Duration
	var mu sync.Mutex
	for i := range cfg.MaxClientsPerCgroup {
		next <- cgA
		_, rd, typ := tenantConn(t, srv, sig)
		if typ != wire.TypeWelcome {
			t.Fatalf("A's connection %d: %v, want welcome", i, typ)
		}
		wg.Go(func() { d := delays(rd); mu.Lock(); aDelays = append(aDelays, d); mu.Unlock() })
	}
	next <- cgA
	if _, _, typ := tenantConn(t, srv, sig); typ != wire.TypeBye {
		t.Errorf("A's connection over the limit: %v, want bye", typ)
	}
	next <- cgB
	bConn, bRd, typ := tenantConn(t, srv, sig)
	if typ != wire.TypeWelcome {
		t.Fatalf("B: %v, want welcome", typ)
	}
	var bDelays []time.Duration
	wg.Go(func() { bDelays = delays(bRd) })

	// 2 s: A at 50 000 events/s (5× its budget), B at 500/s, in 10 ms steps.
	var sentA, sentB, lostB int
	for range 200 {
		for range 500 {
			if src.emit(probes.Event{Signal: probes.DNSLatency, Mono: monoclock.Now(), CgroupID: cgA}) {
				sentA++
			}
		}
		for range 5 {
			if src.emit(probes.Event{Signal: probes.DNSLatency, Mono: monoclock.Now(), CgroupID: cgB}) {
				sentB++
			} else {
				lostB++
			}
		}
		time.Sleep(time.Until(time.Now().Truncate(10 * time.Millisecond).Add(10 * time.Millisecond)))
	}
	waitFor(t, 5*time.Second, "every event dispatched", func() bool { return srv.Stats().Events == uint64(sentA+sentB) })
	time.Sleep(200 * time.Millisecond) // the writers flush
	st := srv.Stats()
	srv.Close()
	bConn.Close()
	wg.Wait()
	var all []time.Duration
	for _, d := range aDelays {
		all = append(all, d...)
	}
	t.Logf("A: %d connections + 1 refused, %d events sent, %d received, delay p50 %v p99 %v",
		len(aDelays), sentA, len(all), quantile(all, 0.5), quantile(all, 0.99))
	t.Logf("B: %d events sent (%d lost at the source), %d received, delay p50 %v p99 %v",
		sentB, lostB, len(bDelays), quantile(bDelays, 0.5), quantile(bDelays, 0.99))
	t.Logf("tenants %+v", st.Tenants)
	if len(bDelays) != sentB || lostB != 0 {
		t.Errorf("B received %d of its %d events (%d lost at the source)", len(bDelays), sentB, lostB)
	}
	var ta, tb TenantStats
	for _, x := range st.Tenants {
		switch x.Cgroup {
		case cgA:
			ta = x
		case cgB:
			tb = x
		}
	}
	if ta.OverBudget == 0 || ta.Rejected != 1 {
		t.Errorf("A's counters %+v: want events over budget and one refused connection", ta)
	}
	if tb.OverBudget != 0 || tb.Dropped != 0 || tb.Rejected != 0 {
		t.Errorf("B's counters %+v: want nothing lost", tb)
	}
}

// TestClientLearnsOfDrops: events over the tenant's budget are not
// delivered, and the client's status says how many the sidecar dropped.
func TestClientLearnsOfDrops(t *testing.T) {
	src := newFakeSource()
	srv := startServer(t, src, Config{TenantEventRate: 1, TenantEventBurst: 10, Heartbeat: 20 * time.Millisecond})
	set := startClient(t, srv.Addr(), probes.DNSLatency)
	waitFor(t, 3*time.Second, "sidecar path", func() bool { return set.Path() == probes.PathSidecar && srv.Stats().Clients == 1 })
	mine := myCgroup(t)
	for i := range 100 {
		src.emit(probes.Event{Signal: probes.DNSLatency, Mono: int64(i + 1), CgroupID: mine})
	}
	waitFor(t, 3*time.Second, "drops reported", func() bool {
		return strings.Contains(set.StatusOf(probes.DNSLatency).Reason, "sidecar dropped")
	})
	st := set.StatusOf(probes.DNSLatency)
	tenants := srv.Stats().Tenants
	t.Logf("status %+v; tenants %+v", st, tenants)
	if len(tenants) != 1 || tenants[0].OverBudget < 89 || tenants[0].Delivered > 11 {
		t.Errorf("tenants %+v: want about 90 over budget, at most 11 delivered", tenants)
	}
	if want := fmt.Sprintf("sidecar dropped %d of", tenants[0].OverBudget); st.State != probes.On || !strings.Contains(st.Reason, want) {
		t.Errorf("status %+v, want on and %q", st, want)
	}
}

// TestRejectionLogRate: one log line per reason a second, the next one
// counting those suppressed.
func TestRejectionLogRate(t *testing.T) {
	s := &Server{rejectLogs: map[string]rejectLog{}}
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		reason     string
		at         time.Duration
		log        bool
		suppressed uint64
	}{
		{ReasonUnauthorized, 0, true, 0},
		{ReasonUnauthorized, 500 * time.Millisecond, false, 0},
		{ReasonTenantLimit, 600 * time.Millisecond, true, 0},
		{ReasonUnauthorized, 900 * time.Millisecond, false, 0},
		{ReasonUnauthorized, 1100 * time.Millisecond, true, 2},
		{ReasonUnauthorized, 2200 * time.Millisecond, true, 0},
	} {
		n, ok := s.logRejection(tc.reason, t0.Add(tc.at))
		if ok != tc.log || n != tc.suppressed {
			t.Errorf("%s at %v: log %v suppressed %d, want %v %d", tc.reason, tc.at, ok, n, tc.log, tc.suppressed)
		}
	}
}
