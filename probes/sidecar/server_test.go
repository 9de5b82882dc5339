//go:build linux

package sidecar

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/internal/wire"
)

// fakeSource is a Source whose events the test emits.
type fakeSource struct {
	mu     sync.Mutex
	subs   []chan probes.Event
	status []probes.SignalStatus
}

func newFakeSource() *fakeSource {
	f := &fakeSource{}
	for _, s := range probes.AllSignals() {
		st := probes.Off
		if s <= probes.SyscallLatency {
			st = probes.On
		}
		f.status = append(f.status, probes.SignalStatus{Signal: s, State: st})
	}
	return f
}

func (f *fakeSource) Subscribe(n int) (<-chan probes.Event, func()) {
	ch := make(chan probes.Event, n)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			for i, c := range f.subs {
				if c == ch {
					f.subs = append(f.subs[:i], f.subs[i+1:]...)
				}
			}
			close(ch)
		})
	}
}

func (f *fakeSource) Status() []probes.SignalStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]probes.SignalStatus(nil), f.status...)
}

// emit delivers ev to every subscriber; it reports false if one was full.
func (f *fakeSource) emit(ev probes.Event) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	ok := true
	for _, c := range f.subs {
		select {
		case c <- ev:
		default:
			ok = false
		}
	}
	return ok
}

// startServer serves src on a fresh socket until the test ends.
func startServer(t testing.TB, src Source, cfg Config) *Server {
	t.Helper()
	if cfg.Socket == "" {
		cfg.Socket = filepath.Join(t.TempDir(), "sidecar.sock")
	}
	srv, err := NewServer(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	waitServing(t, srv)
	if err := srv.Health(); err != nil {
		t.Fatalf("serving, yet Health: %v", err)
	}
	return srv
}

// waitServing waits until srv accepts clients.
func waitServing(t testing.TB, srv *Server) {
	t.Helper()
	select {
	case <-srv.Serving():
	case <-time.After(10 * time.Second):
		t.Fatal("server not serving after 10s")
	}
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func myCgroup(t testing.TB) uint64 {
	t.Helper()
	cg, err := CgroupID("", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return cg
}

// startClient starts a probes.Set on the sidecar path only.
func startClient(t testing.TB, socket string, sigs ...probes.Signal) *probes.Set {
	t.Helper()
	set, err := probes.Start(context.Background(), probes.Config{
		Signals: sigs, KernelPath: probes.PathSidecar, SidecarSocket: socket,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	return set
}

// rawHello connects and completes a handshake by hand.
func rawHello(t testing.TB, socket string, mask uint32) (net.Conn, *wire.Reader, wire.Welcome) {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(wire.AppendFrame(nil, wire.TypeHello, wire.AppendHello(nil, wire.Hello{Version: wire.Version, Signals: mask}))); err != nil {
		t.Fatal(err)
	}
	rd := wire.NewReader(c, 0)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := rd.Next()
	if err != nil || f.Type != wire.TypeWelcome {
		t.Fatalf("welcome: %v type %d", err, f.Type)
	}
	w, err := wire.DecodeWelcome(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return c, rd, w
}

func TestSocketMode(t *testing.T) {
	src := newFakeSource()
	srv := startServer(t, src, Config{Group: "0"})
	fi, err := os.Stat(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket mode %v, want socket 0660", fi.Mode())
	}
	if _, err := NewServer(src, Config{Socket: srv.Addr()}); err == nil {
		t.Error("a second server on a live socket was allowed")
	}
}

func TestOwnCgroupOnly(t *testing.T) {
	src := newFakeSource()
	srv := startServer(t, src, Config{})
	set := startClient(t, srv.Addr(), probes.DNSLatency, probes.TCPRetransmit)
	if set.Path() != probes.PathSidecar {
		t.Fatalf("path %v, want sidecar; status %+v", set.Path(), set.Status())
	}
	if st := set.StatusOf(probes.DNSLatency); st.State != probes.On {
		t.Errorf("dns status %+v", st)
	}
	events, cancel := set.Subscribe(64)
	defer cancel()
	waitFor(t, time.Second, "client registered", func() bool { return srv.Stats().Clients == 1 })

	mine := myCgroup(t)
	pid := uint32(os.Getpid())
	want := []probes.Event{
		{Signal: probes.DNSLatency, Mono: 100, PID: pid, CgroupID: mine, Duration: 150 * time.Millisecond, Op: 9, Count: 1,
			Local:  netip.MustParseAddrPort("127.0.0.1:4000"),
			Remote: netip.MustParseAddrPort("127.0.0.1:53"),
			DNS:    probes.DNSInfo{Name: "mine.test", QType: 1, ID: 9, Server: netip.MustParseAddrPort("127.0.0.1:53")}},
		{Signal: probes.TCPRetransmit, Mono: 200, PID: pid, CgroupID: mine, Count: 1, Cookie: 5, State: 1,
			Local: netip.MustParseAddrPort("10.213.40.1:40000"), Remote: netip.MustParseAddrPort("10.213.40.2:9000")},
	}
	src.emit(probes.Event{Signal: probes.DNSLatency, Mono: 50, PID: 1, CgroupID: mine + 1000, DNS: probes.DNSInfo{Name: "other.test"}})
	src.emit(probes.Event{Signal: probes.RunqueueDelay, Mono: 60, PID: pid, CgroupID: mine}) // not requested
	src.emit(probes.Event{Signal: probes.TCPRetransmit, Mono: 70, PID: 0})                   // unattributable
	// This process's pid, no cgroup stamp: never resolved through the pid.
	src.emit(probes.Event{Signal: probes.TCPRetransmit, Mono: 80, PID: pid, Cookie: 6})
	for _, ev := range want {
		src.emit(ev)
	}
	var got []probes.Event
	timeout := time.After(5 * time.Second)
	for len(got) < len(want) {
		select {
		case ev := <-events:
			got = append(got, ev)
		case <-timeout:
			t.Fatalf("got %d events, want %d: %+v", len(got), len(want), got)
		}
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(probes.Event{}, "Time"), cmpopts.EquateComparable(netip.AddrPort{})); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	select {
	case ev := <-events:
		t.Errorf("unexpected event %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
	st := srv.Stats()
	if st.Unattributed != 2 || st.Delivered != 2 {
		t.Errorf("stats %+v, want 2 unattributed, 2 delivered", st)
	}
}

func TestBadClients(t *testing.T) {
	src := newFakeSource()
	srv := startServer(t, src, Config{HandshakeTimeout: 200 * time.Millisecond, MaxFrame: 1024})
	tests := []struct {
		name   string
		send   []byte
		reason string
		bye    wire.ByeReason
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n"), ReasonOversized, wire.ByeProtocol},
		{"oversized", []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3}, ReasonOversized, wire.ByeProtocol},
		{"empty frame", []byte{0, 0, 0, 0}, ReasonProtocol, wire.ByeProtocol},
		{"bad magic", wire.AppendFrame(nil, wire.TypeHello, []byte("XXXX\x01\x00\x00\x00\x06\x00\x00\x00")), ReasonProtocol, wire.ByeProtocol},
		{"wrong first frame", wire.AppendFrame(nil, wire.TypeHeartbeat, make([]byte, 16)), ReasonProtocol, wire.ByeProtocol},
		{"version", wire.AppendFrame(nil, wire.TypeHello, wire.AppendHello(nil, wire.Hello{Version: 99, Signals: 4})), ReasonVersion, wire.ByeVersion},
		{"truncated", []byte{20, 0, 0, 0, 1, 'S'}, ReasonTimeout, wire.ByeTimeout},
		{"silent", nil, ReasonTimeout, wire.ByeTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Stats().Rejected[tt.reason]
			c, err := net.Dial("unix", srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tt.send != nil {
				_, _ = c.Write(tt.send)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			f, err := wire.NewReader(c, 0).Next()
			if err != nil || f.Type != wire.TypeBye {
				t.Fatalf("want a bye, got type %d err %v", f.Type, err)
			}
			b, err := wire.DecodeBye(f.Payload)
			if err != nil || b.Reason != tt.bye {
				t.Errorf("bye %+v %v, want reason %v", b, err, tt.bye)
			}
			if _, err := wire.NewReader(c, 0).Next(); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				var ne *net.OpError
				if !errors.As(err, &ne) {
					t.Errorf("after bye: %v, want EOF", err)
				}
			}
			if got := srv.Stats().Rejected[tt.reason]; got != before+1 {
				t.Errorf("rejected[%s] = %d, want %d", tt.reason, got, before+1)
			}
		})
	}
	// A client sending junk after the handshake is disconnected.
	c, _, _ := rawHello(t, srv.Addr(), 1<<probes.DNSLatency)
	_, _ = c.Write(wire.AppendFrame(nil, wire.TypeEvent, make([]byte, 128)))
	waitFor(t, 2*time.Second, "protocol disconnect", func() bool { return srv.Stats().Disconnected[ReasonProtocol] == 1 })
	c2, _, _ := rawHello(t, srv.Addr(), 1<<probes.DNSLatency)
	_, _ = c2.Write([]byte{0xff, 0xff, 0xff, 0xff})
	waitFor(t, 2*time.Second, "oversized disconnect", func() bool { return srv.Stats().Disconnected[ReasonOversized] == 1 })
	// The server still serves.
	set := startClient(t, srv.Addr(), probes.DNSLatency)
	if set.Path() != probes.PathSidecar {
		t.Errorf("path after bad clients: %v", set.Path())
	}
}

func TestSlowClientDropped(t *testing.T) {
	src := newFakeSource()
	srv := startServer(t, src, Config{WriteTimeout: 300 * time.Millisecond, QueueBytes: 64 << 10})
	mine := myCgroup(t)
	// The slow client handshakes and never reads.
	rawHello(t, srv.Addr(), 1<<probes.BlockIO)
	// A good client of the same cgroup keeps up.
	set := startClient(t, srv.Addr(), probes.BlockIO)
	events, cancel := set.Subscribe(1 << 16)
	defer cancel()
	waitFor(t, time.Second, "two clients", func() bool { return srv.Stats().Clients == 2 })

	var received int
	const n = 20000
	sent := 0
	deadline := time.Now().Add(20 * time.Second)
	for sent < n && time.Now().Before(deadline) {
		// Pace the producer to what the good client consumes.
		for sent-received < 256 && sent < n {
			if src.emit(probes.Event{Signal: probes.BlockIO, Mono: int64(sent), PID: uint32(os.Getpid()), CgroupID: mine, Count: 4096}) {
				sent++
			}
		}
		select {
		case <-events:
			received++
		case <-time.After(time.Second):
		}
	}
	for received < sent && time.Now().Before(deadline) {
		select {
		case <-events:
			received++
		case <-time.After(time.Second):
		}
	}
	waitFor(t, 3*time.Second, "slow client dropped", func() bool { return srv.Stats().Disconnected[ReasonSlow] == 1 })
	st := srv.Stats()
	t.Logf("sent %d, good client received %d; stats %+v", sent, received, st)
	if st.Disconnected[ReasonSlow] != 1 {
		t.Errorf("slow disconnects %d, want 1", st.Disconnected[ReasonSlow])
	}
	if st.Dropped == 0 {
		t.Error("no events dropped for the slow client")
	}
	if received != sent {
		t.Errorf("good client received %d of %d events", received, sent)
	}
}

func TestManyClientsAtOnce(t *testing.T) {
	src := newFakeSource()
	// A long write timeout keeps the 64 non-reading clients connected with
	// full queues while the heap is measured.
	srv := startServer(t, src, Config{MaxClients: 64, MaxClientsPerCgroup: 100, WriteTimeout: time.Minute})
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const n = 100
	var wg sync.WaitGroup
	results := make(chan wire.Type, n)
	conns := make(chan net.Conn, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("unix", srv.Addr())
			if err != nil {
				results <- 0
				return
			}
			conns <- c
			_, _ = c.Write(wire.AppendFrame(nil, wire.TypeHello, wire.AppendHello(nil, wire.Hello{Version: wire.Version, Signals: 1 << probes.DNSLatency})))
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			f, err := wire.NewReader(c, 0).Next()
			if err != nil {
				results <- 0
				return
			}
			results <- f.Type
		}()
	}
	wg.Wait()
	close(results)
	counts := map[wire.Type]int{}
	for r := range results {
		counts[r]++
	}
	if counts[wire.TypeWelcome] != 64 || counts[wire.TypeBye] != 36 {
		t.Errorf("welcome %d, bye %d, failed %d; want 64 and 36", counts[wire.TypeWelcome], counts[wire.TypeBye], counts[0])
	}
	// Events for all of them, through bounded queues.
	mine := myCgroup(t)
	var emitted uint64
	for i := range 50000 {
		if src.emit(probes.Event{Signal: probes.DNSLatency, Mono: int64(i), PID: uint32(os.Getpid()), CgroupID: mine}) {
			emitted++
		}
	}
	waitFor(t, 10*time.Second, "events dispatched", func() bool { return srv.Stats().Events == emitted })
	runtime.GC()
	runtime.ReadMemStats(&m1)
	grow := int64(m1.HeapInuse) - int64(m0.HeapInuse)
	st := srv.Stats()
	t.Logf("heap in use grew by %d KiB with 64 clients; stats %+v", grow>>10, st)
	if st.Clients != 64 || st.Dropped == 0 {
		t.Errorf("want 64 connected clients with full queues, got %d clients, %d drops", st.Clients, st.Dropped)
	}
	// 64 clients × (2 queues of 256 KiB + reader buffers) is the bound.
	if grow > 64*(2*256<<10+16<<10) {
		t.Errorf("heap grew by %d bytes, beyond the configured bound", grow)
	}
	if got := srv.Stats().Rejected[ReasonTooManyClients]; got != 36 {
		t.Errorf("rejected too_many_clients %d, want 36", got)
	}
	close(conns)
	for c := range conns {
		c.Close()
	}
	waitFor(t, 5*time.Second, "all clients gone", func() bool { return srv.Stats().Clients == 0 })
	set := startClient(t, srv.Addr(), probes.DNSLatency)
	if set.Path() != probes.PathSidecar {
		t.Errorf("server unusable after the storm: %v", set.Path())
	}
}

func TestServerRestart(t *testing.T) {
	src := newFakeSource()
	socket := filepath.Join(t.TempDir(), "s.sock")
	srv, err := NewServer(src, Config{Socket: socket})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	set := startClient(t, socket, probes.DNSLatency)
	if set.Path() != probes.PathSidecar {
		t.Fatalf("path %v", set.Path())
	}
	cancel()
	<-done
	t0 := time.Now()
	waitFor(t, time.Second, "floor after the sidecar stopped", func() bool { return set.Path() == probes.PathFloor })
	t.Logf("floor after %v; status %+v", time.Since(t0), set.StatusOf(probes.DNSLatency))
	if st := set.StatusOf(probes.DNSLatency); st.State != probes.Off {
		t.Errorf("dns status while the sidecar is gone: %+v", st)
	}
	srv2 := startServer(t, src, Config{Socket: socket})
	waitFor(t, 3*time.Second, "reconnect", func() bool { return set.Path() == probes.PathSidecar })
	t.Logf("back on the sidecar %v after the restart", time.Since(t0))
	events, unsub := set.Subscribe(8)
	defer unsub()
	waitFor(t, time.Second, "client registered", func() bool { return srv2.Stats().Clients == 1 })
	src.emit(probes.Event{Signal: probes.DNSLatency, Mono: 1, PID: uint32(os.Getpid()), CgroupID: myCgroup(t)})
	select {
	case <-events:
	case <-time.After(3 * time.Second):
		t.Error("no event after the reconnect")
	}
}

func TestStatusUpdates(t *testing.T) {
	src := newFakeSource()
	srv := startServer(t, src, Config{})
	set := startClient(t, srv.Addr(), probes.MemReclaim, probes.BlockIO)
	if st := set.StatusOf(probes.BlockIO); st.State != probes.On {
		t.Fatalf("blk_io %+v", st)
	}
	src.mu.Lock()
	for i, st := range src.status {
		if st.Signal == probes.BlockIO {
			src.status[i] = probes.SignalStatus{Signal: st.Signal, State: probes.Degraded, Reason: "shed by the overhead guard"}
		}
	}
	src.mu.Unlock()
	waitFor(t, 3*time.Second, "status update", func() bool { return set.StatusOf(probes.BlockIO).State == probes.Degraded })
	if st := set.StatusOf(probes.BlockIO); st.Reason != "sidecar: shed by the overhead guard" {
		t.Errorf("reason %q", st.Reason)
	}
	if st := set.StatusOf(probes.MemReclaim); st.State != probes.On {
		t.Errorf("mem_reclaim changed: %+v", st)
	}
	set.Close()
}

// FuzzClientBytes sends arbitrary bytes to a live server as a client: the
// server answers or hangs up, and keeps serving.
func FuzzClientBytes(f *testing.F) {
	src := newFakeSource()
	srv := startServer(f, src, Config{HandshakeTimeout: 50 * time.Millisecond, MaxFrame: 4096})
	f.Add(wire.AppendFrame(nil, wire.TypeHello, wire.AppendHello(nil, wire.Hello{Version: 1, Signals: 1 << 4})))
	f.Add(append(wire.AppendFrame(nil, wire.TypeHello, wire.AppendHello(nil, wire.Hello{Version: 1, Signals: 1 << 4})), 1, 2, 3, 4, 5))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("unix", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write(in)
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		rd := wire.NewReader(c, 0)
		for range 4 {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
		if err := srv.Health(); err != nil {
			t.Fatalf("server unhealthy after %q: %v", in, err)
		}
	})
}

// TestClientBeforeSidecar: a client configured for a sidecar that is not
// there yet starts on the floor and moves to the sidecar when it appears.
func TestClientBeforeSidecar(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "late.sock")
	set := startClient(t, socket, probes.DNSLatency)
	if set.Path() != probes.PathFloor {
		t.Fatalf("path %v before the sidecar exists", set.Path())
	}
	st := set.StatusOf(probes.DNSLatency)
	if st.State != probes.Off || !strings.Contains(st.Reason, "unavailable") {
		t.Errorf("status before the sidecar: %+v", st)
	}
	startServer(t, newFakeSource(), Config{Socket: socket})
	waitFor(t, 3*time.Second, "sidecar path", func() bool { return set.Path() == probes.PathSidecar })
}

// TestHealth checks what Health says through a server's life: not serving
// before Serve, serving once Serving is closed, no signal when the source
// has none on, not serving after Serve returned.
func TestHealth(t *testing.T) {
	src := newFakeSource()
	srv, err := NewServer(src, Config{Socket: filepath.Join(t.TempDir(), "sidecar.sock")})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Health(); err == nil || !strings.Contains(err.Error(), "not serving") {
		t.Errorf("before Serve: Health = %v, want not serving", err)
	}
	select {
	case <-srv.Serving():
		t.Fatal("Serving closed before Serve")
	default:
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	waitServing(t, srv)
	if err := srv.Health(); err != nil {
		t.Errorf("serving: Health = %v", err)
	}
	src.mu.Lock()
	for i := range src.status {
		src.status[i].State = probes.Off
	}
	src.mu.Unlock()
	if err := srv.Health(); err == nil || !strings.Contains(err.Error(), "no signal") {
		t.Errorf("every signal off: Health = %v, want no signal", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := srv.Health(); err == nil || !strings.Contains(err.Error(), "not serving") {
		t.Errorf("after Serve: Health = %v, want not serving", err)
	}
}
