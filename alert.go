package slo

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/internal/burn"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/metric"
)

// burnWindows are the windows whose burn rates are kept and exported.
var burnWindows = []struct {
	name string
	d    time.Duration
}{
	{"5m", 5 * time.Minute}, {"30m", 30 * time.Minute}, {"1h", time.Hour},
	{"6h", 6 * time.Hour}, {"1d", 24 * time.Hour}, {"3d", 72 * time.Hour},
}

// alertRule is one multi-window, multi-burn-rate condition (DESIGN.md §3).
type alertRule struct {
	severity    string
	long, short time.Duration
	factor      float64
	text        string
}

var alertRules = []alertRule{
	{"page", time.Hour, 5 * time.Minute, 14.4, "1h>14.4 and 5m>14.4"},
	{"page", 6 * time.Hour, 30 * time.Minute, 6, "6h>6 and 30m>6"},
	{"ticket", 72 * time.Hour, 6 * time.Hour, 1, "3d>1 and 6h>1"},
}

const (
	recentIncidents = 20
	maxIncidentIDs  = 10
)

func (r alertRule) level() int {
	if r.severity == "page" {
		return 2
	}
	return 1
}

// objState is the live state of one objective.
type objState struct {
	obj  Objective
	name string // obj.Name(), computed once

	count   [2]atomic.Int64           // requests judged, by good; llm.slo.requests reads them
	reqOpt  [2][]metric.ObserveOption // llm.slo.requests attributes, by good
	promReq [2]prometheus.Counter     // llm_slo_requests_total children, by good; nil without a registerer

	mu        sync.Mutex
	series    *burn.Series
	holding   [3]bool // per alertRules entry: the condition held at the last evaluation
	level     int     // severity level already raised and still holding: 0 none, 1 ticket, 2 page
	exemplars []exemplar
	next      int
}

type exemplar struct {
	traceID   string
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
			for _, o := range t.objs {
				if inc, ok := t.evaluate(o, now); ok {
					t.deliver(inc)
				}
			}
		case <-t.stop:
			for {
				select {
				case inc := <-t.incidents:
					t.deliver(inc)
				case ev := <-t.events:
					t.deliverEvent(ev)
				default:
					return
				}
			}
		}
	}
}

func (t *Tracker) deliver(inc Incident) {
	t.recentMu.Lock()
	t.recent = append(t.recent, inc)
	if len(t.recent) > recentIncidents {
		t.recent = append(t.recent[:0], t.recent[len(t.recent)-recentIncidents:]...)
	}
	t.recentMu.Unlock()
	for _, s := range t.cfg.sinks {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Send(ctx, inc); err != nil {
			t.cfg.errorHandler(fmt.Errorf("slo: incident sink: %w", err))
		}
		cancel()
	}
}

func (t *Tracker) deliverEvent(ev SLOEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.cfg.eventSink.Record(ctx, ev); err != nil {
		t.cfg.errorHandler(fmt.Errorf("slo: event sink: %w", err))
	}
}

// Incidents returns the most recent incidents raised (at most 20), oldest first.
func (t *Tracker) Incidents() []Incident {
	t.recentMu.Lock()
	defer t.recentMu.Unlock()
	return append([]Incident(nil), t.recent...)
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
		}
	}
}

// evaluate checks o's rules at now and returns an incident when the alert
// severity escalates: from none to ticket, or from none or ticket to page. The
// same severity fires again only after every rule of it has cleared.
func (t *Tracker) evaluate(o *objState, now time.Time) (Incident, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fire, level := -1, 0
	var long float64
	for i, r := range alertRules {
		l := o.series.BurnRate(now, r.long)
		holds := l > r.factor && o.series.BurnRate(now, r.short) > r.factor
		o.holding[i] = holds
		if holds && r.level() > level {
			fire, level, long = i, r.level(), l
		}
	}
	if level <= o.level {
		o.level = level // de-escalate or clear; re-arms the higher severities
		return Incident{}, false
	}
	o.level = level
	r := alertRules[fire]
	inc := Incident{
		ID:                   newIncidentID(now),
		Time:                 now,
		Cluster:              t.cfg.cluster,
		Namespace:            t.cfg.namespace,
		Service:              t.cfg.service,
		Objective:            o.obj.Name(),
		Severity:             r.severity,
		Rule:                 r.text,
		PredictedFaultDomain: semconv.DomainUnknown,
		Impact:               Impact{SLI: o.obj.kind.eventSLIName(), BurnRate: long, WindowMinutes: r.long.Minutes()},
		Evidence:             []Evidence{},
		Hypotheses:           []Hypothesis{},
		TraceIDs:             []string{},
		RequestIDs:           []string{},
	}
	if o.obj.kind == sliErrorRate {
		inc.Impact.SLI = "error_rate"
	}
	for _, w := range burnWindows {
		inc.BurnRates = append(inc.BurnRates, WindowRate{Window: w.name, Rate: o.series.BurnRate(now, w.d)})
	}
	// Exemplars, newest first; attribution reads all of them (the bad
	// requests of the burning window), the ID lists keep the newest ten.
	obs := make([]attribution.Observation, 0, len(o.exemplars))
	for i := len(o.exemplars) - 1; i >= 0; i-- {
		ex := o.exemplars[(o.next+i)%len(o.exemplars)]
		if now.Sub(ex.at) > r.long {
			continue
		}
		obs = append(obs, ex.obs)
		if ex.traceID != "" && len(inc.TraceIDs) < maxIncidentIDs {
			inc.TraceIDs = append(inc.TraceIDs, ex.traceID)
		}
		if ex.requestID != "" && len(inc.RequestIDs) < maxIncidentIDs {
			inc.RequestIDs = append(inc.RequestIDs, ex.requestID)
		}
	}
	t.attr.fill(&inc, obs)
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

// BudgetStatus is the live error-budget state of one objective.
type BudgetStatus struct {
	Objective string
	Target    float64
	Good      int64   // judged good over the budget period
	Total     int64   // judged over the budget period
	Remaining float64 // 1 − bad/((1−target)·total) over the budget period; 1 when nothing was judged
	BurnRates []WindowRate
	Alerting  []string // rules whose condition currently holds
}

// Budget returns the live error budget and burn rates of every objective.
func (t *Tracker) Budget() []BudgetStatus {
	now := t.cfg.now()
	out := make([]BudgetStatus, 0, len(t.objs))
	for _, o := range t.objs {
		o.mu.Lock()
		b := BudgetStatus{Objective: o.obj.Name(), Target: o.obj.target, Remaining: o.series.BudgetRemaining(now)}
		b.Good, b.Total = o.series.Counts(now, t.cfg.budgetPeriod)
		for _, w := range burnWindows {
			b.BurnRates = append(b.BurnRates, WindowRate{Window: w.name, Rate: o.series.BurnRate(now, w.d)})
		}
		for i, r := range alertRules {
			if o.holding[i] {
				b.Alerting = append(b.Alerting, r.text)
			}
		}
		o.mu.Unlock()
		out = append(out, b)
	}
	return out
}
