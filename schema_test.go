package slo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func compileSchema(t *testing.T, name string, doc []byte) *jsonschema.Schema {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, v); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(doc); err != nil {
		t.Errorf("%s\ndoes not validate: %v", b, err)
	}
}

// TestOutputMatchesSchemas validates real incidents and SLO events produced
// by a tracker against the shipped JSON Schemas.
func TestOutputMatchesSchemas(t *testing.T) {
	incSchema := compileSchema(t, "incident_attribution_v1.json", schemas.IncidentAttributionV1)
	evSchema := compileSchema(t, "slo_event_v1.json", schemas.SloEventV1)

	var mu sync.Mutex
	var events []SLOEvent
	sink := &captureSink{ch: make(chan struct{}, 8)}
	tr, err := New(
		WithObjectives(ErrorRate(0.99), TTFT(time.Second, 0.9), TPOT(time.Second, 0.9), Latency(time.Second, 0.9), TokensPerSecond(1, 0.9)),
		WithIncidentSink(sink), WithTracerProvider(sdktrace.NewTracerProvider()),
		WithCluster("c1", "ns1"), WithService("chat"), ungated(),
		WithEventSink(EventSinkFunc(func(_ context.Context, ev SLOEvent) error {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
			return nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	stream := tr.Instrument(openAIStream(0, time.Millisecond, 5, 5))
	for range 5 {
		serve(stream, "200")
	}
	h := tr.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		RequestFrom(r.Context()).noteClientCall(clientCall{Status: 429})
		w.WriteHeader(503)
	}))
	for range 5 {
		serve(h, "500")
	}
	select {
	case <-sink.ch:
	case <-time.After(3 * time.Second):
		t.Fatal("no incident")
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	for _, inc := range sink.got {
		validate(t, incSchema, inc)
	}
	sink.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	names := map[string]bool{}
	for _, ev := range events {
		validate(t, evSchema, ev)
		names[ev.SLIName] = true
	}
	for _, want := range []string{"ttft_ms", "request_latency_ms", "token_throughput_tps", "error_rate"} {
		if !names[want] {
			t.Errorf("no %s event among %d", want, len(events))
		}
	}
}
