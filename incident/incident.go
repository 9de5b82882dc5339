package incident

import (
	"context"
	"log/slog"
	"time"
)

// The severities an [Incident] carries.
const (
	// SeverityPage asks for attention now.
	SeverityPage = "page"
	// SeverityTicket asks for attention within working hours.
	SeverityTicket = "ticket"
)

// Incident is raised when an objective's multi-window burn-rate alert
// condition starts holding. It marshals to the IncidentAttributionV1 JSON
// shape (schemas/incident_attribution_v1.json).
type Incident struct {
	// ID is unique per incident: "inc-<UTC time>-<random hex>".
	ID string `json:"incident_id"`
	// Time is when the condition was found holding.
	Time time.Time `json:"timestamp"`
	// Cluster, Namespace and Service name where it happened (slo.WithCluster,
	// slo.WithService).
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	// Objective is the name of the objective burning its budget.
	Objective string `json:"objective"`
	// Tenant is the tenant, or priority class, the objective is narrowed to
	// (slo.Objective.ForTenant); empty when it judges every tenant.
	Tenant string `json:"tenant,omitempty"`
	// Severity is SeverityPage or SeverityTicket.
	Severity string `json:"severity"`
	// Rule is the condition that started to hold, e.g. "6h>6 and 30m>6".
	Rule string `json:"rule"`
	// PredictedFaultDomain is the most likely fault domain ("unknown" when
	// the evidence is too weak) and Confidence its posterior.
	PredictedFaultDomain string  `json:"predicted_fault_domain"`
	Confidence           float64 `json:"confidence"`
	// Evidence lists the observations behind the ranked domains.
	Evidence []Evidence `json:"evidence"`
	// Impact is the SLO impact: the SLI and the long window's burn rate.
	Impact Impact `json:"slo_impact"`
	// BurnRates are the burn rates over every standard window at Time.
	BurnRates []WindowRate `json:"burn_rates"`
	// TraceIDs and RequestIDs name example bad requests, newest first.
	TraceIDs   []string `json:"trace_ids"`
	RequestIDs []string `json:"request_ids"`
	// Hypotheses are the ranked fault domains: the predicted one first, then
	// each runner-up with the probability that it is at fault too.
	Hypotheses []Hypothesis `json:"fault_hypotheses"`
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

// Condition names one alert condition: a rule of an objective of a service.
// An incident is raised when its condition starts to hold.
type Condition struct {
	Service, Objective, Rule string
}

// Condition returns the alert condition that raised inc.
func (inc Incident) Condition() Condition {
	return Condition{Service: inc.Service, Objective: inc.Objective, Rule: inc.Rule}
}

// A Monitor evaluates alert conditions; [github.com/llmslo/slo.Tracker] is
// one. The sinks that resolve what they opened ([PagerDutySink.ResolveWith],
// [OpsgenieSink.ResolveWith]) ask it.
type Monitor interface {
	// Holding reports whether c holds now; ok is false when c is not one of
	// the monitor's conditions (another service, or an unknown objective).
	// It must be safe for concurrent use.
	Holding(c Condition) (holding, ok bool)
}

// Sink receives incidents. The tracker calls Send from its own goroutine,
// one incident at a time, with a context that carries a deadline; Send
// should hand the incident off quickly. A sink that also implements
// Close(context.Context) error is closed by the tracker's Close.
type Sink interface {
	Send(ctx context.Context, inc Incident) error
}

// SinkFunc adapts a function to [Sink].
type SinkFunc func(ctx context.Context, inc Incident) error

// Send calls f.
func (f SinkFunc) Send(ctx context.Context, inc Incident) error { return f(ctx, inc) }

// SlogSink logs each incident as one record at level Error (page) or Warn
// (ticket) on l. A nil logger yields a sink that does nothing.
func SlogSink(l *slog.Logger) Sink {
	return SinkFunc(func(ctx context.Context, inc Incident) error {
		if l == nil {
			return nil
		}
		level := slog.LevelWarn
		if inc.Severity == SeverityPage {
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
