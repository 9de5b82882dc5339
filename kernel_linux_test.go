//go:build linux

package slo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/correlate"
	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/testutil"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/semconv"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"golang.org/x/sys/unix"
)

// kernelNetns creates a namespace on a free 10.213.N.0/30 (N in 160..199).
func kernelNetns(t *testing.T) *faults.Netns {
	t.Helper()
	for n := 160; n < 200; n++ {
		ns, err := faults.NewNetns("", faults.Subnet(uint8(n)))
		if err != nil {
			if errors.Is(err, faults.ErrPrivilege) {
				testutil.Skip(t, err.Error())
			}
			continue
		}
		t.Cleanup(func() { _ = ns.Close() })
		return ns
	}
	t.Fatal("no free 10.213.N.0/30 subnet in 160..199")
	return nil
}

// sseUpstream reads the request body, then streams chunks OpenAI-style.
func sseUpstream(chunks int, gap time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		f, _ := w.(http.Flusher)
		for i := range chunks {
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok%d \"}}]}\n\n", i)
			if f != nil {
				f.Flush()
			}
			time.Sleep(gap)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
}

// serveIn serves h on addr inside ns until the test ends.
func serveIn(t *testing.T, ns *faults.Netns, addr string, h http.Handler) {
	t.Helper()
	ln, err := ns.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// requireKernelProbes skips (fails under SLO_REQUIRE_BPF=1) unless the
// process may load the probes (testutil.RequireBPF: raw tracepoints) and
// create namespaces; waitProbes then checks the probes really loaded.
func requireKernelProbes(t *testing.T) {
	t.Helper()
	testutil.RequireBPF(t)
	testutil.RequireRootNet(t)
}

// waitProbes waits until sigs are delivered in-process; it skips (fails
// under SLO_REQUIRE_BPF=1) when the probes cannot load.
func waitProbes(t *testing.T, tr *Tracker, sigs ...probes.Signal) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		tr.kern.mu.Lock()
		loading, err := tr.kern.loading, tr.kern.startErr
		tr.kern.mu.Unlock()
		if !loading && err != nil {
			testutil.Skip(t, "kernel probes unavailable: "+err.Error())
		}
		ok := 0
		for _, st := range tr.KernelStatus() {
			for _, s := range sigs {
				if st.Signal == s.String() && st.Path == semconv.PathInProcess {
					ok++
				}
			}
		}
		if ok == len(sigs) && tr.kern.running.Load() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("probes not in process after 60s: %+v", tr.KernelStatus())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lossyUpstreams serves up on ports 9001 and 9002 of a new namespace whose
// port 9001 loses 30% of the client's packets.
func lossyUpstreams(t *testing.T, up http.Handler) *faults.Netns {
	t.Helper()
	ns := kernelNetns(t)
	serveIn(t, ns, netip.AddrPortFrom(ns.NSAddr(), 9001).String(), up)
	serveIn(t, ns, netip.AddrPortFrom(ns.NSAddr(), 9002).String(), up)
	undo, err := faults.PacketLoss{NS: ns, Port: 9001, Percent: 30}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = undo() })
	return ns
}

// connRetrans returns the kernel's count of retransmits of conn's socket
// (TCP_INFO tcpi_total_retrans); false when conn is no open TCP socket.
func connRetrans(conn net.Conn) (n int64, ok bool) {
	tc, isTCP := conn.(*net.TCPConn)
	if !isTCP {
		return 0, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false
	}
	_ = rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n, ok = int64(info.Total_retrans), true
		}
	})
	return n, ok
}

// TestKernelRetransmitsPrivileged: 20 concurrent streaming requests, each
// calling an upstream over its own connection; the 5 whose upstream port
// loses 30% of the client's packets carry retransmits joined exactly, the
// 15 others none.
func TestKernelRetransmitsPrivileged(t *testing.T) {
	requireKernelProbes(t)
	ns := lossyUpstreams(t, sseUpstream(20, 10*time.Millisecond))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var obsMu sync.Mutex
	var cleanRetrans []string
	joined := map[string]int{} // retransmit events the joiner has seen, by local address
	tr, err := New(WithTracerProvider(tp), WithProbes(probes.Config{Signals: []probes.Signal{probes.TCPRetransmit, probes.ConnectLatency}}),
		withCorrelate(correlate.Config{Observe: func(ev *probes.Event, _ correlate.RequestID, tier correlate.Tier) {
			if ev.Signal != probes.TCPRetransmit {
				return
			}
			obsMu.Lock()
			joined[ev.Local.String()]++
			if ev.Remote.Port() == 9002 {
				cleanRetrans = append(cleanRetrans, fmt.Sprintf("%v→%v state %d tier %v", ev.Local, ev.Remote, ev.State, tier))
			}
			obsMu.Unlock()
		}}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	waitProbes(t, tr, probes.TCPRetransmit)

	client := &http.Client{Transport: tr.Transport(&http.Transport{DisableKeepAlives: true})}
	body := bytes.Repeat([]byte("x"), 256<<10)
	const n, lossy = 20, 5
	var truthMu sync.Mutex
	truth := make([]int64, n) // tcpi_total_retrans of each request's upstream connection
	for i := range truth {
		truth[i] = -1
	}
	mux := http.NewServeMux()
	for i := range n {
		port := 9002
		if i < lossy {
			port = 9001
		}
		url := fmt.Sprintf("http://%s/v1/chat/completions", netip.AddrPortFrom(ns.NSAddr(), uint16(port)))
		mux.Handle(fmt.Sprintf("POST /r%d", i), tr.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var conn net.Conn
			ctx := httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{GotConn: func(gi httptrace.GotConnInfo) { conn = gi.Conn }})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			resp, err := client.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", "text/event-stream")
			buf := make([]byte, 4096)
			for {
				k, err := resp.Body.Read(buf)
				if k > 0 {
					_, _ = w.Write(buf[:k])
					w.(http.Flusher).Flush()
				}
				// The kernel's own count for the connection, while it is open.
				if n, ok := connRetrans(conn); ok && k > 0 {
					truthMu.Lock()
					truth[i] = n
					truthMu.Unlock()
				}
				if err != nil {
					break
				}
			}
			// A retransmit reaches the joiner through the ring buffer's
			// reader, which a saturated machine can delay past the end of
			// a request this short; an event the joiner has not seen when
			// the request ends is not in its summary. Wait (bounded) until
			// the kernel's count for the connection has reached the joiner,
			// so that what is tested is the join, not the reader's lag.
			truthMu.Lock()
			kt := truth[i]
			truthMu.Unlock()
			for deadline := time.Now().Add(10 * time.Second); kt > 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				obsMu.Lock()
				seen := joined[conn.LocalAddr().String()]
				obsMu.Unlock()
				if seen > 0 {
					break
				}
			}
		})))
	}
	front := httptest.NewServer(mux)
	defer front.Close()

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/r%d", front.URL, i), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), "[DONE]") {
				errs <- fmt.Errorf("r%d: status %d body %q", i, resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Against the kernel's per-connection truth (TCP_INFO), joins must be
	// exact: a request carries retransmits iff its connection had some. The
	// lossy connections must all have them; clean ones normally have none
	// (a spurious RTO under heavy load is a real retransmit, and is logged).
	var tpos, fpos, fneg, cleanWithRetrans int
	for _, s := range rec.Ended() {
		var i int
		if _, err := fmt.Sscanf(s.Name(), "POST /r%d", &i); err != nil {
			continue
		}
		a := spanAttrs(s)
		rt, has := a[semconv.EBPFTCPRetransmits]
		truthMu.Lock()
		kt := truth[i]
		truthMu.Unlock()
		t.Logf("r%-2d lossy=%-5v kernel_retrans=%d attr=%v storm=%v tier=%v conf=%v path=%v", i, i < lossy, kt, rt.AsInt64(), a[semconv.EBPFTCPRetryStorm].AsBool(),
			a[semconv.EBPFCorrelationTier].AsString(), a[semconv.EBPFCorrelationConfidence].AsFloat64(), a[semconv.EBPFSignalPath].AsString())
		if kt < 0 {
			t.Errorf("r%d: no TCP_INFO for its upstream connection", i)
			continue
		}
		if i < lossy && kt == 0 {
			t.Errorf("r%d: the injected loss caused no retransmit (TCP_INFO)", i)
		}
		if i >= lossy && kt > 0 {
			cleanWithRetrans++
		}
		switch {
		case kt > 0 && has && rt.AsInt64() > 0:
			tpos++
			if a[semconv.EBPFCorrelationTier].AsString() != semconv.TierTraceIDExact {
				t.Errorf("r%d: tier %v, want trace_id_exact", i, a[semconv.EBPFCorrelationTier])
			}
		case kt > 0:
			fneg++
			t.Errorf("r%d: its connection retransmitted %d times but the span has no retransmit attribute", i, kt)
		case has:
			fpos++
			t.Errorf("r%d: no retransmit on its connection but the span says %d", i, rt.AsInt64())
		}
	}
	precision, recall := float64(tpos)/float64(max(tpos+fpos, 1)), float64(tpos)/float64(max(tpos+fneg, 1))
	t.Logf("exact tier vs TCP_INFO: precision %.2f recall %.2f (TP %d FP %d FN %d); clean connections that retransmitted anyway: %d",
		precision, recall, tpos, fpos, fneg, cleanWithRetrans)
	obsMu.Lock()
	for _, c := range cleanRetrans {
		t.Logf("retransmit on a clean connection: %s", c)
	}
	obsMu.Unlock()
	st := tr.kern.j.Stats()
	t.Logf("joiner: events %d joins %v enriched %v unmatched %d", st.Events, st.Joins, st.Enriched, st.Unmatched)
}

// TestKernelDNSPrivileged: a DNS server delaying its answers by 150 ms
// serves one name; another server answers another name at once. Only the
// requests that resolved the slow name carry the delay.
func TestKernelDNSPrivileged(t *testing.T) { testKernelDNS(t, false) }

// TestKernelDNSOverTCPPrivileged is TestKernelDNSPrivileged with the slow
// name resolved over TCP (a resolver that dials TCP only: one connection
// per query, as on a truncated answer): the requests that resolved it carry
// the delay, joined at the exact tier.
func TestKernelDNSOverTCPPrivileged(t *testing.T) { testKernelDNS(t, true) }

// startDNSPair starts two DNS servers for slow.llmslo.test and
// fast.llmslo.test (both the namespace's address): slow inside ns answers
// after 150 ms, fast on the host side at once.
func startDNSPair(t *testing.T, ns *faults.Netns) (slow, fast *faults.DNSServer) {
	t.Helper()
	hosts := map[string]netip.Addr{"slow.llmslo.test": ns.NSAddr(), "fast.llmslo.test": ns.NSAddr()}
	slow, err := faults.StartDNS(faults.DNSConfig{NS: ns, Delay: 150 * time.Millisecond, Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slow.Close() })
	fast, err = faults.StartDNS(faults.DNSConfig{Listen: net.JoinHostPort(ns.HostAddr().String(), "53"), Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fast.Close() })
	return slow, fast
}

// dnsTracker returns a Tracker with the DNS and connect probes, spans to
// tp, its DNS packet programs attached by a lookup through warm.
//
// The tests using it are about joining answers to the lookups: the packet
// programs are attached before the lookups under test (a lookup arms them,
// ≈ 1 ms after its connect on a quiet machine; on a loaded CI runner that
// has exceeded the slow server's 150 ms, and the first answer then falls
// back to httptrace). Arming is tested in probes
// (TestDNSArmOnDemandPrivileged).
func dnsTracker(t *testing.T, tp *sdktrace.TracerProvider, warm *net.Resolver) *Tracker {
	t.Helper()
	tr, err := New(WithTracerProvider(tp), WithProbes(probes.Config{Signals: []probes.Signal{probes.DNSLatency, probes.ConnectLatency}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	waitProbes(t, tr, probes.DNSLatency)
	if _, err := warm.LookupHost(t.Context(), "warm.llmslo.test"); err != nil {
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	return tr
}

// tcpResolver resolves through the DNS server at addr over TCP only.
func tcpResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}}
}

func testKernelDNS(t *testing.T, tcp bool) {
	requireKernelProbes(t)
	ns := kernelNetns(t)
	serveIn(t, ns, netip.AddrPortFrom(ns.NSAddr(), 9003).String(), sseUpstream(3, time.Millisecond))
	slow, fast := startDNSPair(t, ns)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := dnsTracker(t, tp, fast.Resolver())

	base := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		r := fast.Resolver()
		switch {
		case strings.HasPrefix(addr, "slow.") && tcp:
			r = tcpResolver(slow.Addr().String())
		case strings.HasPrefix(addr, "slow."):
			r = slow.Resolver()
		}
		d := net.Dialer{Resolver: r}
		return d.DialContext(ctx, "tcp4", addr)
	}}
	client := &http.Client{Transport: tr.Transport(base)}
	const n = 8
	mux := http.NewServeMux()
	for i := range n {
		host := "fast.llmslo.test"
		if i%2 == 0 {
			host = "slow.llmslo.test"
		}
		url := fmt.Sprintf("http://%s:9003/v1/chat/completions", host)
		mux.Handle(fmt.Sprintf("POST /d%d", i), tr.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, url, strings.NewReader("{}"))
			resp, err := client.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.Copy(w, resp.Body)
		})))
	}
	front := httptest.NewServer(mux)
	defer front.Close()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(fmt.Sprintf("%s/d%d", front.URL, i), "application/json", nil)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	for _, s := range rec.Ended() {
		var i int
		if _, err := fmt.Sscanf(s.Name(), "POST /d%d", &i); err != nil {
			continue
		}
		a := spanAttrs(s)
		dns, has := a[semconv.EBPFDNSLatencyMs]
		t.Logf("d%d slow=%v dns_ms=%.1f tier=%v", i, i%2 == 0, dns.AsFloat64(), a[semconv.EBPFCorrelationTier].AsString())
		switch {
		case i%2 == 0 && (!has || dns.AsFloat64() < 140 || tcp && dns.AsFloat64() > 170):
			t.Errorf("d%d resolved the slow name but dns latency %v (present %v), want ≥ 140ms (150 ± 20 over TCP)", i, dns.AsFloat64(), has)
		case i%2 == 0 && a[semconv.EBPFCorrelationTier].AsString() != semconv.TierTraceIDExact:
			t.Errorf("d%d: tier %v, want trace_id_exact", i, a[semconv.EBPFCorrelationTier].AsString())
		case i%2 == 1 && has && dns.AsFloat64() >= 50:
			t.Errorf("d%d resolved the fast name but dns latency %v ms", i, dns.AsFloat64())
		}
	}
}
