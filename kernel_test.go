package slo

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/correlate"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// spanAttrs returns the attributes of s by key.
func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestKernelAttributes(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		sum   correlate.Summary
		calls attribution.Calls
		path  string
		want  []attribute.KeyValue
	}{
		{name: "nothing"},
		{
			name:  "httptrace floor",
			calls: attribution.Calls{N: 1, ProviderWait: 500 * ms, DNS: 30 * ms, Connect: 5 * ms, TLS: 10 * ms},
			want: []attribute.KeyValue{
				semconv.EBPFDNSLatencyMs.Float64(30), semconv.EBPFNetConnectLatencyMs.Float64(5), semconv.EBPFTLSHandshakeMs.Float64(10),
				semconv.EBPFRetrievalKernelAttribMs.Float64(45),
				semconv.EBPFCorrelationConfidence.Float64(1), semconv.EBPFCorrelationTier.String("httptrace"), semconv.EBPFSignalPath.String("floor"),
			},
		},
		{
			name: "kernel evidence wins over httptrace, capped by the wait",
			sum: correlate.Summary{DNS: 150 * ms, DNSLookups: 2, Retransmits: 3, Runqueue: 400 * ms,
				Joins: [correlate.NumTiers]int{correlate.TierExact: 5}, Tier: correlate.TierExact, Confidence: 1},
			calls: attribution.Calls{N: 1, ProviderWait: 500 * ms, DNS: 151 * ms, Connect: 5 * ms},
			path:  "in_process",
			want: []attribute.KeyValue{
				semconv.EBPFDNSLatencyMs.Float64(150), semconv.EBPFTCPRetransmits.Int(3), semconv.EBPFSchedRunqueueDelayMs.Float64(400),
				semconv.EBPFCorrelationConfidence.Float64(1), semconv.EBPFCorrelationTier.String("trace_id_exact"),
				semconv.EBPFNetConnectLatencyMs.Float64(5), semconv.EBPFRetrievalKernelAttribMs.Float64(500),
				semconv.EBPFSignalPath.String("in_process"),
			},
		},
		{
			name: "served by the sidecar: the same evidence, path sidecar",
			sum: correlate.Summary{DNS: 150 * ms, DNSLookups: 2, Retransmits: 3, Runqueue: 400 * ms,
				Joins: [correlate.NumTiers]int{correlate.TierExact: 5}, Tier: correlate.TierExact, Confidence: 1},
			calls: attribution.Calls{N: 1, ProviderWait: 500 * ms, DNS: 151 * ms, Connect: 5 * ms},
			path:  "sidecar",
			want: []attribute.KeyValue{
				semconv.EBPFDNSLatencyMs.Float64(150), semconv.EBPFTCPRetransmits.Int(3), semconv.EBPFSchedRunqueueDelayMs.Float64(400),
				semconv.EBPFCorrelationConfidence.Float64(1), semconv.EBPFCorrelationTier.String("trace_id_exact"),
				semconv.EBPFNetConnectLatencyMs.Float64(5), semconv.EBPFRetrievalKernelAttribMs.Float64(500),
				semconv.EBPFSignalPath.String("sidecar"),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := kernelAttributes(&tc.sum, &tc.calls, tc.path, nil)
			if d := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b attribute.Value) bool { return a.Emit() == b.Emit() })); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestKernelFloor: without probes, a request's span carries the httptrace
// timings of its client call, marked with the httptrace tier and the floor
// path, and the status says why.
func TestKernelFloor(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, WithoutProbes(), WithRegisterer(reg))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer up.Close()
	client := &http.Client{Transport: h.t.Transport(&http.Transport{DisableKeepAlives: true})}
	url := strings.Replace(up.URL, "127.0.0.1", "localhost", 1) // a name: DNS and connect timings
	srv := httptest.NewServer(h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, url, strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	var server map[attribute.Key]attribute.Value
	for _, s := range h.spans.Ended() {
		if s.SpanKind().String() == "server" {
			server = spanAttrs(s)
		}
	}
	if server == nil {
		t.Fatal("no server span")
	}
	if server[semconv.EBPFCorrelationTier].AsString() != semconv.TierHTTPTrace || server[semconv.EBPFSignalPath].AsString() != semconv.PathFloor {
		t.Errorf("tier %v path %v, want httptrace/floor", server[semconv.EBPFCorrelationTier], server[semconv.EBPFSignalPath])
	}
	if _, ok := server[semconv.EBPFNetConnectLatencyMs]; !ok {
		t.Errorf("no connect latency on the span: %v", server)
	}
	if _, ok := server[semconv.EBPFTCPRetransmits]; ok {
		t.Error("retransmits on the floor path")
	}
	for _, st := range h.t.KernelStatus() {
		want := "off"
		if st.Signal == "dns_latency" || st.Signal == "connect_latency" {
			want = semconv.PathFloor
		}
		if st.Path != want || !strings.Contains(st.Reason, "WithoutProbes") {
			t.Errorf("status %+v, want path %s and the WithoutProbes reason", st, want)
		}
	}
	if len(h.t.KernelStatus()) != len(probes.AllSignals()) {
		t.Errorf("status has %d signals", len(h.t.KernelStatus()))
	}
}

// TestKernelCounter: joins are counted by tier, enrichment and scope (owned
// or node-wide), in OTel and Prometheus.
func TestKernelCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, WithoutProbes(), WithRegisterer(reg))
	k := h.t.kern
	now := k.clock.Now()
	id := k.j.Start(now, trace.SpanContext{})
	remote := netip.MustParseAddrPort("10.0.0.2:443")
	k.j.Acquire(id, correlate.Conn{Cookie: 7, Local: netip.MustParseAddrPort("10.0.0.1:5000"), Remote: remote}, now)
	k.j.Release(correlate.Conn{Cookie: 7}, now+int64(time.Millisecond))
	for _, ev := range []probes.Event{
		{Signal: probes.TCPRetransmit, Mono: now, Cookie: 7, Count: 1},
		// Another port on the same host, 100ms later: svc_node (weak).
		{Signal: probes.TCPRetransmit, Mono: now + int64(100*time.Millisecond), Cookie: 8, Count: 1, Remote: netip.MustParseAddrPort("10.0.0.2:80")},
	} {
		k.j.Add(&ev)
	}
	// A node-wide signal: CPU steal over the poll, apportioned to a second
	// request at svc_node (weak), counted apart from the owned events.
	id2 := k.j.Start(now, trace.SpanContext{})
	steal := probes.Event{Signal: probes.CPUSteal, Mono: now + int64(time.Second), Value: 4}
	k.j.Add(&steal)
	k.j.End(id2, now+int64(500*time.Millisecond))
	k.j.Flush(now + int64(time.Second))
	k.exportCounts()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != semconv.PromCorrelationTotal {
			continue
		}
		for _, m := range mf.GetMetric() {
			var tier, enr, scope string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "tier":
					tier = l.GetValue()
				case "enriched":
					enr = l.GetValue()
				case "scope":
					scope = l.GetValue()
				}
			}
			got[tier+"/"+enr+"/"+scope] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"trace_id_exact/true/owned": 1, "svc_node_500ms/false/owned": 1, "svc_node_500ms/false/node": 1}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("prometheus (-want +got):\n%s", d)
	}
	if _, ok := h.metrics(t)[semconv.MetricCorrelation]; !ok {
		t.Errorf("no OTel %s metric", semconv.MetricCorrelation)
	}
}

// TestKernelStatusDefault: New() turns the probes on where they load and
// degrades quietly where they do not (unprivileged): every signal reports a
// path, and a reason when it is not fully on.
func TestKernelStatusDefault(t *testing.T) {
	tr, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tr.kern.mu.Lock()
		loading := tr.kern.loading
		tr.kern.mu.Unlock()
		if !loading {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("probes still loading after 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, st := range tr.KernelStatus() {
		t.Logf("%-16s %-10s %-8s %s", st.Signal, st.Path, st.State, st.Reason)
		switch st.Path {
		case semconv.PathInProcess, semconv.PathFloor, "off":
		default:
			t.Errorf("%s: path %q", st.Signal, st.Path)
		}
		if st.State != "on" && st.Reason == "" {
			t.Errorf("%s: %s without a reason", st.Signal, st.State)
		}
	}
}

// TestClientRetriesFeedRetryStorm checks that attempts through Transport
// that the SDK marked as retries, or that were answered 429 or 5xx, count
// toward the retry-storm detector of their destination, and others do not.
func TestClientRetriesFeedRetryStorm(t *testing.T) {
	h := newHarness(t, WithoutProbes(), withCorrelate(correlate.Config{StormCount: 3, StormWindow: time.Minute}))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("status") == "429" {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer up.Close()
	client := &http.Client{Transport: h.t.Transport(nil)}
	// calls is the list of calls a served request makes: "200", "429", or
	// "retry" (a 200 answer to an attempt the SDK marked as its first retry).
	serveCalls := func(calls ...string) {
		t.Helper()
		srv := h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, c := range calls {
				req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, up.URL+"/?status="+c, nil)
				if c == "retry" {
					req.Header.Set("X-Stainless-Retry-Count", "1")
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}))
		srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}
	serveCalls("200", "429", "200", "429")
	if got := h.t.kern.j.Stats().Storms; got != 0 {
		t.Fatalf("%d storms after two throttled attempts (storm at 3)", got)
	}
	serveCalls("retry")
	if got := h.t.kern.j.Stats().Storms; got != 1 {
		t.Errorf("%d storms after two throttled attempts and a retry, want 1", got)
	}
}
