package slo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"
)

// Incident is raised when an objective's multi-window burn-rate alert
// condition starts holding (DESIGN.md §3: page when the 1h and 5m burn rates
// both exceed 14.4, or 6h and 30m both exceed 6; ticket when 3d and 6h both
// exceed 1). It marshals to the IncidentAttributionV1 JSON shape.
type Incident struct {
	ID                   string       `json:"incident_id"`
	Time                 time.Time    `json:"timestamp"`
	Cluster              string       `json:"cluster"`
	Namespace            string       `json:"namespace"`
	Service              string       `json:"service"`
	Objective            string       `json:"objective"`
	Severity             string       `json:"severity"` // "page" or "ticket"
	Rule                 string       `json:"rule"`     // e.g. "1h>14.4 and 5m>14.4"
	PredictedFaultDomain string       `json:"predicted_fault_domain"`
	Confidence           float64      `json:"confidence"`
	Evidence             []Evidence   `json:"evidence"`
	Impact               Impact       `json:"slo_impact"`
	BurnRates            []WindowRate `json:"burn_rates"`
	TraceIDs             []string     `json:"trace_ids"`
	RequestIDs           []string     `json:"request_ids"`
	Hypotheses           []Hypothesis `json:"fault_hypotheses"`
}

// Evidence is one observation behind an attribution.
type Evidence struct {
	Signal string  `json:"signal"` // e.g. "llm.slo.ttft_ms" or "llm.ebpf.tcp.retransmits"
	Value  float64 `json:"value"`
	Source string  `json:"source"` // "app", "httptrace", "ebpf", "poller", "floor"
}

// Impact is the SLO impact of an incident: the SLI, the burn rate of the long
// window of the rule that fired, and that window's length.
type Impact struct {
	SLI           string  `json:"sli"`
	BurnRate      float64 `json:"burn_rate"`
	WindowMinutes float64 `json:"window_minutes"`
}

// WindowRate is a burn rate over one window.
type WindowRate struct {
	Window string  `json:"window"` // "5m", "30m", "1h", "6h", "1d", "3d"
	Rate   float64 `json:"burn_rate"`
}

// Hypothesis is one candidate fault domain with its posterior probability.
type Hypothesis struct {
	Domain    string   `json:"domain"`
	Posterior float64  `json:"posterior"`
	Evidence  []string `json:"evidence"`
}

// IncidentSink receives incidents. The tracker calls Send from its own
// goroutine, one incident at a time, with a context that carries a deadline;
// Send should hand the incident off quickly. A sink that also implements
// Close(context.Context) error is closed by [Tracker.Close].
type IncidentSink interface {
	Send(ctx context.Context, inc Incident) error
}

// IncidentSinkFunc adapts a function to [IncidentSink].
type IncidentSinkFunc func(ctx context.Context, inc Incident) error

// Send calls f.
func (f IncidentSinkFunc) Send(ctx context.Context, inc Incident) error { return f(ctx, inc) }

// SlogSink logs each incident as one record at level Error (page) or Warn
// (ticket) on l. A nil logger yields a sink that does nothing.
func SlogSink(l *slog.Logger) IncidentSink {
	return IncidentSinkFunc(func(ctx context.Context, inc Incident) error {
		if l == nil {
			return nil
		}
		level := slog.LevelWarn
		if inc.Severity == "page" {
			level = slog.LevelError
		}
		l.LogAttrs(ctx, level, "slo incident",
			slog.String("incident_id", inc.ID),
			slog.String("objective", inc.Objective),
			slog.String("severity", inc.Severity),
			slog.String("rule", inc.Rule),
			slog.Float64("burn_rate", inc.Impact.BurnRate),
			slog.String("predicted_fault_domain", inc.PredictedFaultDomain),
			slog.Float64("confidence", inc.Confidence),
			slog.Any("trace_ids", inc.TraceIDs),
		)
		return nil
	})
}

func newIncidentID(t time.Time) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("inc-%d", t.UnixNano())
	}
	return fmt.Sprintf("inc-%s-%s", t.UTC().Format("20060102T150405Z"), hex.EncodeToString(b[:]))
}
