package slo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/incident"
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Tracker measures instrumented requests, judges them against objectives,
// keeps error budgets and burn rates, and raises incidents.
//
// Create one with [New]. A Tracker is safe for concurrent use. It owns one
// background goroutine (incident evaluation and delivery), stopped by
// [Tracker.Close].
//
// A nil *Tracker is a tracker that is off: [Tracker.Instrument] and
// [Tracker.Transport] return the handler and the transport they are given,
// unchanged; [Tracker.Budget], [Tracker.KernelStatus] and
// [Tracker.Incidents] return nothing, [Tracker.Status] the zero Status,
// [Tracker.Holding] false, false, and [Tracker.Close] nil. A zero Tracker
// (Tracker{}, not made by New) behaves the same, and says so through
// otel.Handle each time Instrument or Transport is called on it.
type Tracker struct {
	cfg    *config
	tracer trace.Tracer
	kern   *kernelState
	attr   *attributor
	attrs  attrCache
	otel   *otelInstruments
	prom   *promMetrics
	objs   []*objState
	// filters narrow the objectives of objs, in their order (route.go).
	filters []objFilter

	incidents chan incident.Incident
	events    chan queuedEvent // nil without an event sink or a logger provider
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
	sinkFailures     [2]atomic.Int64 // failed deliveries, by sink kind (sinkIncident, sinkSLOEvent)
	lastEval         atomic.Int64    // Unix ns of the last evaluation of the alert rules
	healthOTel       *healthInstruments
	logger           log.Logger // incidents and SLO events as log records; nil without WithLoggerProvider
	incSpans         sync.Map   // incident ID → exemplar trace.SpanContext, from evaluate to deliver (with a logger)

	recentMu sync.Mutex
	recent   []incident.Incident // the last few incidents, newest last

	goodput goodputCounts // requests that met every objective (goodput.go)
	models  *labelLimiter // gen_ai_request_model values (labels.go)
	// tenantPanic reports once that the WithTenant function panicked.
	tenantPanic sync.Once

	st         stateRuntime       // the state file and seeding (statefile.go)
	seedCancel context.CancelFunc // stops the seeding at start; nil without one
}

// New returns a Tracker configured by opts. It fails only on invalid options,
// each error naming the option or the objective's constructor, the value and
// what is accepted (a threshold under a millisecond, a target outside (0, 1)
// or beyond nine nines, an empty name, route or model, a budget period
// outside an hour to 366 days, two objectives with the same name), and on a
// Prometheus registerer that refuses the collectors (another open Tracker on
// the same registry); every invalid value is reported. Anything that merely
// degrades the tracker is reported by [Tracker.Status].
func New(opts ...Option) (*Tracker, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if s := cfg.state.seed; s != nil && strings.ContainsAny(s.Selector, "{}") {
		return nil, fmt.Errorf("slo: prometheus seed: selector %q: give label matchers without braces", s.Selector)
	}
	t := &Tracker{
		cfg:       cfg,
		tracer:    cfg.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version()), trace.WithSchemaURL(semconv.SchemaURL)),
		incidents: make(chan incident.Incident, 64),
		stop:      make(chan struct{}),
		attr:      newAttributor(cfg.model),
		models:    newLabelLimiter("gen_ai_request_model", cfg.labelLimit, cfg.errorHandler),
	}
	t.logger = newLogger(cfg)
	if cfg.eventSink != nil || t.logger != nil {
		t.events = make(chan queuedEvent, eventQueue)
	}
	start := cfg.now()
	for _, o := range cfg.objectives {
		st, err := newObjState(o, cfg.budgetPeriod, cfg.exemplars, cfg.state.gate())
		if err != nil {
			return nil, fmt.Errorf("slo: objective %s: %w", o.Name(), err)
		}
		t.objs = append(t.objs, st)
	}
	t.filters = newFilters(cfg.objectives)
	if cfg.state.file.path != "" {
		t.restoreState(start)
	}
	for _, o := range t.objs {
		o.series.Start(start) // the windows are observed from now on
	}
	if err := t.startMetrics(); err != nil {
		return nil, err
	}
	for _, o := range t.objs {
		for i, good := range []bool{false, true} {
			o.reqOpt[i] = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(semconv.SLOObjective.String(o.obj.Name()), semconv.SLOGood.Bool(good)))}
			if t.prom != nil {
				o.promReq[i] = t.prom.requests.WithLabelValues(o.obj.Name(), boolLabel(good))
			}
		}
	}
	t.startSeries()
	t.lastEval.Store(start.UnixNano()) // the start counts as the first evaluation (rules hold nothing yet)
	t.startKernel()
	t.wg.Add(1)
	go t.loop()
	if cfg.state.file.path != "" {
		t.wg.Add(1)
		go t.saveLoop()
	}
	if cfg.state.seed != nil {
		var ctx context.Context
		ctx, t.seedCancel = context.WithCancel(context.Background())
		t.st.update(func(s *StateStatus) { s.Seed.State = "pending" })
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			_ = t.Seed(ctx) // the outcome is in Status().State.Seed and the log
		}()
	}
	return t, nil
}

// Close stops the background goroutine, delivers incidents still queued
// (bounded by a 5 s deadline), closes sinks that have a Close method and
// unregisters the Prometheus collectors. Requests still in flight are
// recorded in metrics and spans but raise no further incidents. Close is
// idempotent; later calls return the first call's result.
func (t *Tracker) Close() error {
	if !t.usable() {
		return nil
	}
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		t.stopKernel()
		close(t.stop)
		if t.seedCancel != nil {
			t.seedCancel()
		}
		t.wg.Wait()
		if t.cfg.state.file.path != "" {
			t.saveState()
		}
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
		if t.healthOTel != nil {
			if err := t.healthOTel.reg.Unregister(); err != nil {
				errs = append(errs, err)
			}
		}
		t.closeErr = errors.Join(errs...)
	})
	return t.closeErr
}

// Status is the tracker's own health. It marshals to JSON with snake_case
// names.
type Status struct {
	Requests         int64 `json:"requests"`          // requests recorded
	Incidents        int64 `json:"incidents"`         // incidents raised
	DroppedIncidents int64 `json:"dropped_incidents"` // incidents dropped because the delivery queue was full
	DroppedEvents    int64 `json:"dropped_events"`    // SLO events dropped because the delivery queue was full
	// Signals is, per kernel or runtime signal, the path in use (in_process,
	// sidecar, floor or off) and why; see [Tracker.KernelStatus]. Left out
	// of the JSON when nil (a document that lists the signals elsewhere).
	Signals []SignalStatus `json:"signals,omitempty"`
	// DroppedKernelEvents counts kernel events lost before correlation
	// (the bounded queue to the correlation goroutine was full).
	DroppedKernelEvents int64 `json:"dropped_kernel_events"`
	// State is where the windows' history came from and how saving it goes
	// ([WithStateFile]).
	State StateStatus `json:"state"`
	// Goodput counts the requests that met every objective that judged them.
	Goodput GoodputStatus `json:"goodput"`
	// FoldedLabelValues counts metric label values recorded as
	// [OtherLabelValue] because their label had reached its limit
	// ([WithLabelLimit]).
	FoldedLabelValues int64 `json:"folded_label_values"`

	// The facts the llmslo-health rules watch (docs/design.md §14), as the
	// self-health metrics export them.

	// LostKernelRecords counts records the kernel could not put in the
	// probes' full ring buffers.
	LostKernelRecords int64 `json:"lost_kernel_records"`
	// OverheadSheds counts the overhead guard's trips (signals turned off).
	OverheadSheds int64 `json:"overhead_sheds"`
	// Sidecar is the slo-sidecar session: "unused", "connected" or
	// "disconnected".
	Sidecar string `json:"sidecar"`
	// IncidentSinkFailures and EventSinkFailures count failed deliveries.
	IncidentSinkFailures int64 `json:"incident_sink_failures"`
	EventSinkFailures    int64 `json:"event_sink_failures"`
	// LastEvaluation is when the alert rules were last evaluated (every
	// second; New counts as the first).
	LastEvaluation time.Time `json:"last_evaluation"`
}

// Status reports the tracker's own health and counters.
func (t *Tracker) Status() Status {
	if !t.usable() {
		return Status{}
	}
	h := t.health()
	sidecar := "unused"
	switch {
	case h.sidecar && h.connected:
		sidecar = "connected"
	case h.sidecar:
		sidecar = "disconnected"
	}
	var sheds uint64
	for _, n := range h.shed {
		sheds += n
	}
	return Status{
		LostKernelRecords:    h.lost[0],
		OverheadSheds:        int64(sheds),
		Sidecar:              sidecar,
		IncidentSinkFailures: h.sinkFails[sinkIncident],
		EventSinkFailures:    h.sinkFails[sinkSLOEvent],
		LastEvaluation:       h.lastEval,

		Requests:         t.requestCount.Load(),
		Incidents:        t.incidentCount.Load(),
		DroppedIncidents: t.droppedIncidents.Load(),
		DroppedEvents:    t.droppedEvents.Load(),

		Signals:             t.KernelStatus(),
		DroppedKernelEvents: t.kernelDropped(),
		State:               t.st.get(),
		Goodput:             t.goodput.status(),
		FoldedLabelValues:   t.models.folded(),
	}
}

// startMetrics creates the OpenTelemetry instruments (failures go to the
// error handler: the tracker works without them) and registers the
// Prometheus collectors; it fails only when the registerer refuses them.
func (t *Tracker) startMetrics() error {
	cfg := t.cfg
	meter := cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version()), metric.WithSchemaURL(semconv.SchemaURL))
	var err error
	if t.otel, err = newOTelInstruments(meter); err != nil {
		cfg.errorHandler(fmt.Errorf("slo: create instruments: %w", err))
	}
	if t.healthOTel, err = t.registerHealth(meter); err != nil {
		cfg.errorHandler(fmt.Errorf("slo: create health instruments: %w", err))
	}
	if len(t.objs) > 0 {
		if err := t.otel.registerObjectiveCallback(meter, t); err != nil {
			cfg.errorHandler(fmt.Errorf("slo: register objective callback: %w", err))
		}
	}
	if cfg.registerer == nil {
		return nil
	}
	if t.prom, err = newPromMetrics(cfg.registerer, t); err != nil {
		if t.otel.burnReg != nil {
			_ = t.otel.burnReg.Unregister()
		}
		if t.healthOTel != nil {
			_ = t.healthOTel.reg.Unregister()
		}
		return fmt.Errorf("slo: %w", err)
	}
	return nil
}
