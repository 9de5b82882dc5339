package slo

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/llmslo/slo/incident"
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// WithLoggerProvider emits incidents and per-request SLO events as
// OpenTelemetry log records (event records named llm.slo.incident and
// llm.slo.event) through lp: the body in the IncidentAttributionV1 or
// SloEventV1 shape, the objective, severity or status, and the SLI as
// attributes, the severity from the alert's (page: ERROR, ticket: WARN) or
// the event's status (ok: INFO, warning: WARN, breach: ERROR), and the
// trace and span ids of the request behind it: an incident's newest
// exemplar, an event's own request. Records are emitted from the tracker's
// goroutine, never from a request; SLO events share the bounded queue of
// [WithEventSink]. The default is none (the global provider is not read:
// per-request events are opt-in). A nil provider is ignored.
func WithLoggerProvider(lp log.LoggerProvider) Option {
	return optionFunc(func(c *config) {
		if lp != nil {
			c.loggerProvider = lp
		}
	})
}

// newLogger returns the tracker's OTel logger, nil without a provider.
func newLogger(c *config) log.Logger {
	if c.loggerProvider == nil {
		return nil
	}
	return c.loggerProvider.Logger(ScopeName, log.WithInstrumentationVersion(Version()), log.WithSchemaURL(semconv.SchemaURL))
}

// logIncident emits inc as a log record in the context of the exemplar
// span sc (no trace when sc is not valid).
func (t *Tracker) logIncident(inc incident.Incident, sc trace.SpanContext) {
	sev, text := log.SeverityWarn, "WARN"
	if inc.Severity == incident.SeverityPage {
		sev, text = log.SeverityError, "ERROR"
	}
	t.emit(semconv.EventIncident, inc.Time, sev, text, inc, sc,
		semconv.SLOIncidentID.String(inc.ID), semconv.SLOObjective.String(inc.Objective),
		semconv.SLOSeverity.String(inc.Severity), semconv.SLOSLIName.String(inc.Impact.SLI),
		semconv.SLOFaultDomain.String(inc.PredictedFaultDomain))
}

// logEvent emits ev as a log record in the context of its request's span
// sc.
func (t *Tracker) logEvent(ev SLOEvent, sc trace.SpanContext) {
	sev, text := log.SeverityInfo, "INFO"
	switch ev.Status {
	case "warning":
		sev, text = log.SeverityWarn, "WARN"
	case "breach":
		sev, text = log.SeverityError, "ERROR"
	}
	t.emit(semconv.EventSLO, ev.Time, sev, text, ev, sc,
		semconv.SLOObjective.String(ev.Labels["objective"]), semconv.SLOEventStatus.String(ev.Status),
		semconv.SLOSLIName.String(ev.SLIName))
}

// emit builds and emits one event record whose body is v's JSON shape.
func (t *Tracker) emit(name string, at time.Time, sev log.Severity, text string, v any, sc trace.SpanContext, attrs ...attribute.KeyValue) {
	ctx := context.Background()
	if sc.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, sc)
	}
	if !t.logger.Enabled(ctx, log.EnabledParameters{Severity: sev, EventName: name}) {
		return
	}
	var r log.Record
	r.SetEventName(name)
	r.SetTimestamp(at)
	r.SetObservedTimestamp(time.Now())
	r.SetSeverity(sev)
	r.SetSeverityText(text)
	r.SetBody(jsonValue(v))
	r.AddAttributes(attrs...)
	t.logger.Emit(ctx, r)
}

// jsonValue returns v's JSON encoding as a log value (maps with sorted
// keys, integers as int64); an empty value when v does not encode.
func jsonValue(v any) attribute.Value {
	b, err := json.Marshal(v)
	if err != nil {
		return attribute.Value{}
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return attribute.Value{}
	}
	return anyValue(x)
}

func anyValue(x any) attribute.Value {
	switch x := x.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		kvs := make([]attribute.KeyValue, len(keys))
		for i, k := range keys {
			kvs[i] = attribute.KeyValue{Key: attribute.Key(k), Value: anyValue(x[k])}
		}
		return attribute.MapValue(kvs...)
	case []any:
		vs := make([]attribute.Value, len(x))
		for i, e := range x {
			vs[i] = anyValue(e)
		}
		return attribute.SliceValue(vs...)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return attribute.Int64Value(i)
		}
		f, _ := x.Float64()
		return attribute.Float64Value(f)
	case string:
		return attribute.StringValue(x)
	case bool:
		return attribute.BoolValue(x)
	}
	return attribute.Value{} // null
}
