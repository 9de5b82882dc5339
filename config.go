package slo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/correlate"
	"github.com/llmslo/slo/incident"
	"github.com/llmslo/slo/probes"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// config is the resolved configuration of a Tracker.
type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	loggerProvider log.LoggerProvider // nil: no log records (logs.go)
	propagators    propagation.TextMapPropagator
	registerer     prometheus.Registerer
	objectives     []Objective
	logger         *slog.Logger
	sinks          []incident.Sink
	service        string
	cluster        string
	namespace      string
	errorHandler   func(error)
	budgetPeriod   time.Duration
	evalInterval   time.Duration
	exemplars      int
	model          *attribution.Model
	kernel         kernelConfig // probes and correlation
	eventSink      EventSink
	recordFunc     func(context.Context, RequestRecord)
	state          stateConfig // burn-rate windows: coverage, minimum requests (coverage.go)
	labelLimit     int         // distinct values per label from outside (labels.go); 0: DefaultLabelLimit
	tenant         func(*http.Request) string
	now            func() time.Time
	semconv        Semconv // GenAI conventions of the client side (genai.go)
	errs           []error // invalid option values, returned by New
}

// validate returns every invalid option value and objective, each error
// naming the option or the objective's constructor, the value and what is
// accepted; nil when all are valid.
func (c *config) validate() error {
	errs := append([]error(nil), c.errs...)
	seen := make(map[string]bool)
	for _, o := range c.objectives {
		if err := o.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[o.Name()] {
			errs = append(errs, fmt.Errorf("two objectives named %q; use Objective.Named", o.Name()))
		}
		seen[o.Name()] = true
	}
	for i, err := range errs {
		errs[i] = fmt.Errorf("slo: %w", err)
	}
	return errors.Join(errs...)
}

// kernelConfig is the kernel part of the tracker configuration.
type kernelConfig struct {
	off    bool
	probes probes.Config
	join   correlate.Config
}

// Option configures a [Tracker]. Options are applied in order; a later option
// overrides an earlier one.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) *config {
	c := &config{
		budgetPeriod: 30 * 24 * time.Hour,
		evalInterval: time.Second,
		exemplars:    64,
		service:      "unknown_service",
		now:          time.Now,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	// The otel globals are read once, here, and never written.
	if c.tracerProvider == nil {
		c.tracerProvider = otel.GetTracerProvider()
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	if c.propagators == nil {
		c.propagators = otel.GetTextMapPropagator()
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.errorHandler == nil {
		c.errorHandler = otel.Handle
	}
	if c.semconv == 0 {
		c.semconv = semconvFromEnv(os.Getenv(envSemconvOptIn)) // read once, here
	}
	if c.labelLimit == 0 {
		c.labelLimit = DefaultLabelLimit
	}
	return c
}

// WithTracerProvider sets the TracerProvider used for server and client spans.
// The default is the global provider at the time [New] is called. A nil
// provider is ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tracerProvider = tp
		}
	})
}

// WithMeterProvider sets the MeterProvider used for the OpenTelemetry metrics.
// The default is the global provider at the time [New] is called. A nil
// provider is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

// WithPropagators sets the propagators used to extract the incoming trace
// context when no span is active yet. The default is the global propagator at
// the time [New] is called. A nil value is ignored.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) {
		if p != nil {
			c.propagators = p
		}
	})
}

// WithRegisterer registers the tracker's Prometheus collectors with r. The
// default is none: no Prometheus metrics. [Tracker.Close] unregisters them.
// A nil registerer is ignored.
func WithRegisterer(r prometheus.Registerer) Option {
	return optionFunc(func(c *config) {
		if r != nil {
			c.registerer = r
		}
	})
}

// WithObjectives adds service-level objectives judged on every request. The
// default is none: SLIs are still measured and exported, nothing is judged.
func WithObjectives(objs ...Objective) Option {
	return optionFunc(func(c *config) { c.objectives = append(c.objectives, objs...) })
}

// WithLogger sets the logger for the tracker's own diagnostics (at most one
// line per cause), the kernel probes' included (which path each signal took:
// in-process, the sidecar or the unprivileged floor) unless [WithProbes]
// gives them a [probes.Config] Logger of their own. The default discards
// everything. A nil logger is ignored.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithIncidentSink adds destinations for incidents raised by burn-rate alerts.
// The tracker delivers from its own goroutine, never from a request. A sink
// that also has a Close(context.Context) error method is closed by
// [Tracker.Close]. Nil sinks are ignored.
func WithIncidentSink(sinks ...incident.Sink) Option {
	return optionFunc(func(c *config) {
		for _, s := range sinks {
			if s != nil {
				c.sinks = append(c.sinks, s)
			}
		}
	})
}

// WithService names the service in incidents and SLO events. The default is
// "unknown_service".
func WithService(name string) Option {
	return optionFunc(func(c *config) {
		if name != "" {
			c.service = name
		}
	})
}

// WithCluster sets the cluster and namespace reported in incidents. Empty
// values are left out of the output.
func WithCluster(cluster, namespace string) Option {
	return optionFunc(func(c *config) {
		c.cluster, c.namespace = cluster, namespace
	})
}

// WithErrorHandler receives errors that happen in the background (a failed
// sink delivery, a metric registration). The default is otel.Handle. A nil
// handler is ignored.
func WithErrorHandler(h func(error)) Option {
	return optionFunc(func(c *config) {
		if h != nil {
			c.errorHandler = h
		}
	})
}

// The range of [WithBudgetPeriod].
const (
	minBudgetPeriod = time.Hour
	maxBudgetPeriod = 366 * 24 * time.Hour
)

// WithBudgetPeriod sets the period over which error budgets are computed,
// from an hour to 366 days. The default is 30 days. [New] rejects a period
// outside that range.
func WithBudgetPeriod(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < minBudgetPeriod || d > maxBudgetPeriod {
			c.errs = append(c.errs, fmt.Errorf("WithBudgetPeriod(%v): the budget period must be from %v to %v (366 days)", d, minBudgetPeriod, maxBudgetPeriod))
			return
		}
		c.budgetPeriod = d
	})
}

// WithAttributionModel sets the fitted model used to rank fault domains of
// bad requests and incidents (see package attribution and the incident lab).
// The default is [attribution.DefaultModel], the model the incident lab
// fitted; without a usable model the latency-budget decomposition ranks
// alone. A nil model is ignored (the default stays).
func WithAttributionModel(m *attribution.Model) Option {
	return optionFunc(func(c *config) {
		if m != nil {
			c.model = m
		}
	})
}

// WithoutProbes turns the kernel probes off: spans then carry only what the
// request's own client calls measured (httptrace), marked with the httptrace
// tier and the floor path.
func WithoutProbes() Option {
	return optionFunc(func(c *config) { c.kernel.off = true })
}

// WithProbes selects and tunes the kernel probes (see [probes.Config]; its
// zero value, the default, asks for every signal the host supports). It
// undoes an earlier [WithoutProbes].
func WithProbes(cfg probes.Config) Option {
	return optionFunc(func(c *config) { c.kernel.off, c.kernel.probes = false, cfg })
}

// withCorrelate tunes the joiner; for tests.
func withCorrelate(cfg correlate.Config) Option {
	return optionFunc(func(c *config) { c.kernel.join = cfg })
}

// WithRequestRecords calls f with the [RequestRecord] of every request
// served through [Tracker.Instrument]: its SLIs, the objectives it met or
// missed, its outbound calls, its kernel evidence and the attribution
// evidence built from them. f runs on the goroutine that served the
// request, after its span ended and before Instrument returns, with the
// request's context; it must return quickly. The default is none. A nil f
// is ignored.
func WithRequestRecords(f func(ctx context.Context, r RequestRecord)) Option {
	return optionFunc(func(c *config) {
		if f != nil {
			c.recordFunc = f
		}
	})
}

// withClock replaces the clock; for tests.
func withClock(now func() time.Time) Option {
	return optionFunc(func(c *config) {
		if now != nil {
			c.now = now
		}
	})
}

// TransportOption configures one [Tracker.Transport].
type TransportOption interface {
	applyTransport(*transportConfig)
}

type transportConfig struct {
	retrieval bool
	provider  string
	operation string
}

type transportOptionFunc func(*transportConfig)

func (f transportOptionFunc) applyTransport(c *transportConfig) { f(c) }

// Retrieval marks the transport's calls as calls to a retrieval backend (a
// vector database, a search service) rather than to an LLM provider: their
// bodies are not decoded as token streams, no gen_ai.client.* metric is
// recorded for them, and they count as retrieval time (not provider time)
// in the enclosing server request.
func Retrieval() TransportOption {
	return transportOptionFunc(func(c *transportConfig) { c.retrieval = true })
}

// WithProviderName sets gen_ai.provider.name for every call of the transport
// (e.g. "openai", "anthropic", "ollama", "azure.ai.openai") instead of
// detecting it from the host, path, headers and body. An empty name is
// ignored.
func WithProviderName(name string) TransportOption {
	return transportOptionFunc(func(c *transportConfig) {
		if name != "" {
			c.provider = name
		}
	})
}

// WithOperationName sets gen_ai.operation.name for every call of the
// transport (e.g. "chat", "embeddings") instead of deriving it from the
// request path. An empty name is ignored.
func WithOperationName(name string) TransportOption {
	return transportOptionFunc(func(c *transportConfig) {
		if name != "" {
			c.operation = name
		}
	})
}

// WithLabelLimit sets how many distinct values a metric label whose values
// come from outside the process may take (gen_ai_request_model, read from
// request and response bodies on the server and the client side): the
// first n values are kept, later ones are recorded as [OtherLabelValue],
// counted in [Status] (FoldedLabelValues) and in llm_slo_label_folds_total,
// and reported once through [WithErrorHandler]. Each such metric then has
// at most n+1 values of the label. The default is [DefaultLabelLimit];
// [New] rejects n < 1.
func WithLabelLimit(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.errs = append(c.errs, fmt.Errorf("WithLabelLimit(%d): the limit must be at least 1", n))
			return
		}
		c.labelLimit = n
	})
}

// WithTenant gives the function that names the tenant, or priority class,
// of a served request, e.g. from a header or a context value set by an
// outer middleware; [Objective.ForTenant] narrows objectives to tenants.
// It is called once per request, before the handler runs, and should be
// fast; an empty result means no tenant. [Request.Tenant] overrides it
// from inside the handler. A nil function is ignored.
func WithTenant(f func(*http.Request) string) Option {
	return optionFunc(func(c *config) {
		if f != nil {
			c.tenant = f
		}
	})
}
