package slo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/incident"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"
	"go.opentelemetry.io/otel/trace"
)

// recordingLogs is a log.LoggerProvider that keeps every record emitted,
// with the span context of its emitting context.
type recordingLogs struct {
	embedded.LoggerProvider
	mu      sync.Mutex
	scope   string
	version string
	got     []emitted
}

type emitted struct {
	r    log.Record
	span trace.SpanContext
}

type recordingLogger struct {
	embedded.Logger
	p *recordingLogs
}

func (p *recordingLogs) Logger(name string, opts ...log.LoggerOption) log.Logger {
	p.mu.Lock()
	p.scope, p.version = name, log.NewLoggerConfig(opts...).InstrumentationVersion()
	p.mu.Unlock()
	return recordingLogger{p: p}
}

func (l recordingLogger) Emit(ctx context.Context, r log.Record) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	l.p.got = append(l.p.got, emitted{r: r.Clone(), span: trace.SpanContextFromContext(ctx)})
}

func (recordingLogger) Enabled(context.Context, log.EnabledParameters) bool { return true }

func (p *recordingLogs) byName(name string) []emitted {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []emitted
	for _, e := range p.got {
		if e.r.EventName() == name {
			out = append(out, e)
		}
	}
	return out
}

func recordAttr(r log.Record, key string) attribute.Value {
	var v attribute.Value
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if string(kv.Key) == key {
			v = kv.Value
			return false
		}
		return true
	})
	return v
}

// bodyMap returns a record's map body as Go values, to compare with the
// JSON shape of what it carries.
func bodyMap(v attribute.Value) any {
	switch v.Type() {
	case attribute.MAP:
		m := map[string]any{}
		for _, kv := range v.AsMap() {
			m[string(kv.Key)] = bodyMap(kv.Value)
		}
		return m
	case attribute.SLICE:
		var s []any
		for _, e := range v.AsSlice() {
			s = append(s, bodyMap(e))
		}
		if s == nil {
			s = []any{}
		}
		return s
	case attribute.INT64:
		return float64(v.AsInt64())
	case attribute.FLOAT64:
		return v.AsFloat64()
	case attribute.STRING:
		return v.AsString()
	case attribute.BOOL:
		return v.AsBool()
	}
	return nil
}

func jsonShape(tb testing.TB, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		tb.Fatal(err)
	}
	return x
}

// TestLogRecords: with WithLoggerProvider, every judged request emits an
// llm.slo.event record in its span's context (INFO when good, ERROR when
// breached) and a page an llm.slo.incident record at ERROR in the context
// of its newest exemplar's span, each body the JSON shape of the event or
// incident.
func TestLogRecords(t *testing.T) {
	lp := &recordingLogs{}
	sink := &captureSink{ch: make(chan struct{}, 8)}
	h := newHarness(t, WithoutProbes(), WithLoggerProvider(lp), WithLoggerProvider(nil), WithIncidentSink(sink),
		WithMinCoverage(0), WithMinEvents(1), WithObjectives(ErrorRate(0.99).Named("errors")))
	status := http.StatusOK
	srv := h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	var spans []trace.SpanContext
	serve := func() {
		req := httptest.NewRequest("GET", "/", nil)
		srv.ServeHTTP(httptest.NewRecorder(), req)
	}
	serve()
	status = http.StatusInternalServerError
	serve()
	select {
	case <-sink.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no incident")
	}
	if err := h.t.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range h.spans.Ended() {
		spans = append(spans, s.SpanContext())
	}
	if lp.scope != ScopeName || lp.version != Version() {
		t.Errorf("logger scope %q version %q", lp.scope, lp.version)
	}
	events := lp.byName("llm.slo.event")
	if len(events) != 2 || len(spans) != 2 {
		t.Fatalf("%d event records for %d requests, want 2", len(events), len(spans))
	}
	for i, want := range []struct {
		sev    log.Severity
		status string
	}{{log.SeverityInfo, "ok"}, {log.SeverityError, "breach"}} {
		e := events[i]
		if e.r.Severity() != want.sev || recordAttr(e.r, "llm.slo.event.status").AsString() != want.status ||
			recordAttr(e.r, "llm.slo.objective").AsString() != "errors" || !e.span.Equal(spans[i]) {
			t.Errorf("event %d: severity %v status %v span %v, want %v %s %v", i, e.r.Severity(),
				recordAttr(e.r, "llm.slo.event.status"), e.span, want.sev, want.status, spans[i])
		}
		if got := bodyMap(e.r.Body()).(map[string]any); got["trace_id"] != spans[i].TraceID().String() || got["status"] != want.status {
			t.Errorf("event %d body %v", i, got)
		}
	}
	incs := lp.byName("llm.slo.incident")
	if len(incs) != 1 {
		t.Fatalf("%d incident records, want 1", len(incs))
	}
	e, inc := incs[0], sink.got[0]
	if inc.Severity != incident.SeverityPage || e.r.Severity() != log.SeverityError || e.r.SeverityText() != "ERROR" {
		t.Errorf("incident %s: record severity %v %q", inc.Severity, e.r.Severity(), e.r.SeverityText())
	}
	if !e.span.Equal(spans[1]) {
		t.Errorf("incident record span %v, want the bad request's %v", e.span, spans[1])
	}
	if !e.r.Timestamp().Equal(inc.Time) || recordAttr(e.r, "llm.slo.incident.id").AsString() != inc.ID {
		t.Errorf("incident record time %v id %v, want %v %s", e.r.Timestamp(), recordAttr(e.r, "llm.slo.incident.id"), inc.Time, inc.ID)
	}
	got, want := bodyMap(e.r.Body()), jsonShape(t, inc)
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("incident body\n got %s\nwant %s", gb, wb)
	}
}
