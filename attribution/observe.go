package attribution

import (
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/attribute"
)

// FeatureSet is a set of features, bit f for feature f. The zero value is
// empty.
type FeatureSet uint32

// Has reports whether f is in the set.
func (s FeatureSet) Has(f Feature) bool { return f < numFeatures && s&(1<<f) != 0 }

// With returns the set with f added.
func (s FeatureSet) With(f Feature) FeatureSet {
	if f >= numFeatures {
		return s
	}
	return s | 1<<f
}

// signalFeatures maps the probe signals (probes.Signal names) to the kernel
// features they measure.
var signalFeatures = map[string][]Feature{
	"dns_latency":     {KernDNSMs},
	"tcp_retransmit":  {KernRetransmits},
	"connect_latency": {KernConnectMs, KernConnectErrors},
	"runqueue_delay":  {KernRunqueueMs},
	"cfs_throttle":    {KernCFSThrottledMs},
	"mem_reclaim":     {KernReclaimMs},
	"cpu_steal":       {KernStealPct},
}

// ProbedFeatures returns the kernel features measured by the named probe
// signals (the names of probes.Signal, e.g. "dns_latency"); unknown names
// add nothing. Pass the signals whose probe ran in-process for the request:
// [NewObservation] then reads a feature the request's kernel attributes do
// not carry as 0 (the probe was watching and saw nothing), not as missing.
func ProbedFeatures(signals ...string) FeatureSet {
	var s FeatureSet
	for _, sig := range signals {
		for _, f := range signalFeatures[sig] {
			s = s.With(f)
		}
	}
	return s
}

// Calls summarises a request's outbound calls for [NewObservation].
// Durations are milliseconds; the zero value is "no outbound calls".
type Calls struct {
	// N counts every outbound call, Retrieval the retrieval calls among them
	// (the others are provider calls).
	N, Retrieval int
	// Throttled counts 429 responses, ServerErrors 5xx, Resets resets,
	// truncated bodies and timeouts.
	Throttled, ServerErrors, Resets int
	// DNSMs, ConnectMs (TCP connect plus TLS handshake): httptrace time of all
	// the calls.
	DNSMs, ConnectMs float64
	// ProviderTTFBMs is the largest time to first byte of a provider call,
	// ProviderWaitMs the time spent in provider calls, RetrievalWaitMs the
	// time spent in retrieval calls; all as the client measured them, so
	// including their DNS, connect and TLS time.
	ProviderTTFBMs, ProviderWaitMs, RetrievalWaitMs float64
}

// NewObservation builds the evidence of one request (absolute values; see
// [Baseline.Excess]) from its end-to-end time, whether it failed, its
// outbound calls and its kernel span attributes (llm.ebpf.*; other keys are
// ignored). It is the one mapping from a request to features: the tracker
// calls it when a request ends and the incident lab calls it on the spans,
// so the lab evaluates what the tracker computes.
//
// The provider features are the provider's own time: its time to first
// byte and its wait net of the calls' DNS, connect and TLS time (which the
// network features carry), so that a slow resolver does not read as a slow
// model. Kernel attributes marked as the httptrace floor (tier
// "httptrace") are not kernel evidence and are skipped. A kernel feature in
// probed that the attributes do not carry is observed as 0; any other
// signal that was not observed stays missing, never "normal".
func NewObservation(e2eMs float64, failed bool, c Calls, kernel []attribute.KeyValue, probed FeatureSet) Observation {
	var o Observation
	o.E2EMs = e2eMs
	o.Failed = failed
	if c.N > 0 {
		o.Set(AppDNSMs, c.DNSMs)
		o.Set(AppConnectMs, c.ConnectMs)
		o.Set(AppThrottled, float64(c.Throttled))
		o.Set(AppServerErrors, float64(c.ServerErrors))
		o.Set(AppResets, float64(c.Resets))
		if c.N > c.Retrieval {
			network := c.DNSMs + c.ConnectMs
			o.Set(AppProviderTTFBMs, max(0, c.ProviderTTFBMs-network))
			o.Set(AppProviderWaitMs, max(0, c.ProviderWaitMs-network))
		}
		if c.Retrieval > 0 {
			o.Set(AppRetrievalMs, c.RetrievalWaitMs)
		}
		o.Set(AppLocalMs, max(0, e2eMs-c.ProviderWaitMs-c.RetrievalWaitMs))
	}
	floor := false
	for _, kv := range kernel {
		if kv.Key == semconv.EBPFCorrelationTier && kv.Value.AsString() == semconv.TierHTTPTrace {
			floor = true // the llm.ebpf.* values are the httptrace ones above
		}
	}
	if !floor {
		for _, kv := range kernel {
			if f, ok := KernelFeature(kv.Key); ok {
				if v, ok := Number(kv.Value); ok {
					o.Set(f, v)
				}
			}
		}
	}
	for f := KernDNSMs; f < numFeatures; f++ {
		if probed.Has(f) && !o.Has(f) {
			o.Set(f, 0)
		}
	}
	return o
}
