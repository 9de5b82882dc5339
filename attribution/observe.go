package attribution

import (
	"time"

	"github.com/llmslo/slo/correlate"
	"github.com/llmslo/slo/probes"
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

// kernelFeatures is the one mapping from kernel evidence to features: the
// probe signals and the kernel features each measures. kernelValue says
// where a request's [correlate.Summary] carries each feature.
var kernelFeatures = [...]struct {
	signal  probes.Signal
	feature Feature
}{
	{probes.DNSLatency, KernDNSMs},
	{probes.TCPRetransmit, KernRetransmits},
	{probes.ConnectLatency, KernConnectMs},
	{probes.ConnectLatency, KernConnectErrors},
	{probes.RunqueueDelay, KernRunqueueMs},
	{probes.CFSThrottle, KernCFSThrottledMs},
	{probes.MemReclaim, KernReclaimMs},
	{probes.CPUSteal, KernStealPct},
}

// kernelValue returns kernel feature f as k carries it; ok is false when k
// holds nothing for it.
func kernelValue(f Feature, k *correlate.Summary) (v float64, ok bool) {
	switch f {
	case KernDNSMs:
		return ms(k.DNS), k.DNSLookups > 0
	case KernRetransmits:
		return float64(k.Retransmits), k.Retransmits > 0
	case KernConnectMs:
		return ms(k.ConnectLatency), k.Connects > 0
	case KernConnectErrors:
		return float64(k.ConnectErrors), k.ConnectErrors > 0
	case KernRunqueueMs:
		return ms(k.Runqueue), k.Runqueue > 0
	case KernCFSThrottledMs:
		return ms(k.CFSThrottled), k.CFSThrottled > 0
	case KernReclaimMs:
		return ms(k.Reclaim), k.Reclaim > 0
	case KernStealPct:
		return k.StealPct, k.StealPct > 0
	}
	return 0, false
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ProbedFeatures returns the kernel features measured by the given probe
// signals; signals that measure no feature add nothing. Pass the signals
// whose probe ran in this process for the request (an eBPF probe, or a
// /proc or cgroup poller such as CFS throttling and steal):
// [NewObservation] then reads a feature the request's summary does not
// carry as 0 (the probe was watching and saw nothing), not as missing.
func ProbedFeatures(signals ...probes.Signal) FeatureSet {
	var s FeatureSet
	for _, sig := range signals {
		for _, kf := range kernelFeatures {
			if kf.signal == sig {
				s = s.With(kf.feature)
			}
		}
	}
	return s
}

// Calls summarises a request's outbound calls, as the client measured them
// (httptrace, status codes, errors). The zero value is "no outbound calls".
type Calls struct {
	// N counts every outbound call, Retrieval the retrieval calls among them
	// (the others are provider calls).
	N, Retrieval int
	// Throttled counts 429 answers, ServerErrors 5xx answers, Resets the
	// calls that ended in a connection reset or a timeout.
	Throttled, ServerErrors, Resets int
	// DNS, Connect (TCP) and TLS are the httptrace times of all the calls.
	DNS, Connect, TLS time.Duration
	// ProviderTTFB is the largest time to first byte of a provider call,
	// ProviderWait the time spent in provider calls, RetrievalWait the time
	// spent in retrieval calls; all as the client measured them, so
	// including their DNS, connect and TLS time.
	ProviderTTFB, ProviderWait, RetrievalWait time.Duration
}

// NewObservation builds the evidence of one request (absolute values; see
// [Baseline.Excess]) from its end-to-end time, whether it failed, its
// outbound calls and its kernel summary. It is the one mapping from a
// request to features: the tracker calls it when a request ends, and hands
// the result to the incident lab.
//
// The provider features are the provider's own time: its time to first
// byte and its wait net of the calls' DNS, connect and TLS time (which the
// network features carry), so that a slow resolver does not read as a slow
// model.
//
// The kernel features come from k, through the mapping of probe signals to
// features. When the kernel joined evidence to the request but none of its
// DNS lookups or connects, the calls' httptrace DNS and TCP connect times
// stand in for the missing kernel values (the floor); when it joined
// nothing, httptrace is not read as kernel evidence. A kernel feature in
// probed that is still not observed is observed as 0; any other signal that
// was not observed stays missing, never "normal".
func NewObservation(e2e time.Duration, failed bool, c Calls, k correlate.Summary, probed FeatureSet) Observation {
	var o Observation
	o.E2EMs = ms(e2e)
	o.Failed = failed
	if c.N > 0 {
		dnsMs, connectMs := ms(c.DNS), ms(c.Connect+c.TLS)
		waitMs, retrievalMs := ms(c.ProviderWait), ms(c.RetrievalWait)
		o.Set(AppDNSMs, dnsMs)
		o.Set(AppConnectMs, connectMs)
		o.Set(AppThrottled, float64(c.Throttled))
		o.Set(AppServerErrors, float64(c.ServerErrors))
		o.Set(AppResets, float64(c.Resets))
		if c.N > c.Retrieval {
			network := dnsMs + connectMs
			o.Set(AppProviderTTFBMs, max(0, ms(c.ProviderTTFB)-network))
			o.Set(AppProviderWaitMs, max(0, waitMs-network))
		}
		if c.Retrieval > 0 {
			o.Set(AppRetrievalMs, retrievalMs)
		}
		o.Set(AppLocalMs, max(0, o.E2EMs-waitMs-retrievalMs))
	}
	if k.Tier != correlate.TierNone {
		for _, kf := range kernelFeatures {
			if v, ok := kernelValue(kf.feature, &k); ok {
				o.Set(kf.feature, v)
			}
		}
		if k.DNSLookups == 0 && c.DNS > 0 {
			o.Set(KernDNSMs, ms(c.DNS))
		}
		if k.Connects == 0 && c.Connect > 0 {
			o.Set(KernConnectMs, ms(c.Connect))
		}
	}
	for f := KernDNSMs; f < numFeatures; f++ {
		if probed.Has(f) && !o.Has(f) {
			o.Set(f, 0)
		}
	}
	return o
}
