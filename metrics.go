package slo

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/llmslo/slo/internal/burn"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"
)

// Explicit bucket boundaries from the OpenTelemetry GenAI semantic conventions.
var (
	bucketsTTFT     = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
	bucketsTPOT     = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}
	bucketsDuration = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	bucketsTokens   = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	bucketsTPS      = []float64{1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000}
)

// ScopeName is the instrumentation scope of the tracker's tracer and meter.
const ScopeName = "github.com/llmslo/slo"

// otelInstruments are the OpenTelemetry instruments of the server side.
type otelInstruments struct {
	ttft     genaiconv.ServerTimeToFirstToken
	tpot     genaiconv.ServerTimePerOutputToken
	duration genaiconv.ServerRequestDuration
	tokens   metric.Int64Histogram
	ttfb     metric.Float64Histogram
	tps      metric.Float64Histogram
	requests metric.Int64ObservableCounter // read from objState.count at collection
	goodReq  metric.Int64ObservableCounter // read from Tracker.goodput at collection
	goodTok  metric.Int64ObservableCounter
	folds    metric.Int64ObservableCounter // read from Tracker.models at collection
	incident metric.Int64Counter
	burnReg  metric.Registration
}

func newOTelInstruments(m metric.Meter) (*otelInstruments, error) {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	o := &otelInstruments{}
	var err error
	o.ttft, err = genaiconv.NewServerTimeToFirstToken(m, metric.WithExplicitBucketBoundaries(bucketsTTFT...))
	add(err)
	o.tpot, err = genaiconv.NewServerTimePerOutputToken(m, metric.WithExplicitBucketBoundaries(bucketsTPOT...))
	add(err)
	o.duration, err = genaiconv.NewServerRequestDuration(m, metric.WithExplicitBucketBoundaries(bucketsDuration...))
	add(err)
	o.tokens, err = m.Int64Histogram(semconv.MetricServerTokenUsage, metric.WithUnit("{token}"),
		metric.WithDescription("Tokens used per request served, by gen_ai.token.type (input, output; cache_read, cache_write and reasoning, parts of them)."),
		metric.WithExplicitBucketBoundaries(bucketsTokens...))
	add(err)
	o.ttfb, err = m.Float64Histogram(semconv.MetricServerTTFB, metric.WithUnit("s"),
		metric.WithDescription("Time from request start to the first response body byte."),
		metric.WithExplicitBucketBoundaries(bucketsTTFT...))
	add(err)
	o.tps, err = m.Float64Histogram(semconv.MetricServerTokensPerSec, metric.WithUnit("{token}/s"),
		metric.WithDescription("Decode rate: (output tokens - 1) / (E2E - TTFT)."),
		metric.WithExplicitBucketBoundaries(bucketsTPS...))
	add(err)
	o.requests, err = m.Int64ObservableCounter(semconv.MetricRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Requests judged by an SLO objective, by objective and good."))
	add(err)
	o.incident, err = m.Int64Counter(semconv.MetricIncidents, metric.WithUnit("{incident}"),
		metric.WithDescription("Incidents raised by burn-rate alerts."))
	add(err)
	o.goodReq, err = m.Int64ObservableCounter(semconv.MetricGoodputRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Requests judged by at least one objective, by whether they met every objective that judged them (good)."))
	add(err)
	o.goodTok, err = m.Int64ObservableCounter(semconv.MetricGoodputTokens, metric.WithUnit("{token}"),
		metric.WithDescription("Output tokens of the requests of llm.slo.goodput.requests, by good."))
	add(err)
	o.folds, err = m.Int64ObservableCounter(semconv.MetricLabelFolds, metric.WithUnit("{value}"),
		metric.WithDescription("Label values recorded as \"other\" because their label reached its limit of distinct values."))
	add(err)
	return o, errors.Join(errs...)
}

// promMetrics mirror the OTel instruments for a Prometheus registry.
type promMetrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector
	ttft       *prometheus.HistogramVec
	tpot       *prometheus.HistogramVec
	duration   *prometheus.HistogramVec
	ttfb       *prometheus.HistogramVec
	tps        *prometheus.HistogramVec
	tokens     *prometheus.HistogramVec
	requests   *prometheus.CounterVec
	incidents  *prometheus.CounterVec
	goodReq    *prometheus.CounterVec
	goodTok    *prometheus.CounterVec
	folds      *prometheus.CounterVec
}

var promBaseLabels = []string{"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"}

func newPromMetrics(reg prometheus.Registerer, t *Tracker) (*promMetrics, error) {
	p := &promMetrics{reg: reg}
	var names []string // of p.collectors, for errors
	h := func(name, help string, buckets []float64, extra ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets},
			append(append([]string(nil), promBaseLabels...), extra...))
		p.collectors, names = append(p.collectors, v), append(names, name)
		return v
	}
	p.ttft = h("gen_ai_server_time_to_first_token_seconds", "Time to generate the first output token (streaming responses).", bucketsTTFT)
	p.tpot = h("gen_ai_server_time_per_output_token_seconds", "Time per output token after the first one.", bucketsTPOT)
	p.duration = h("gen_ai_server_request_duration_seconds", "GenAI server request duration, start to last byte.", bucketsDuration, "error_type")
	p.ttfb = h("llm_slo_server_time_to_first_byte_seconds", "Time from request start to the first response body byte.", bucketsTTFT)
	p.tps = h("llm_slo_server_decode_tokens_per_sec", "Decode rate: (output tokens - 1) / (E2E - TTFT).", bucketsTPS)
	p.tokens = h("llm_slo_server_token_usage_tokens", "Tokens used per request served.", bucketsTokens, "gen_ai_token_type")
	p.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_slo_requests_total",
		Help: "Requests judged by an SLO objective."}, []string{"objective", "good"})
	p.incidents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_slo_incidents_total",
		Help: "Incidents raised by burn-rate alerts."}, []string{"objective", "severity"})
	p.goodReq = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_slo_goodput_requests_total",
		Help: "Requests judged by at least one objective, by whether they met every objective that judged them (good)."}, []string{"good"})
	p.goodTok = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_slo_goodput_tokens_total",
		Help: "Output tokens of the requests of llm_slo_goodput_requests_total, by good."}, []string{"good"})
	p.folds = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_slo_label_folds_total",
		Help: "Label values recorded as \"other\" because their label reached its limit of distinct values."}, []string{"label"})
	p.collectors = append(p.collectors, p.requests, p.incidents, p.goodReq, p.goodTok, p.folds, &budgetCollector{t: t}, &healthCollector{t: t})
	names = append(names, "llm_slo_requests_total", "llm_slo_incidents_total", "llm_slo_goodput_requests_total",
		"llm_slo_goodput_tokens_total", "llm_slo_label_folds_total", "llm_slo_burn_rate", semconv.PromProbeUp)
	for i, c := range p.collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range p.collectors[:i] {
				reg.Unregister(done)
			}
			return nil, registerError(names[i], err)
		}
	}
	return p, nil
}

// registerError explains a registerer's refusal of the collector of metric
// name. The usual cause is a second Tracker on the registry of a first one
// still open.
func registerError(name string, err error) error {
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		return fmt.Errorf("WithRegisterer: the registerer already holds %s, probably from another Tracker: give each Tracker its own registry (WithRegisterer(prometheus.NewRegistry())), or Close the other Tracker first (Close unregisters its metrics): %w", name, err)
	}
	return fmt.Errorf("WithRegisterer: register %s: %w", name, err)
}

func (p *promMetrics) unregister() {
	for _, c := range p.collectors {
		p.reg.Unregister(c)
	}
}

var (
	descBurnRate = prometheus.NewDesc("llm_slo_burn_rate", "Error-budget burn rate of an objective over a window.",
		[]string{"objective", "window"}, nil)
	descBudget = prometheus.NewDesc("llm_slo_error_budget_remaining", "Remaining error budget over the budget period (1 = untouched, < 0 = exhausted).",
		[]string{"objective"}, nil)
	descCoverage = prometheus.NewDesc("llm_slo_burn_rate_coverage", "Share of the window of llm_slo_burn_rate the tracker has observed (0 to 1).",
		[]string{"objective", "window"}, nil)
	descTarget = prometheus.NewDesc("llm_slo_objective_target", "Target share of good requests of an objective.",
		[]string{"objective"}, nil)
)

// budgetCollector exposes live burn rates and budgets at scrape time.
type budgetCollector struct{ t *Tracker }

func (c *budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descBurnRate
	ch <- descCoverage
	ch <- descBudget
	ch <- descTarget
}

func (c *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range c.t.Budget() {
		for _, w := range b.BurnRates {
			ch <- prometheus.MustNewConstMetric(descBurnRate, prometheus.GaugeValue, w.Rate, b.Objective, w.Window)
			ch <- prometheus.MustNewConstMetric(descCoverage, prometheus.GaugeValue, w.Coverage, b.Objective, w.Window)
		}
		ch <- prometheus.MustNewConstMetric(descBudget, prometheus.GaugeValue, b.RemainingRaw, b.Objective)
		ch <- prometheus.MustNewConstMetric(descTarget, prometheus.GaugeValue, b.Target, b.Objective)
	}
}

// registerObjectiveCallback exports, at collection time, the burn rates and
// budgets (observable gauges) and the per-objective request counts
// (llm.slo.requests): counting a request is then an atomic add on the
// request path, not a measurement through the SDK.
func (o *otelInstruments) registerObjectiveCallback(m metric.Meter, t *Tracker) error {
	burn, err := m.Float64ObservableGauge(semconv.MetricBurnRate, metric.WithUnit("1"),
		metric.WithDescription("Error-budget burn rate of an objective over a window."))
	if err != nil {
		return err
	}
	budget, err := m.Float64ObservableGauge(semconv.MetricBudgetRemaining, metric.WithUnit("1"),
		metric.WithDescription("Remaining error budget over the budget period."))
	if err != nil {
		return err
	}
	coverage, err := m.Float64ObservableGauge(semconv.MetricBurnRateCoverage, metric.WithUnit("1"),
		metric.WithDescription("Share of the window of llm.slo.burn_rate the tracker has observed."))
	if err != nil {
		return err
	}
	o.burnReg, err = m.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		for _, b := range t.Budget() {
			obj := semconv.SLOObjective.String(b.Objective)
			for _, w := range b.BurnRates {
				win := metric.WithAttributes(obj, semconv.SLOWindow.String(w.Window))
				obs.ObserveFloat64(burn, w.Rate, win)
				obs.ObserveFloat64(coverage, w.Coverage, win)
			}
			obs.ObserveFloat64(budget, b.RemainingRaw, metric.WithAttributes(obj))
		}
		o.observeGoodput(obs, t)
		if o.requests != nil {
			for _, st := range t.objs {
				for i := range st.count {
					// A series appears with its first request, as a
					// synchronous counter's would.
					if n := st.count[i].Load(); n > 0 {
						obs.ObserveInt64(o.requests, n, st.reqOpt[i]...)
					}
				}
			}
		}
		return nil
	}, o.callbackInstruments(burn, budget, coverage)...)
	return err
}

func (o *otelInstruments) callbackInstruments(gauges ...metric.Observable) []metric.Observable {
	for _, c := range []metric.Int64ObservableCounter{o.requests, o.goodReq, o.goodTok, o.folds} {
		if c != nil {
			gauges = append(gauges, c)
		}
	}
	return gauges
}

// goodOpts are the attribute sets of llm.slo.goodput.*, by good.
var goodOpts = [2][]metric.ObserveOption{
	{metric.WithAttributes(semconv.SLOGood.Bool(false))},
	{metric.WithAttributes(semconv.SLOGood.Bool(true))},
}

// observeGoodput reports the goodput counters and the label folds.
func (o *otelInstruments) observeGoodput(obs metric.Observer, t *Tracker) {
	for i := range 2 {
		if o.goodReq != nil {
			obs.ObserveInt64(o.goodReq, t.goodput.reqs[i].Load(), goodOpts[i]...)
		}
		if o.goodTok != nil {
			obs.ObserveInt64(o.goodTok, t.goodput.tokens[i].Load(), goodOpts[i]...)
		}
	}
	if o.folds != nil {
		if n := t.models.folded(); n > 0 {
			obs.ObserveInt64(o.folds, n, metric.WithAttributes(semconv.SLOLabel.String(t.models.label)))
		}
	}
}

// startSeries creates the counters' series that start at zero.
func (t *Tracker) startSeries() {
	t.startIncidentSeries()
	t.startGoodputSeries()
}

// startGoodputSeries creates the goodput series at zero (increase() then
// counts the first request) and connects the label folds to their counter.
func (t *Tracker) startGoodputSeries() {
	if t.prom == nil {
		return
	}
	for i, good := range []bool{false, true} {
		t.goodput.promReq[i] = t.prom.goodReq.WithLabelValues(boolLabel(good))
		t.goodput.promToken[i] = t.prom.goodTok.WithLabelValues(boolLabel(good))
	}
	c := t.prom.folds.WithLabelValues(t.models.label)
	t.models.count = func(n int64) { c.Add(float64(n)) }
}

// attrKey identifies the attribute combination of a request's metrics.
type attrKey struct{ op, prov, model, errType string }

// attrEntry holds precomputed measurement options and Prometheus children
// for one attrKey, so that recording a request builds no attribute set.
type attrEntry struct {
	base, dur, in, out                         []metric.RecordOption
	pTTFT, pTPOT, pTPS, pTTFB, pDur, pIn, pOut prometheus.Observer
	// The usage details, by gen_ai.token.type cache_read, cache_write and
	// reasoning (parts of the input and output counts).
	cacheRead, cacheWrite, reasoning    []metric.RecordOption
	pCacheRead, pCacheWrite, pReasoning prometheus.Observer
}

// attrCacheMax bounds each memo; keys beyond it are built per use.
const attrCacheMax = 512

// memo caches values built once per key, up to a bound (values beyond it
// are built per use and not kept).
type memo[K comparable, V any] struct {
	m sync.Map // K → *memoEntry[K, V]
	n atomic.Int64
}

// memoEntry is a cached value with its key.
type memoEntry[K comparable, V any] struct {
	k K
	v V
}

// get returns the value of k, made by build on a miss; at most limit keys
// are kept. last, when not nil, holds the entry its caller used last:
// consecutive uses mostly share one key, found then without hashing.
func (c *memo[K, V]) get(last *atomic.Pointer[memoEntry[K, V]], limit int64, k K, build func() V) V {
	if last != nil {
		if e := last.Load(); e != nil && e.k == k {
			return e.v
		}
	}
	if v, ok := c.m.Load(k); ok {
		e := v.(*memoEntry[K, V])
		if last != nil {
			last.Store(e)
		}
		return e.v
	}
	e := &memoEntry[K, V]{k: k, v: build()}
	if c.n.Load() < limit {
		if prev, loaded := c.m.LoadOrStore(k, e); loaded {
			return prev.(*memoEntry[K, V]).v
		}
		c.n.Add(1)
		if last != nil {
			last.Store(e)
		}
	}
	return e.v
}

// attrCache caches attrEntry values by attrKey.
type attrCache struct {
	memo[attrKey, *attrEntry]
	last atomic.Pointer[memoEntry[attrKey, *attrEntry]]
}

func (c *attrCache) get(k attrKey, p *promMetrics) *attrEntry {
	return c.memo.get(&c.last, attrCacheMax, k, func() *attrEntry { return newAttrEntry(k, p) })
}

func newAttrEntry(k attrKey, p *promMetrics) *attrEntry {
	base := []attribute.KeyValue{semconv.GenAIOperationName.String(k.op), semconv.GenAIProviderName.String(k.prov)}
	if k.model != "" {
		base = append(base, semconv.GenAIRequestModel.String(k.model))
	}
	with := func(extra ...attribute.KeyValue) []metric.RecordOption {
		return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(append(append([]attribute.KeyValue(nil), base...), extra...)...))}
	}
	e := &attrEntry{base: with(), dur: with(), in: with(semconv.GenAITokenType.String("input")),
		out: with(semconv.GenAITokenType.String("output")), cacheRead: with(semconv.GenAITokenType.String(tokenTypeCacheRead)),
		cacheWrite: with(semconv.GenAITokenType.String(tokenTypeCacheWrite)), reasoning: with(semconv.GenAITokenType.String(tokenTypeReasoning))}
	if k.errType != "" {
		e.dur = with(semconv.ErrorType.String(k.errType))
	}
	if p != nil {
		e.pTTFT = p.ttft.WithLabelValues(k.op, k.prov, k.model)
		e.pTPOT = p.tpot.WithLabelValues(k.op, k.prov, k.model)
		e.pTPS = p.tps.WithLabelValues(k.op, k.prov, k.model)
		e.pTTFB = p.ttfb.WithLabelValues(k.op, k.prov, k.model)
		e.pDur = p.duration.WithLabelValues(k.op, k.prov, k.model, k.errType)
		e.pIn = p.tokens.WithLabelValues(k.op, k.prov, k.model, "input")
		e.pOut = p.tokens.WithLabelValues(k.op, k.prov, k.model, "output")
		e.pCacheRead = p.tokens.WithLabelValues(k.op, k.prov, k.model, tokenTypeCacheRead)
		e.pCacheWrite = p.tokens.WithLabelValues(k.op, k.prov, k.model, tokenTypeCacheWrite)
		e.pReasoning = p.tokens.WithLabelValues(k.op, k.prov, k.model, tokenTypeReasoning)
	}
	return e
}

// The gen_ai.token.type values of llm.slo.server.token.usage beyond input
// and output: the parts of them the response's stream reported.
const (
	tokenTypeCacheRead  = "cache_read"
	tokenTypeCacheWrite = "cache_write"
	tokenTypeReasoning  = "reasoning"
)

// attrKVCache caches span attributes whose values are string slices (the
// judged and breached objective sets, the finish reason), which would
// otherwise be built, and allocated, per request.
type attrKVCache struct {
	memo[attrKVKey, attribute.KeyValue]
	last [3]atomic.Pointer[memoEntry[attrKVKey, attribute.KeyValue]] // per use (slot*), the entry used last
}

// The uses of attrKVCache, each with its own last entry.
const (
	slotObjectives = iota
	slotBreached
	slotFinish
)

// attrKVKey identifies a cached attribute: a key with an objective bit set
// or with a single string.
type attrKVKey struct {
	key  attribute.Key
	mask uint64
	s    string
}

func (c *attrKVCache) get(slot int, k attrKVKey, build func() attribute.KeyValue) attribute.KeyValue {
	return c.memo.get(&c.last[slot], attrCacheMax, k, build)
}

// objBit is the bit of objective i in a set of objectives (0 beyond 64).
func objBit(i int) uint64 {
	if i >= 64 {
		return 0
	}
	return 1 << uint(i)
}

// objectiveSetAttr returns key with the names of the objectives in mask, in
// the tracker's order; names, when not nil (more than 64 objectives), are
// used as they are.
func (t *Tracker) objectiveSetAttr(key attribute.Key, mask uint64, names []string) attribute.KeyValue {
	if names != nil {
		return key.StringSlice(names)
	}
	slot := slotObjectives
	if key != semconv.SLOObjective {
		slot = slotBreached
	}
	return t.sliceAttrs.get(slot, attrKVKey{key: key, mask: mask}, func() attribute.KeyValue {
		names := make([]string, 0, bits.OnesCount64(mask))
		for i, o := range t.objs {
			if mask&objBit(i) != 0 {
				names = append(names, o.name)
			}
		}
		return key.StringSlice(names)
	})
}

// finishReasonAttr returns gen_ai.response.finish_reasons with the one
// reason the stream reported (one of the stream decoder's constant strings).
func (t *Tracker) finishReasonAttr(reason string) attribute.KeyValue {
	return t.sliceAttrs.get(slotFinish, attrKVKey{key: semconv.GenAIResponseFinishReasons, s: reason}, func() attribute.KeyValue {
		return semconv.GenAIResponseFinishReasons.StringSlice([]string{reason})
	})
}

// startIncidentSeries creates the incident counters' series of every
// objective and severity at zero, so that increase() over
// llm_slo_incidents_total (and a rate of llm.slo.incidents) counts the
// first incident: a series born with its first increment shows none.
func (t *Tracker) startIncidentSeries() {
	var sevs []string
	for _, r := range burn.DefaultRules() {
		if s := r.Severity.String(); !slices.Contains(sevs, s) {
			sevs = append(sevs, s)
		}
	}
	for _, o := range t.objs {
		for _, sev := range sevs {
			if t.otel != nil && t.otel.incident != nil {
				t.otel.incident.Add(context.Background(), 0, metric.WithAttributes(
					semconv.SLOObjective.String(o.name), semconv.SLOSeverity.String(sev)))
			}
			if t.prom != nil {
				t.prom.incidents.WithLabelValues(o.name, sev)
			}
		}
	}
}
