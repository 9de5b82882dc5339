package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
)

// TestOTLPExport: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans and metrics
// reach an OTLP/HTTP receiver (flushed at the latest by Close); without it,
// nothing is exported.
func TestOTLPExport(t *testing.T) {
	var traces, metrics atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/traces":
			traces.Add(1)
		case "/v1/metrics":
			metrics.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")

	a, err := startApp(t.Context(), config{Addr: "127.0.0.1:0", Env: func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return os.Getenv(k)
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !a.tel.otlp || !a.status().OTLP {
		t.Error("OTLP export not reported as on")
	}
	streamMany(t, a, 3, 3)
	waitRequests(t, a, 3)
	a.Close() // flushes the batcher and the periodic reader
	if traces.Load() == 0 || metrics.Load() == 0 {
		t.Errorf("OTLP receiver got %d trace and %d metric exports, want both > 0", traces.Load(), metrics.Load())
	}

	// Without the variable: no exporter.
	b := startTestApp(t)
	if b.tel.otlp || b.tel.mp != nil {
		t.Error("OTLP export on without OTEL_EXPORTER_OTLP_ENDPOINT")
	}
}
