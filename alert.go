package slo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/incident"
	"github.com/llmslo/slo/internal/burn"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

const (
	recentIncidents = 20
	maxIncidentIDs  = 10
)

// objState is the live state of one objective.
type objState struct {
	obj  Objective
	name string // obj.Name(), computed once

	count   [2]atomic.Int64           // requests judged, by good; llm.slo.requests reads them
	reqOpt  [2][]metric.ObserveOption // llm.slo.requests attributes, by good
	promReq [2]prometheus.Counter     // llm_slo_requests_total children, by good; nil without a registerer

	mu        sync.Mutex
	series    *burn.Series
	alerts    *burn.Alerter // the standard rules over series
	exemplars []exemplar
	next      int
	restored  bool // the windows came from the state file
	seeded    bool // the long windows were seeded from the fleet
}

// newObjState returns the state of o, its series keeping budgets over period
// and its rules gated by g.
func newObjState(o Objective, period time.Duration, exemplars int, g burn.Gate) (*objState, error) {
	series, err := burn.NewSeries(o.target, period)
	if err != nil {
		return nil, err
	}
	alerts, err := burn.NewAlerter(series, burn.DefaultRules(), g)
	if err != nil {
		return nil, err
	}
	return &objState{obj: o, name: o.Name(), series: series, alerts: alerts, exemplars: make([]exemplar, 0, exemplars)}, nil
}

type exemplar struct {
	traceID   string
	span      trace.SpanContext // the request's span, for the incident's log record
	requestID string
	value     float64
	at        time.Time
	obs       attribution.Observation // evidence, as excess over the healthy baselines
}

// loop evaluates alert conditions every evalInterval (they can start to hold,
// or clear, while no request arrives) and delivers incidents to the sinks.
func (t *Tracker) loop() {
	defer t.wg.Done()
	tick := time.NewTicker(t.cfg.evalInterval)
	defer tick.Stop()
	for {
		select {
		case inc := <-t.incidents:
			t.deliver(inc)
		case ev := <-t.events:
			t.deliverEvent(ev)
		case <-tick.C:
			now := t.cfg.now()
			t.lastEval.Store(now.UnixNano())
			for _, o := range t.objs {
				if inc, ok := t.evaluate(o, now); ok {
					t.deliver(inc)
				}
			}
		case <-t.stop:
			for t.deliverQueued() {
			}
			return
		}
	}
}

// deliverQueued delivers one queued incident or event and reports whether
// there was one.
func (t *Tracker) deliverQueued() bool {
	select {
	case inc := <-t.incidents:
		t.deliver(inc)
	case ev := <-t.events:
		t.deliverEvent(ev)
	default:
		return false
	}
	return true
}

func (t *Tracker) deliver(inc incident.Incident) {
	t.recentMu.Lock()
	t.recent = append(t.recent, inc)
	if len(t.recent) > recentIncidents {
		t.recent = append(t.recent[:0], t.recent[len(t.recent)-recentIncidents:]...)
	}
	t.recentMu.Unlock()
	if t.logger != nil {
		sc, _ := t.incSpans.LoadAndDelete(inc.ID)
		span, _ := sc.(trace.SpanContext)
		t.logIncident(inc, span)
	}
	for _, s := range t.cfg.sinks {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Send(ctx, inc); err != nil {
			t.sinkFailed(sinkIncident, fmt.Errorf("slo: incident sink: %w", err))
		}
		cancel()
	}
}

func (t *Tracker) deliverEvent(q queuedEvent) {
	ev := q.ev
	if t.logger != nil {
		t.logEvent(ev, q.span)
	}
	if t.cfg.eventSink == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.cfg.eventSink.Record(ctx, ev); err != nil {
		t.sinkFailed(sinkSLOEvent, fmt.Errorf("slo: event sink: %w", err))
	}
}

// Incidents returns the most recent incidents raised (at most 20), oldest first.
func (t *Tracker) Incidents() []incident.Incident {
	if !t.usable() {
		return nil
	}
	t.recentMu.Lock()
	defer t.recentMu.Unlock()
	return append([]incident.Incident(nil), t.recent...)
}

// record adds one judged request to o and evaluates its alert rules.
func (t *Tracker) record(o *objState, now time.Time, ok bool, ex exemplar) {
	o.mu.Lock()
	o.series.Add(now, ok)
	if !ok && cap(o.exemplars) > 0 {
		if len(o.exemplars) < cap(o.exemplars) {
			o.exemplars = append(o.exemplars, ex)
		} else {
			o.exemplars[o.next] = ex
			o.next = (o.next + 1) % len(o.exemplars)
		}
	}
	o.mu.Unlock()
	if ok {
		return // a good request never makes an alert condition start holding
	}
	if inc, fired := t.evaluate(o, now); fired && !t.closed.Load() {
		select {
		case t.incidents <- inc:
		default:
			t.droppedIncidents.Add(1)
			t.incSpans.Delete(inc.ID)
		}
	}
}

// evaluate checks o's rules at now and returns an incident when the alert
// severity rises (see burn.Alerter): from none to ticket, or from none or
// ticket to page. The same severity fires again only after every rule of it
// has stopped holding.
func (t *Tracker) evaluate(o *objState, now time.Time) (incident.Incident, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, fired := o.alerts.Fire(now)
	if !fired {
		return incident.Incident{}, false
	}
	inc := incident.Incident{
		ID:                   newIncidentID(now),
		Time:                 now,
		Cluster:              t.cfg.cluster,
		Namespace:            t.cfg.namespace,
		Service:              t.cfg.service,
		Objective:            o.name,
		Tenant:               o.obj.Tenant(),
		Severity:             a.Severity.String(),
		Rule:                 a.Rule.String(),
		PredictedFaultDomain: semconv.DomainUnknown,
		Impact:               incident.Impact{SLI: o.obj.kind.eventSLIName(), BurnRate: a.Long.Rate, WindowMinutes: a.Rule.Long.Minutes()},
		BurnRates:            burnRates(o.series, now),
		Evidence:             []incident.Evidence{},
		Hypotheses:           []incident.Hypothesis{},
		TraceIDs:             []string{},
		RequestIDs:           []string{},
	}
	if o.obj.kind == sliErrorRate {
		inc.Impact.SLI = "error_rate"
	}
	obs, span := o.exemplarsSince(now.Add(-a.Rule.Long), &inc)
	t.attr.fill(&inc, obs)
	if t.logger != nil && span.IsValid() {
		t.incSpans.Store(inc.ID, span)
	}
	t.incidentCount.Add(1)
	if t.otel != nil {
		t.otel.incident.Add(context.Background(), 1, metric.WithAttributes(
			semconv.SLOObjective.String(inc.Objective), semconv.SLOSeverity.String(inc.Severity)))
	}
	if t.prom != nil {
		t.prom.incidents.WithLabelValues(inc.Objective, inc.Severity).Inc()
	}
	return inc, true
}

// exemplarsSince returns the evidence of the exemplars at or after since,
// newest first (attribution reads all of them: the bad requests of the
// burning window), and adds the newest ten trace and request IDs to inc.
// It also returns the span of the newest exemplar with a trace. The caller
// holds o.mu.
func (o *objState) exemplarsSince(since time.Time, inc *incident.Incident) ([]attribution.Observation, trace.SpanContext) {
	obs := make([]attribution.Observation, 0, len(o.exemplars))
	var span trace.SpanContext
	for i := len(o.exemplars) - 1; i >= 0; i-- {
		ex := o.exemplars[(o.next+i)%len(o.exemplars)]
		if ex.at.Before(since) {
			continue
		}
		obs = append(obs, ex.obs)
		if ex.traceID != "" && len(inc.TraceIDs) < maxIncidentIDs {
			inc.TraceIDs = append(inc.TraceIDs, ex.traceID)
			if !span.IsValid() {
				span = ex.span
			}
		}
		if ex.requestID != "" && len(inc.RequestIDs) < maxIncidentIDs {
			inc.RequestIDs = append(inc.RequestIDs, ex.requestID)
		}
	}
	return obs, span
}

// burnRates returns the burn rates of s at now over the standard windows,
// the ones exported and put in incidents.
func burnRates(s *burn.Series, now time.Time) []incident.WindowRate {
	ws := burn.StandardWindows()
	out := make([]incident.WindowRate, len(ws))
	for i, w := range ws {
		out[i] = incident.WindowRate{Window: w.Name, Rate: s.BurnRate(now, w.Dur)}
	}
	return out
}

func newIncidentID(t time.Time) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("inc-%d", t.UnixNano())
	}
	return fmt.Sprintf("inc-%s-%s", t.UTC().Format("20060102T150405Z"), hex.EncodeToString(b[:]))
}

// Holding reports whether the alert condition c held at the tracker's last
// evaluation; ok is false when c is not the tracker's (another service, or
// an objective it does not judge). It makes the tracker an
// [incident.Monitor], which [incident.PagerDutySink.ResolveWith] and
// [incident.OpsgenieSink.ResolveWith] watch to resolve what they opened.
func (t *Tracker) Holding(c incident.Condition) (holding, ok bool) {
	if !t.usable() || c.Service != t.cfg.service {
		return false, false
	}
	for _, o := range t.objs {
		if o.name != c.Objective {
			continue
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		for r := range o.alerts.Holding() {
			if r.String() == c.Rule {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

// AlertRule is one multi-window, multi-burn-rate condition: it holds when
// the burn rates over both the Long and the Short window exceed Factor.
type AlertRule struct {
	Severity    string // incident.SeverityPage or incident.SeverityTicket
	Long, Short time.Duration
	Factor      float64
}

// String returns the rule as incidents and [BudgetStatus.Alerting] name it,
// e.g. "6h>6 and 30m>6".
func (r AlertRule) String() string {
	return burn.Rule{Long: r.Long, Short: r.Short, Factor: r.Factor}.String()
}

// AlertRules returns, most severe first and in a new slice, the rules the
// tracker evaluates for every objective and [PrometheusRules] writes out
// (docs/design.md §8), for a dashboard or a status page to show.
func AlertRules() []AlertRule {
	rules := burn.DefaultRules()
	out := make([]AlertRule, len(rules))
	for i, r := range rules {
		out[i] = AlertRule{Severity: r.Severity.String(), Long: r.Long, Short: r.Short, Factor: r.Factor}
	}
	return out
}
