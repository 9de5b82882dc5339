//go:build linux

package slo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/semconv"
)

// clientSpans returns the attributes of the ended client spans, by their
// parent's span id.
func clientSpans(rec *tracetest.SpanRecorder) map[trace.SpanID]map[string]any {
	out := map[trace.SpanID]map[string]any{}
	for _, s := range rec.Ended() {
		if s.SpanKind() != trace.SpanKindClient {
			continue
		}
		a := map[string]any{}
		for k, v := range spanAttrs(s) {
			a[string(k)] = v.AsInterface()
		}
		out[s.Parent().SpanID()] = a
	}
	return out
}

// TestKernelClientCallDNSPrivileged: a client call made outside any server
// request, to a host whose DNS answers take 150 ms, carries the kernel's
// DNS latency on its own client span, at the exact tier.
func TestKernelClientCallDNSPrivileged(t *testing.T) {
	requireKernelProbes(t)
	ns := kernelNetns(t)
	serveIn(t, ns, netip.AddrPortFrom(ns.NSAddr(), 9003).String(), sseUpstream(3, time.Millisecond))
	slow, fast := startDNSPair(t, ns)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := dnsTracker(t, tp, fast.Resolver())
	base := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
		d := net.Dialer{Resolver: slow.Resolver()}
		return d.DialContext(ctx, "tcp4", addr)
	}}
	client := &http.Client{Transport: tr.Transport(base)}
	resp, err := client.Post("http://slow.llmslo.test:9003/v1/chat/completions", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	spans := clientSpans(rec)
	a, ok := spans[trace.SpanID{}] // a root span: no request around the call
	if len(spans) != 1 || !ok {
		t.Fatalf("%d client spans, want one root span", len(spans))
	}
	dns, has := a[string(semconv.EBPFDNSLatencyMs)].(float64)
	t.Logf("client span: dns_ms=%.1f (httptrace %v) tier=%v confidence=%v path=%v", dns,
		a[string(semconv.SLORetrievalDNSMs)], a[string(semconv.EBPFCorrelationTier)], a[string(semconv.EBPFCorrelationConfidence)],
		a[string(semconv.EBPFSignalPath)])
	if !has || dns < 130 || dns > 170 {
		t.Errorf("client span llm.ebpf.dns.latency_ms = %v (present %v), want 150 ± 20", dns, has)
	}
	if tier := a[string(semconv.EBPFCorrelationTier)]; tier != semconv.TierTraceIDExact {
		t.Errorf("client span tier %v, want %s", tier, semconv.TierTraceIDExact)
	}
}

// TestKernelClientCallRetransmitsPrivileged: six concurrent client calls
// made outside any server request, each on its own connection; the three
// to a port that loses 30% of the client's packets carry retransmits on
// their client spans (at the exact tier), the three others none — against
// each connection's own count (TCP_INFO).
func TestKernelClientCallRetransmitsPrivileged(t *testing.T) {
	requireKernelProbes(t)
	ns := lossyUpstreams(t, sseUpstream(5, 5*time.Millisecond))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr, err := New(WithTracerProvider(tp), WithProbes(probes.Config{Signals: []probes.Signal{probes.TCPRetransmit, probes.ConnectLatency}}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	waitProbes(t, tr, probes.TCPRetransmit)

	client := &http.Client{Transport: tr.Transport(&http.Transport{DisableKeepAlives: true})}
	body := bytes.Repeat([]byte("x"), 256<<10)
	const n, lossy = 6, 3
	truth := make([]int64, n) // tcpi_total_retrans of each call's connection
	parents := make([]trace.SpanID, n)
	var wg sync.WaitGroup
	for i := range n {
		port := 9002
		if i < lossy {
			port = 9001
		}
		url := fmt.Sprintf("http://%s/v1/chat/completions", netip.AddrPortFrom(ns.NSAddr(), uint16(port)))
		// An application span (no server request) tells the calls apart.
		ctx, span := tp.Tracer("test").Start(t.Context(), fmt.Sprintf("job %d", i))
		parents[i] = span.SpanContext().SpanID()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer span.End()
			truth[i] = postAndCount(ctx, t, client, url, body)
		}()
	}
	wg.Wait()
	spans := clientSpans(rec)
	for i := range n {
		a, ok := spans[parents[i]]
		if !ok {
			t.Errorf("c%d: no client span", i)
			continue
		}
		rt, has := a[string(semconv.EBPFTCPRetransmits)].(int64)
		t.Logf("c%d lossy=%-5v kernel_retrans=%d attr=%d tier=%v confidence=%v", i, i < lossy, truth[i], rt,
			a[string(semconv.EBPFCorrelationTier)], a[string(semconv.EBPFCorrelationConfidence)])
		switch {
		case i < lossy && truth[i] <= 0:
			t.Errorf("c%d: the injected loss caused no retransmit (TCP_INFO %d)", i, truth[i])
		case truth[i] > 0 && (!has || rt == 0):
			t.Errorf("c%d: its connection retransmitted %d times but the client span has no retransmit attribute", i, truth[i])
		case truth[i] > 0 && a[string(semconv.EBPFCorrelationTier)] != semconv.TierTraceIDExact:
			t.Errorf("c%d: tier %v, want %s", i, a[string(semconv.EBPFCorrelationTier)], semconv.TierTraceIDExact)
		case truth[i] == 0 && has:
			t.Errorf("c%d: no retransmit on its connection but the client span says %d", i, rt)
		case i >= lossy && truth[i] > 0:
			t.Logf("c%d: a clean connection retransmitted anyway (a real retransmit, joined)", i)
		}
	}
}

// postAndCount posts body to url through client and reads the whole answer;
// it returns the connection's retransmit count (TCP_INFO) taken while the
// answer streams, -1 when it could not be read.
func postAndCount(ctx context.Context, t *testing.T, client *http.Client, url string, body []byte) int64 {
	var conn net.Conn
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(gi httptrace.GotConnInfo) { conn = gi.Conn }})
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return -1
	}
	defer resp.Body.Close()
	got := int64(-1)
	buf := make([]byte, 4096)
	for {
		k, err := resp.Body.Read(buf)
		if n, ok := connRetrans(conn); ok && k > 0 {
			got = n
		}
		if err != nil {
			return got
		}
	}
}
