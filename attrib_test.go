package slo

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/semconv"
)

func TestAttributionModelDefault(t *testing.T) {
	tr, err := New(WithoutProbes())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	def := attribution.DefaultModel()
	if tr.attr.model == nil || def == nil || tr.attr.model.Provenance != def.Provenance {
		t.Fatalf("default tracker model = %+v, want the embedded one", tr.attr.model)
	}
	custom, err := attribution.UnmarshalModel([]byte(`{"version":1,"provenance":{"command":"custom"},"prior":{"network_dns":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	tr2, err := New(WithoutProbes(), WithAttributionModel(custom), WithAttributionModel(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	if tr2.attr.model != custom {
		t.Errorf("WithAttributionModel did not override the default: %+v", tr2.attr.model.Provenance)
	}
}

// TestRequestRecord checks the record WithRequestRecords delivers: the
// request's SLIs and judgement as its span carries them, its outbound calls,
// and the attribution evidence built from them with
// attribution.NewObservation — what the incident lab evaluates — reading a
// running probe's silence as 0.
func TestRequestRecord(t *testing.T) {
	var recs []RequestRecord
	h := newHarness(t, WithoutProbes(), WithObjectives(TTFT(time.Millisecond, 0.99).Named("fast"), ErrorRate(0.99)),
		WithRequestRecords(func(_ context.Context, r RequestRecord) { recs = append(recs, r) }))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer up.Close()
	client := &http.Client{Transport: h.t.Transport(nil, WithProviderName("openai"))}
	handler := h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, up.URL+"/v1/chat/completions", strings.NewReader("{}"))
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
		time.Sleep(2 * time.Millisecond) // a TTFT over fast's 1 ms, however quick the loopback call
		w.Header().Set("Content-Type", "text/event-stream")
		for range 3 {
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(2 * time.Millisecond)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	serve := func() RequestRecord {
		t.Helper()
		recs = recs[:0]
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil))
		if len(recs) != 1 {
			t.Fatalf("%d records for one request", len(recs))
		}
		return recs[0]
	}
	r := serve()
	span := h.spans.Ended()[len(h.spans.Ended())-1]
	attrs := spanAttrs(span)
	// The request starts just before its span, and ends just before it.
	if r.TraceID != span.SpanContext().TraceID() || r.Start.After(span.StartTime()) || !r.End.After(r.Start) ||
		r.End.After(span.EndTime()) {
		t.Errorf("trace %v start %v end %v; span %v %v %v", r.TraceID, r.Start, r.End,
			span.SpanContext().TraceID(), span.StartTime(), span.EndTime())
	}
	if got := attrs[semconv.SLOTTFTMs].AsFloat64(); r.TTFT <= 0 || got != durMs(r.TTFT) {
		t.Errorf("TTFT %v, span %v ms", r.TTFT, got)
	}
	if got := attrs[semconv.SLOTPOTMs].AsFloat64(); r.TPOT <= 0 || got != durMs(r.TPOT) {
		t.Errorf("TPOT %v, span %v ms", r.TPOT, got)
	}
	if r.OutputTokens != 3 || !r.TokensEstimated || r.InputTokens != -1 || r.Status != 200 || r.Failed {
		t.Errorf("record = %+v", r)
	}
	if diff := cmp.Diff([]string{"fast", "error_rate_p99"}, r.Objectives); diff != "" {
		t.Errorf("objectives (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"fast"}, r.Breached); diff != "" {
		t.Errorf("breached (-want +got)\n%s", diff)
	}
	if r.Calls.N != 1 || r.Calls.Throttled != 1 || r.Calls.ProviderWait <= 0 {
		t.Errorf("calls = %+v", r.Calls)
	}
	if diff := cmp.Diff(attribution.NewObservation(r.End.Sub(r.Start), false, r.Calls, r.Kernel, 0), r.Evidence); diff != "" {
		t.Errorf("not NewObservation's (-want +got)\n%s", diff)
	}
	features := func(o attribution.Observation) map[attribution.Feature]bool {
		out := map[attribution.Feature]bool{}
		for _, f := range attribution.AllFeatures() {
			out[f] = o.Has(f)
		}
		return out
	}
	if f := features(r.Evidence); !f[attribution.AppThrottled] || !f[attribution.AppProviderWaitMs] || f[attribution.KernDNSMs] {
		t.Errorf("probes off: features %v", f)
	}

	// dns_latency and mem_reclaim running (as KernelStatus would say): the
	// request saw neither, so both are 0.
	probed := attribution.ProbedFeatures(probes.DNSLatency, probes.MemReclaim)
	h.t.attr.probed.Store(uint32(probed))
	h.t.attr.probedAt.Store(time.Now().UnixNano())
	r = serve()
	if diff := cmp.Diff(attribution.NewObservation(r.End.Sub(r.Start), false, r.Calls, r.Kernel, probed), r.Evidence); diff != "" {
		t.Errorf("probes running (-want +got)\n%s", diff)
	}
	if v, ok := r.Evidence.Get(attribution.KernReclaimMs); !ok || v != 0 {
		t.Errorf("%v = %v, %v; want an observed 0", attribution.KernReclaimMs, v, ok)
	}
	// Stale: re-read from KernelStatus (probes off here: nothing probed).
	h.t.attr.probedAt.Store(time.Now().Add(-2 * probedTTL).UnixNano())
	if got := h.t.probedFeatures(); got != 0 {
		t.Errorf("probed without probes = %b", got)
	}
}

// TestWatching: the probes whose features a request observes as 0 when it
// lacks them are those running in this process, eBPF or poller; not the
// httptrace stand-ins, a sidecar, or anything off or starting.
func TestWatching(t *testing.T) {
	for _, tc := range []struct {
		st   SignalStatus
		want bool
	}{
		{SignalStatus{Signal: "runqueue_delay", Path: semconv.PathInProcess, State: "on"}, true},
		{SignalStatus{Signal: "dns_latency", Path: semconv.PathInProcess, State: "degraded"}, true},
		{SignalStatus{Signal: "cfs_throttle", Path: semconv.PathFloor, State: "on"}, true},
		{SignalStatus{Signal: "cpu_steal", Path: semconv.PathFloor, State: "on"}, true},
		{SignalStatus{Signal: "dns_latency", Path: semconv.PathFloor, State: "off"}, false}, // httptrace
		{SignalStatus{Signal: "cfs_throttle", Path: "off", State: "off"}, false},
		{SignalStatus{Signal: "tcp_retransmit", Path: semconv.PathSidecar, State: "on"}, false},
		{SignalStatus{Signal: "mem_reclaim", Path: "starting", State: "off"}, false},
	} {
		if got := watching(tc.st); got != tc.want {
			t.Errorf("watching(%+v) = %v, want %v", tc.st, got, tc.want)
		}
	}
}
