package slo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/llmslo/slo/internal/monoclock"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/sidecar"
	"github.com/llmslo/slo/semconv"
)

// chanSource is a sidecar event source the test feeds.
type chanSource struct{ ch chan probes.Event }

func (s chanSource) Subscribe(int) (<-chan probes.Event, func()) { return s.ch, func() {} }

func (chanSource) Status() []probes.SignalStatus {
	return []probes.SignalStatus{{Signal: probes.RunqueueDelay, State: probes.On}, {Signal: probes.TCPRetransmit, State: probes.On}}
}

// TestKernelStatusThroughSidecar: signals served by the sidecar are
// reported with path "sidecar" by KernelStatus, and the spans their
// evidence reaches carry llm.ebpf.path=sidecar — one spelling, probes.Path's.
func TestKernelStatusThroughSidecar(t *testing.T) {
	cg, err := sidecar.CgroupID("", os.Getpid())
	if err != nil {
		t.Skipf("no cgroup v2 id for this process: %v", err)
	}
	src := chanSource{ch: make(chan probes.Event, 16)}
	socket := filepath.Join(t.TempDir(), "s.sock")
	srv, err := sidecar.NewServer(src, sidecar.Config{Socket: socket})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-served })

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr, err := New(WithTracerProvider(tp), WithProbes(probes.Config{
		KernelPath: probes.PathSidecar, SidecarSocket: socket,
		Signals: []probes.Signal{probes.RunqueueDelay, probes.TCPRetransmit},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	status := func() map[string]SignalStatus {
		m := map[string]SignalStatus{}
		for _, st := range tr.KernelStatus() {
			m[st.Signal] = st
		}
		return m
	}
	for deadline := time.Now().Add(10 * time.Second); status()["runqueue_delay"].Path != probes.PathSidecar.String(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("runqueue_delay not on the sidecar: %+v", status()["runqueue_delay"])
		}
	}
	for _, sig := range []string{"runqueue_delay", "tcp_retransmit"} {
		if st := status()[sig]; st.Path != semconv.PathSidecar || st.State != "on" {
			t.Errorf("%s: %+v, want path %q, on", sig, st, semconv.PathSidecar)
		}
	}
	if semconv.PathSidecar != probes.PathSidecar.String() || semconv.PathInProcess != probes.PathInProcess.String() || semconv.PathFloor != probes.PathFloor.String() {
		t.Errorf("probes.Path spells %q %q %q, semconv %q %q %q", probes.PathInProcess, probes.PathSidecar, probes.PathFloor,
			semconv.PathInProcess, semconv.PathSidecar, semconv.PathFloor)
	}

	h := tr.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src.ch <- probes.Event{Signal: probes.RunqueueDelay, Mono: monoclock.Now(), PID: uint32(os.Getpid()), TID: uint32(os.Getpid()),
			CgroupID: cg, Duration: 80 * time.Millisecond, Count: 1}
		time.Sleep(400 * time.Millisecond) // the event crosses the sidecar and the joiner's batch
		_, _ = w.Write([]byte("ok"))
	}))
	srvHTTP := httptest.NewServer(h)
	defer srvHTTP.Close()
	resp, err := http.Post(srvHTTP.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr.Close()
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	a := spanAttrs(spans[0])
	t.Logf("span: path %v, run-queue delay %v ms, tier %v", a[semconv.EBPFSignalPath].AsString(), a[semconv.EBPFSchedRunqueueDelayMs].AsFloat64(), a[semconv.EBPFCorrelationTier].AsString())
	if got := a[semconv.EBPFSignalPath].AsString(); got != semconv.PathSidecar {
		t.Errorf("span %s = %q, want %q", semconv.EBPFSignalPath, got, semconv.PathSidecar)
	}
	// The delay counts only where it overlaps the request (it began before).
	if d := a[semconv.EBPFSchedRunqueueDelayMs].AsFloat64(); d <= 0 || d > 80 {
		t.Errorf("span %s = %v, want the sidecar's event (≤ 80 ms)", semconv.EBPFSchedRunqueueDelayMs, d)
	}
}
