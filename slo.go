package slo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/internal/burn"
	"github.com/llmslo/slo/internal/stream"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Tracker measures instrumented requests, judges them against objectives,
// keeps error budgets and burn rates, and raises incidents.
//
// Create one with [New]; the zero value is not usable. A Tracker is safe for
// concurrent use. It owns one background goroutine (incident evaluation and
// delivery), stopped by [Tracker.Close].
type Tracker struct {
	cfg    *config
	tracer trace.Tracer
	kern   *kernelState
	attr   *attributor
	attrs  attrCache
	otel   *otelInstruments
	prom   *promMetrics
	objs   []*objState

	incidents chan Incident
	events    chan SLOEvent // nil without an event sink
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	obsPool    sync.Pool
	srvObs     sync.Pool // *serverObs: server-side observers with their sink bound once
	sliceAttrs attrKVCache
	client     clientState // the client side (Transport); see transport*.go

	droppedIncidents atomic.Int64
	droppedEvents    atomic.Int64
	incidentCount    atomic.Int64
	requestCount     atomic.Int64

	recentMu sync.Mutex
	recent   []Incident // the last few incidents, newest last
}

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

// New returns a Tracker configured by opts. It fails only on invalid options
// (an objective without a valid target or threshold, two objectives with the
// same name, a Prometheus registerer that refuses the collectors); anything
// that merely degrades the tracker is reported by [Tracker.Status].
func New(opts ...Option) (*Tracker, error) {
	cfg := newConfig(opts)
	seen := make(map[string]bool)
	for _, o := range cfg.objectives {
		if err := o.validate(); err != nil {
			return nil, fmt.Errorf("slo: %w", err)
		}
		if seen[o.Name()] {
			return nil, fmt.Errorf("slo: two objectives named %q; use Objective.Named", o.Name())
		}
		seen[o.Name()] = true
	}
	t := &Tracker{
		cfg:       cfg,
		tracer:    cfg.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version()), trace.WithSchemaURL(semconv.SchemaURL)),
		incidents: make(chan Incident, 64),
		stop:      make(chan struct{}),
		attr:      newAttributor(cfg.model),
	}
	if cfg.eventSink != nil {
		t.events = make(chan SLOEvent, eventQueue)
	}
	for _, o := range cfg.objectives {
		series, err := burn.NewSeries(o.target, cfg.budgetPeriod)
		if err != nil {
			return nil, fmt.Errorf("slo: objective %s: %w", o.Name(), err)
		}
		t.objs = append(t.objs, &objState{obj: o, name: o.Name(), series: series, exemplars: make([]exemplar, 0, cfg.exemplars)})
	}
	meter := cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version()), metric.WithSchemaURL(semconv.SchemaURL))
	var err error
	if t.otel, err = newOTelInstruments(meter); err != nil {
		cfg.errorHandler(fmt.Errorf("slo: create instruments: %w", err))
	}
	if len(t.objs) > 0 {
		if err := t.otel.registerObjectiveCallback(meter, t); err != nil {
			cfg.errorHandler(fmt.Errorf("slo: register objective callback: %w", err))
		}
	}
	if cfg.registerer != nil {
		if t.prom, err = newPromMetrics(cfg.registerer, t); err != nil {
			if t.otel.burnReg != nil {
				_ = t.otel.burnReg.Unregister()
			}
			return nil, fmt.Errorf("slo: %w", err)
		}
	}
	for _, o := range t.objs {
		for i, good := range []bool{false, true} {
			o.reqOpt[i] = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(semconv.SLOObjective.String(o.obj.Name()), semconv.SLOGood.Bool(good)))}
			if t.prom != nil {
				o.promReq[i] = t.prom.requests.WithLabelValues(o.obj.Name(), boolLabel(good))
			}
		}
	}
	t.startKernel()
	t.wg.Add(1)
	go t.loop()
	return t, nil
}

// Close stops the background goroutine, delivers incidents still queued
// (bounded by a 5 s deadline), closes sinks that have a Close method and
// unregisters the Prometheus collectors. Requests still in flight are
// recorded in metrics and spans but raise no further incidents. Close is
// idempotent; later calls return the first call's result.
func (t *Tracker) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		t.stopKernel()
		close(t.stop)
		t.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var errs []error
		for _, s := range t.cfg.sinks {
			if c, ok := s.(interface{ Close(context.Context) error }); ok {
				if err := c.Close(ctx); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if t.prom != nil {
			t.prom.unregister()
		}
		t.closeClient()
		if t.otel != nil && t.otel.burnReg != nil {
			if err := t.otel.burnReg.Unregister(); err != nil {
				errs = append(errs, err)
			}
		}
		t.closeErr = errors.Join(errs...)
	})
	return t.closeErr
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

// Status is the tracker's own health.
type Status struct {
	Requests         int64 // requests recorded
	Incidents        int64 // incidents raised
	DroppedIncidents int64 // incidents dropped because the delivery queue was full
	DroppedEvents    int64 // SLO events dropped because the delivery queue was full
	// Signals is, per kernel or runtime signal, the path in use (in_process,
	// sidecar, floor or off) and why; see [Tracker.KernelStatus].
	Signals []SignalStatus
	// DroppedKernelEvents counts kernel events lost before correlation
	// (the bounded queue to the correlation goroutine was full).
	DroppedKernelEvents int64
}

// Status reports the tracker's own health and counters.
func (t *Tracker) Status() Status {
	return Status{
		Requests:         t.requestCount.Load(),
		Incidents:        t.incidentCount.Load(),
		DroppedIncidents: t.droppedIncidents.Load(),
		DroppedEvents:    t.droppedEvents.Load(),

		Signals:             t.KernelStatus(),
		DroppedKernelEvents: t.kernelDropped(),
	}
}

func (t *Tracker) putObserver(o *stream.Observer) {
	if o != nil {
		o.Reset("", stream.DialectUnknown, nil)
		t.obsPool.Put(o)
	}
}

// finish computes the request's SLIs, judges them, records metrics and
// annotates the span. It runs once per request, on the handler's goroutine.
func (t *Tracker) finish(ctx context.Context, rq *Request, ctxErr error) {
	end := rq.clock()
	s := rq.compute(end, ctxErr)
	t.putServerObserver(rq.sobs)
	rq.sobs = nil
	t.requestCount.Add(1)

	span := rq.span
	recording := span.IsRecording()
	kattrs := t.kernelFinish(rq, &s)
	obs := t.observation(&s, kattrs)
	var badObs *attribution.Observation
	var traceID string
	now := t.cfg.now()
	allGood := true
	// The judged and breached objectives as bit sets over t.objs (their span
	// attributes are cached per set); by name beyond 64 objectives.
	var judged, breached uint64
	var judgedN, breachedN int
	var judgedNames, breachedNames []string
	byName := len(t.objs) > 64
	for i, o := range t.objs {
		if !o.obj.applies(s.route, s.model) {
			continue
		}
		v, value := o.obj.judge(&s)
		if v == notJudged {
			continue
		}
		judged |= objBit(i)
		judgedN++
		if byName {
			judgedNames = append(judgedNames, o.name)
		}
		ok := v == good
		ex := exemplar{}
		if !ok {
			allGood = false
			breached |= objBit(i)
			breachedN++
			if byName {
				breachedNames = append(breachedNames, o.name)
			}
			if traceID == "" && span.SpanContext().HasTraceID() {
				traceID = span.SpanContext().TraceID().String()
			}
			if badObs == nil {
				x := t.attr.excess(obs)
				badObs = &x
			}
			ex = exemplar{traceID: traceID, requestID: rq.requestID, value: value, at: now, obs: *badObs}
		}
		t.record(o, now, ok, ex)
		if t.events != nil {
			if traceID == "" && span.SpanContext().HasTraceID() {
				traceID = span.SpanContext().TraceID().String()
			}
			select {
			case t.events <- t.sloEvent(o, &s, ok, value, traceID, rq.requestID, now):
			default:
				t.droppedEvents.Add(1)
			}
		}
		o.count[boolIndex(ok)].Add(1)
		if o.promReq[0] != nil {
			o.promReq[boolIndex(ok)].Inc()
		}
	}

	if judgedN > 0 && allGood {
		t.attr.learn(obs)
	}
	t.recordMetrics(ctx, &s)

	if recording {
		attrs := make([]attribute.KeyValue, 0, 24)
		attrs = append(attrs,
			semconv.GenAIOperationName.String(s.operation),
			semconv.GenAIProviderName.String(s.provider),
			semconv.SLOE2EMs.Float64(durMs(s.e2e)),
			semconv.SLOStreamFormat.String(s.format),
			semconv.SLOStreamDialect.String(s.dialect),
		)
		if !s.hijacked {
			attrs = append(attrs, semconv.HTTPResponseStatusCode.Int(s.status))
		}
		if s.model != "" {
			attrs = append(attrs, semconv.GenAIRequestModel.String(s.model))
		}
		if s.respModel != "" {
			attrs = append(attrs, semconv.GenAIResponseModel.String(s.respModel))
		}
		if s.hasTTFB {
			attrs = append(attrs, semconv.SLOTTFBMs.Float64(durMs(s.ttfb)))
		}
		if s.hasTTFT {
			attrs = append(attrs, semconv.SLOTTFTMs.Float64(durMs(s.ttft)),
				semconv.SLOOutputChunks.Int64(s.outChunks))
		}
		if s.outChunks > 1 {
			attrs = append(attrs, semconv.SLOITLMaxMs.Float64(durMs(s.itlMax)), semconv.SLOITLMeanMs.Float64(durMs(s.itlMean)))
		}
		if s.hasTPOT {
			attrs = append(attrs, semconv.SLOTPOTMs.Float64(durMs(s.tpot)), semconv.SLOTokensPerSec.Float64(s.tokensPerSec))
		}
		if s.outTokens >= 0 {
			attrs = append(attrs, semconv.GenAIUsageOutputTokens.Int64(s.outTokens), semconv.SLOTokensEstimated.Bool(s.estimated))
		}
		if s.inTokens >= 0 {
			attrs = append(attrs, semconv.GenAIUsageInputTokens.Int64(s.inTokens))
		}
		if s.finishReason != "" {
			attrs = append(attrs, t.finishReasonAttr(s.finishReason))
		}
		if s.providerWait > 0 {
			attrs = append(attrs, semconv.SLOProviderWaitMs.Float64(durMs(s.providerWait)))
		}
		if s.cancelled {
			attrs = append(attrs, semconv.SLOCancelled.Bool(true))
		}
		if s.errorType != "" && !s.cancelled {
			attrs = append(attrs, semconv.ErrorType.String(s.errorType))
		}
		if judgedN > 0 {
			attrs = append(attrs, t.objectiveSetAttr(semconv.SLOObjective, judged, judgedNames), semconv.SLOGood.Bool(allGood))
			if breachedN > 0 {
				attrs = append(attrs, t.objectiveSetAttr(semconv.SLOBreached, breached, breachedNames))
			}
		}
		attrs = append(attrs, kattrs...)
		if badObs != nil {
			v := attribution.Attribute(*badObs, t.attr.model)
			attrs = append(attrs, semconv.SLOFaultDomain.String(v.Top.String()), semconv.SLOFaultPosterior.Float64(v.Confidence))
		}
		span.SetAttributes(attrs...)
		if rq.own && s.failed {
			span.SetStatus(codes.Error, s.errorType)
		}
	}
	if rq.own {
		span.End()
	}
}

// recordMetrics records the request's SLIs; ctx carries the trace that the
// latency histograms' exemplars point at. Token usage and decode speed are
// recorded without it (no exemplar): they would only repeat those links, at
// the cost of one exemplar offer each.
func (t *Tracker) recordMetrics(ctx context.Context, s *sli) {
	o, p := t.otel, t.prom
	if o == nil && p == nil {
		return
	}
	e := t.attrs.get(attrKey{op: s.operation, prov: s.provider, model: s.model, errType: s.errorType}, p)
	if o != nil {
		if s.hasTTFT {
			o.ttft.Inst().Record(ctx, s.ttft.Seconds(), e.base...)
		}
		if s.hasTPOT {
			o.tpot.Inst().Record(ctx, s.tpot.Seconds(), e.base...)
			if s.tokensPerSec > 0 {
				o.tps.Record(context.Background(), s.tokensPerSec, e.base...)
			}
		}
		o.duration.Inst().Record(ctx, s.e2e.Seconds(), e.dur...)
		if s.hasTTFB {
			o.ttfb.Record(ctx, s.ttfb.Seconds(), e.base...)
		}
		if s.inTokens >= 0 {
			o.tokens.Record(context.Background(), s.inTokens, e.in...)
		}
		if s.outTokens >= 0 {
			o.tokens.Record(context.Background(), s.outTokens, e.out...)
		}
	}
	if p != nil {
		if s.hasTTFT {
			e.pTTFT.Observe(s.ttft.Seconds())
		}
		if s.hasTPOT {
			e.pTPOT.Observe(s.tpot.Seconds())
			if s.tokensPerSec > 0 {
				e.pTPS.Observe(s.tokensPerSec)
			}
		}
		e.pDur.Observe(s.e2e.Seconds())
		if s.hasTTFB {
			e.pTTFB.Observe(s.ttfb.Seconds())
		}
		if s.inTokens >= 0 {
			e.pIn.Observe(float64(s.inTokens))
		}
		if s.outTokens >= 0 {
			e.pOut.Observe(float64(s.outTokens))
		}
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
