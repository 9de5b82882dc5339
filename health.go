package slo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/llmslo/slo/correlate"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/metric"
)

// health is a snapshot of the tracker's self-health: what the llmslo-health
// rules watch (docs/design.md §14).
type health struct {
	signals []SignalStatus
	// lost counts evidence dropped before use, by queue (semconv.Queue*).
	lost [4]int64
	// shed counts the overhead guard's trips, by signal (in signals' order).
	shed      []uint64
	overhead  float64
	sidecar   bool // the sidecar is in use
	connected bool // and its session is up
	sinkFails [2]int64
	lastEval  time.Time
	joined    [correlate.NumTiers]int64 // server requests by tier (kernelState.reqTiers)
}

// The queues of health.lost and the sinks of health.sinkFails, in order.
var (
	healthQueues = [4]string{semconv.QueueRingBuffer, semconv.QueueKernel, semconv.QueueIncidents, semconv.QueueSLOEvents}
	healthSinks  = [2]string{semconv.SinkIncident, semconv.SinkSLOEvent}
)

// Indexes of health.sinkFails and Tracker.sinkFailures.
const (
	sinkIncident = iota
	sinkSLOEvent
)

// health takes the snapshot.
func (t *Tracker) health() health {
	h := health{signals: t.KernelStatus(), overhead: -1}
	h.lost[2], h.lost[3] = t.droppedIncidents.Load(), t.droppedEvents.Load()
	h.sinkFails[0], h.sinkFails[1] = t.sinkFailures[0].Load(), t.sinkFailures[1].Load()
	if ns := t.lastEval.Load(); ns != 0 {
		h.lastEval = time.Unix(0, ns)
	}
	h.shed = make([]uint64, len(h.signals))
	if k := t.kern; k != nil {
		for i := range k.reqTiers {
			h.joined[i] = k.reqTiers[i].Load()
		}
	}
	set := t.probeSet()
	if set == nil {
		return h
	}
	st := set.Stats()
	for _, s := range st.Signals {
		h.lost[0] += int64(s.Lost)
		h.lost[1] += int64(s.Dropped)
		for i, sig := range h.signals {
			if sig.Signal == s.Signal.String() {
				h.shed[i] = s.Shed
			}
		}
	}
	h.overhead = st.Overhead
	h.sidecar, h.connected = set.Sidecar()
	return h
}

// probeSet returns the loaded probes, nil before they load, without them or
// after Close.
func (t *Tracker) probeSet() *probes.Set {
	k := t.kern
	if k == nil || t.closed.Load() {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.set
}

// sinkFailed counts a failed delivery to a sink of kind i (sink*) and hands
// err to the error handler.
func (t *Tracker) sinkFailed(i int, err error) {
	t.sinkFailures[i].Add(1)
	t.cfg.errorHandler(err)
}

var (
	descProbeUp = prometheus.NewDesc(semconv.PromProbeUp, "1 when a kernel or runtime signal delivers (on or degraded), 0 when it is off.",
		[]string{"signal", "path"}, nil)
	descEventsLost = prometheus.NewDesc(semconv.PromEventsLost, "Evidence lost before use: kernel records the full ring buffer refused, kernel events the full queue to correlation dropped, incidents and SLO events their full delivery queues dropped.",
		[]string{"queue"}, nil)
	descProbeShed = prometheus.NewDesc(semconv.PromProbeShed, "Times the overhead guard turned a signal off.",
		[]string{"signal"}, nil)
	descProbeOverhead = prometheus.NewDesc(semconv.PromProbeOverhead, "The overhead guard's last measurement of the probes' share of the process's CPU.",
		nil, nil)
	descSidecarConnected = prometheus.NewDesc(semconv.PromSidecarConnected, "1 while the session with the slo-sidecar is up, 0 while it is not (exported only while the sidecar is in use).",
		nil, nil)
	descSinkFailures = prometheus.NewDesc(semconv.PromSinkFailures, "Failed deliveries to incident sinks and to the SLO event sink.",
		[]string{"sink"}, nil)
	descRequestsJoined = prometheus.NewDesc(semconv.PromRequestsJoined, "Server requests by the best tier their kernel evidence joined at (none: no kernel evidence).",
		[]string{"tier"}, nil)
	descLastEvaluation = prometheus.NewDesc(semconv.PromLastEvaluation, "When the tracker last evaluated its alert rules (Unix time).",
		nil, nil)
)

// healthCollector exposes the tracker's self-health at scrape time.
type healthCollector struct{ t *Tracker }

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descProbeUp, descEventsLost, descProbeShed, descProbeOverhead,
		descSidecarConnected, descSinkFailures, descLastEvaluation, descRequestsJoined} {
		ch <- d
	}
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.t.health()
	for i, s := range h.signals {
		ch <- prometheus.MustNewConstMetric(descProbeUp, prometheus.GaugeValue, h.up(i), s.Signal, s.Path)
		ch <- prometheus.MustNewConstMetric(descProbeShed, prometheus.CounterValue, float64(h.shed[i]), s.Signal)
	}
	for i, q := range healthQueues {
		ch <- prometheus.MustNewConstMetric(descEventsLost, prometheus.CounterValue, float64(h.lost[i]), q)
	}
	for tier, n := range h.joined {
		ch <- prometheus.MustNewConstMetric(descRequestsJoined, prometheus.CounterValue, float64(n), correlate.Tier(tier).String())
	}
	for i, s := range healthSinks {
		ch <- prometheus.MustNewConstMetric(descSinkFailures, prometheus.CounterValue, float64(h.sinkFails[i]), s)
	}
	if h.overhead >= 0 {
		ch <- prometheus.MustNewConstMetric(descProbeOverhead, prometheus.GaugeValue, h.overhead)
	}
	if h.sidecar {
		ch <- prometheus.MustNewConstMetric(descSidecarConnected, prometheus.GaugeValue, b2f(h.connected))
	}
	if !h.lastEval.IsZero() {
		ch <- prometheus.MustNewConstMetric(descLastEvaluation, prometheus.GaugeValue, float64(h.lastEval.UnixNano())/1e9)
	}
}

// up is 1 when signal i delivers, 0 when it is off.
func (h *health) up(i int) float64 { return b2f(h.signals[i].State != probes.Off.String()) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// healthInstruments are the OpenTelemetry mirrors of healthCollector.
type healthInstruments struct {
	up, overhead, sidecar, lastEval metric.Float64ObservableGauge
	lost, shed, sinkFails, joined   metric.Int64ObservableCounter
	reg                             metric.Registration
}

// registerHealth creates the self-health instruments on m, observed at
// collection time.
func (t *Tracker) registerHealth(m metric.Meter) (*healthInstruments, error) {
	var (
		h    healthInstruments
		errs []error
	)
	gauge := func(name, unit, desc string) metric.Float64ObservableGauge {
		g, err := m.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	h.up = gauge(semconv.MetricProbeUp, "1", "1 when a kernel or runtime signal delivers, 0 when it is off.")
	h.overhead = gauge(semconv.MetricProbeOverhead, "%", "The overhead guard's last measurement of the probes' share of the process's CPU.")
	h.sidecar = gauge(semconv.MetricSidecarConnected, "1", "1 while the session with the slo-sidecar is up.")
	h.lastEval = gauge(semconv.MetricLastEvaluation, "s", "When the tracker last evaluated its alert rules (Unix time).")
	h.lost = counter(semconv.MetricEventsLost, "{event}", "Evidence lost before use, by queue.")
	h.shed = counter(semconv.MetricProbeShed, "{trip}", "Times the overhead guard turned a signal off.")
	h.sinkFails = counter(semconv.MetricSinkFailures, "{delivery}", "Failed deliveries to incident sinks and to the SLO event sink.")
	h.joined = counter(semconv.MetricRequestsJoined, "{request}", "Server requests by the best tier their kernel evidence joined at.")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var err error
	h.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		h.observe(t.health(), o)
		return nil
	}, h.up, h.overhead, h.sidecar, h.lastEval, h.lost, h.shed, h.sinkFails, h.joined)
	if err != nil {
		return nil, fmt.Errorf("register callback: %w", err)
	}
	return &h, nil
}

func (h *healthInstruments) observe(s health, o metric.Observer) {
	for i, sig := range s.signals {
		name := semconv.SLOSignal.String(sig.Signal)
		o.ObserveFloat64(h.up, s.up(i), metric.WithAttributes(name, semconv.SLOSignalPath.String(sig.Path)))
		o.ObserveInt64(h.shed, int64(s.shed[i]), metric.WithAttributes(name))
	}
	for i, q := range healthQueues {
		o.ObserveInt64(h.lost, s.lost[i], metric.WithAttributes(semconv.SLOQueue.String(q)))
	}
	for tier, n := range s.joined {
		o.ObserveInt64(h.joined, n, metric.WithAttributes(semconv.SLOCorrelationTier.String(correlate.Tier(tier).String())))
	}
	for i, k := range healthSinks {
		o.ObserveInt64(h.sinkFails, s.sinkFails[i], metric.WithAttributes(semconv.SLOSink.String(k)))
	}
	if s.overhead >= 0 {
		o.ObserveFloat64(h.overhead, s.overhead)
	}
	if s.sidecar {
		o.ObserveFloat64(h.sidecar, b2f(s.connected))
	}
	if !s.lastEval.IsZero() {
		o.ObserveFloat64(h.lastEval, float64(s.lastEval.UnixNano())/1e9)
	}
}
