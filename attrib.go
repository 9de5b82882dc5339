package slo

import (
	"sync"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/attribute"
)

// WithAttributionModel sets the fitted model used to rank fault domains of
// bad requests and incidents (see package attribution and the incident lab).
// The default is the latency-budget decomposition alone. A nil model is ignored.
func WithAttributionModel(m *attribution.Model) Option {
	return optionFunc(func(c *config) {
		if m != nil {
			c.model = m
		}
	})
}

// attributor keeps the healthy baselines and attributes bad requests.
type attributor struct {
	model *attribution.Model
	mu    sync.Mutex
	base  attribution.Baseline
}

// observation builds the attribution evidence of a finished request from its
// SLIs, its outbound calls and its kernel attributes. Signals that were not
// observed are left out, never set to zero.
func observation(s *sli, kattrs []attribute.KeyValue) attribution.Observation {
	var o attribution.Observation
	o.E2EMs = durMs(s.e2e)
	o.Failed = s.failed
	if c := s.calls; c.Calls > 0 {
		o.Set(attribution.AppDNSMs, durMs(c.DNS))
		o.Set(attribution.AppConnectMs, durMs(c.Connect+c.TLS))
		o.Set(attribution.AppThrottled, float64(c.Throttled))
		o.Set(attribution.AppServerErrors, float64(c.ServerErrors))
		o.Set(attribution.AppResets, float64(c.Resets+c.Timeouts))
		if c.Calls > c.Retrieval {
			o.Set(attribution.AppProviderTTFBMs, durMs(c.ProviderTTFB))
			o.Set(attribution.AppProviderWaitMs, durMs(c.ProviderWait))
		}
		if c.Retrieval > 0 {
			o.Set(attribution.AppRetrievalMs, durMs(c.RetrievalWait))
		}
		o.Set(attribution.AppLocalMs, max(0, durMs(s.e2e-c.ProviderWait-c.RetrievalWait)))
	}
	for _, kv := range kattrs {
		if kv.Key == semconv.EBPFCorrelationTier && kv.Value.AsString() == semconv.TierHTTPTrace {
			// No kernel evidence: the llm.ebpf.* values are the httptrace
			// ones already counted as application features.
			return o
		}
	}
	for _, kv := range kattrs {
		if f, ok := attribution.KernelFeature(kv.Key); ok {
			if v, ok := attribution.Number(kv.Value); ok {
				o.Set(f, v)
			}
		}
	}
	return o
}

// learn folds a good request into the baselines.
func (a *attributor) learn(o attribution.Observation) {
	a.mu.Lock()
	a.base.Observe(o)
	a.mu.Unlock()
}

// excess expresses a bad request's evidence as excess over the baselines.
func (a *attributor) excess(o attribution.Observation) attribution.Observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.base.Excess(o)
}

// incidentVerdict aggregates the attributions of an incident's bad requests
// and fills the incident's attribution fields.
func (a *attributor) fill(inc *Incident, obs []attribution.Observation) {
	vs := make([]attribution.Verdict, 0, len(obs))
	for _, o := range obs {
		vs = append(vs, attribution.Attribute(o, a.model))
	}
	v := attribution.Aggregate(vs)
	inc.PredictedFaultDomain = v.Top.String()
	inc.Confidence = v.Confidence
	inc.Hypotheses = inc.Hypotheses[:0]
	for _, h := range v.Ranked {
		ev := h.Evidence
		if ev == nil {
			ev = []string{}
		}
		inc.Hypotheses = append(inc.Hypotheses, Hypothesis{Domain: h.Domain.String(), Posterior: h.Posterior, Evidence: ev})
		for _, e := range h.Evidence {
			inc.Evidence = append(inc.Evidence, Evidence{Signal: e, Value: meanFeature(obs, e), Source: sourceOf(e)})
		}
	}
}

func meanFeature(obs []attribution.Observation, name string) float64 {
	var sum float64
	var n int
	for _, o := range obs {
		for _, f := range attribution.AllFeatures() {
			if f.String() == name {
				if v, ok := o.Get(f); ok {
					sum += v
					n++
				}
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func sourceOf(feature string) string {
	if len(feature) > 7 && feature[:7] == "kernel." {
		return "ebpf"
	}
	return "app"
}
