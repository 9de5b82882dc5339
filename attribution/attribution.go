package attribution

import (
	"math"
	"slices"

	"github.com/llmslo/slo/semconv"
)

// Domain is a fault domain (docs/design.md §7).
type Domain uint8

// The fault domains, in a fixed order. Unknown is the explicit abstain.
const (
	Unknown Domain = iota
	NetworkDNS
	NetworkEgress
	CPUThrottle
	CPUContention
	MemoryPressure
	ProviderThrottle
	ProviderError
	ProviderLatency
	RetrievalBackend
	numDomains
)

var domainNames = [numDomains]string{
	semconv.DomainUnknown, semconv.DomainNetworkDNS, semconv.DomainNetworkEgress, semconv.DomainCPUThrottle,
	semconv.DomainCPUContention, semconv.DomainMemoryPressure, semconv.DomainProviderThrottle,
	semconv.DomainProviderError, semconv.DomainProviderLatency, semconv.DomainRetrievalBackend,
}

// String returns the domain's name, e.g. "network_dns".
func (d Domain) String() string {
	if d < numDomains {
		return domainNames[d]
	}
	return semconv.DomainUnknown
}

// ParseDomain returns the domain named s, or Unknown and false.
func ParseDomain(s string) (Domain, bool) {
	for i, n := range domainNames {
		if n == s {
			return Domain(i), true
		}
	}
	return Unknown, false
}

// Domains returns every domain, Unknown first.
func Domains() []Domain {
	out := make([]Domain, numDomains)
	for i := range out {
		out[i] = Domain(i)
	}
	return out
}

// Feature is one piece of per-request evidence.
type Feature uint8

// Features. Durations are milliseconds of excess over the healthy baseline
// (the caller subtracts the baseline; see [Baseline]); counts are raw.
const (
	// Application side (the request's own timings and its outbound calls).
	AppDNSMs          Feature = iota // httptrace DNS time of outbound calls
	AppConnectMs                     // httptrace connect + TLS time
	AppProviderTTFBMs                // provider time to first byte (prefill)
	AppProviderWaitMs                // time waiting on provider calls in total
	AppRetrievalMs                   // time waiting on retrieval calls
	AppThrottled                     // provider 429 responses
	AppServerErrors                  // provider 5xx responses
	AppResets                        // connection resets / truncated bodies
	AppLocalMs                       // E2E not spent in outbound calls (own processing)
	// Kernel side (probes, joined by correlate).
	KernDNSMs          // DNS query→response measured in the kernel
	KernRetransmits    // TCP retransmits on the request's connections
	KernConnectMs      // SYN→ESTABLISHED
	KernConnectErrors  // failed connects
	KernRunqueueMs     // run-queue delay apportioned to the request
	KernCFSThrottledMs // CFS throttled time apportioned to the request
	KernReclaimMs      // direct-reclaim stall apportioned to the request
	KernStealPct       // hypervisor steal
	numFeatures
)

var featureNames = [numFeatures]string{
	"app.dns_ms", "app.connect_ms", "app.provider_ttfb_ms", "app.provider_wait_ms", "app.retrieval_ms",
	"app.throttled", "app.server_errors", "app.resets", "app.local_ms",
	"kernel.dns_ms", "kernel.retransmits", "kernel.connect_ms", "kernel.connect_errors",
	"kernel.runqueue_ms", "kernel.cfs_throttled_ms", "kernel.reclaim_ms", "kernel.steal_pct",
}

// String returns the feature's name, e.g. "kernel.retransmits".
func (f Feature) String() string {
	if f < numFeatures {
		return featureNames[f]
	}
	return "invalid"
}

// Kernel reports whether the feature comes from kernel evidence.
func (f Feature) Kernel() bool { return f >= KernDNSMs && f < numFeatures }

// Observation is the evidence of one request: a value per feature and which
// features were observed at all. The zero value observes nothing.
type Observation struct {
	Values  [numFeatures]float64
	Present uint32 // bit f set: Values[f] was observed
	// E2EMs is the request's end-to-end time, the budget being decomposed.
	E2EMs float64
	// Failed marks a request that failed (as opposed to a slow one).
	Failed bool
}

// Set records feature f with value v.
func (o *Observation) Set(f Feature, v float64) {
	if f < numFeatures && !math.IsNaN(v) {
		o.Values[f] = v
		o.Present |= 1 << f
	}
}

// Has reports whether feature f was observed.
func (o *Observation) Has(f Feature) bool { return f < numFeatures && o.Present&(1<<f) != 0 }

// Get returns feature f and whether it was observed.
func (o *Observation) Get(f Feature) (float64, bool) {
	if !o.Has(f) {
		return 0, false
	}
	return o.Values[f], true
}

// Only returns a copy of o that keeps the features keep accepts; the lab uses
// it to evaluate the application-only and kernel-only arms on the same runs.
func (o Observation) Only(keep func(Feature) bool) Observation {
	out := Observation{E2EMs: o.E2EMs, Failed: o.Failed}
	for f := Feature(0); f < numFeatures; f++ {
		if o.Has(f) && keep(f) {
			out.Set(f, o.Values[f])
		}
	}
	return out
}

// Hypothesis is one ranked domain.
type Hypothesis struct {
	Domain    Domain
	Posterior float64
	// ExplainedMs is how much of the request the domain explains ([Decompose]).
	ExplainedMs float64
	// Evidence lists the features that supported the domain.
	Evidence []Feature
}

// Verdict is the attribution of one request or one incident.
type Verdict struct {
	// Top is the most likely domain, or Unknown when the evidence is too weak
	// (the posterior of the best domain is below the abstain threshold).
	Top Domain
	// Confidence is Top's posterior (for Unknown: 1 − the best domain's).
	Confidence float64
	// Ranked lists every domain with a posterior above zero, best first.
	Ranked []Hypothesis
}

// AbstainBelow is the posterior under which a verdict abstains (Unknown).
const AbstainBelow = 0.5

// support says which features speak for which domain in the decomposition,
// and how a count converts to milliseconds explained.
var support = [...]struct {
	f     Feature
	d     Domain
	msPer float64 // for counts: ms explained per unit; 0 = the value is already ms
}{
	{AppDNSMs, NetworkDNS, 0}, {KernDNSMs, NetworkDNS, 0},
	{AppConnectMs, NetworkEgress, 0}, {KernConnectMs, NetworkEgress, 0},
	{KernRetransmits, NetworkEgress, 200}, {KernConnectErrors, NetworkEgress, 1000},
	{KernCFSThrottledMs, CPUThrottle, 0},
	{KernRunqueueMs, CPUContention, 0},
	{KernReclaimMs, MemoryPressure, 0},
	{AppThrottled, ProviderThrottle, 1000},
	{AppServerErrors, ProviderError, 1000}, {AppResets, ProviderError, 1000},
	{AppProviderTTFBMs, ProviderLatency, 0}, {AppProviderWaitMs, ProviderLatency, 0}, // slow prefill; slow decode
	{AppRetrievalMs, RetrievalBackend, 0},
}

// Decompose returns, per domain, the milliseconds of the request that the
// evidence explains. Where two features speak for the same domain (httptrace
// and kernel DNS time, say) the larger counts, not the sum. Unknown gets what
// remains of E2EMs unexplained.
func Decompose(o Observation) [numDomains]float64 {
	var ms [numDomains]float64
	for _, s := range support {
		v, ok := o.Get(s.f)
		if !ok || v <= 0 {
			continue
		}
		if s.msPer > 0 {
			v *= s.msPer
		}
		ms[s.d] = max(ms[s.d], v)
	}
	// Provider latency is what the provider's first byte (prefill) or its
	// whole stream (decode) took beyond the baseline, minus what the network
	// and the host explain of that wait.
	if ms[ProviderLatency] > 0 {
		local := ms[NetworkDNS] + ms[NetworkEgress] + ms[CPUContention] + ms[CPUThrottle] + ms[MemoryPressure]
		ms[ProviderLatency] = max(0, ms[ProviderLatency]-local)
	}
	var explained float64
	for d := Domain(1); d < numDomains; d++ {
		explained += ms[d]
	}
	ms[Unknown] = max(0, o.E2EMs-explained)
	return ms
}

// Attribute returns the verdict for o under m; a nil m uses the
// decomposition alone (each domain's posterior is its share of the
// explained time, with the unexplained rest going to Unknown). Under a
// model the verdict abstains as the model's [Abstain] rule says (without
// one, below [AbstainBelow]).
func Attribute(o Observation, m *Model) Verdict {
	ms := Decompose(o)
	if m.usable() {
		v := verdictFrom(m.posterior(&o), ms, &o)
		v.Top, v.Confidence = Unknown, 1
		for _, h := range v.Ranked {
			if h.Domain == Unknown {
				continue
			}
			if m.abstains(&o, h.Domain, h.Posterior) {
				v.Confidence = 1 - h.Posterior
			} else {
				v.Top, v.Confidence = h.Domain, h.Posterior
			}
			break
		}
		return v
	}
	var post [numDomains]float64
	total := 0.0
	for _, v := range ms {
		total += v
	}
	if total > 0 {
		for d, v := range ms {
			post[d] = v / total
		}
	} else {
		post[Unknown] = 1
	}
	return verdictFrom(post, ms, &o)
}

func verdictFrom(post [numDomains]float64, ms [numDomains]float64, o *Observation) Verdict {
	v := Verdict{}
	for d := Domain(0); d < numDomains; d++ {
		if post[d] <= 0 {
			continue
		}
		h := Hypothesis{Domain: d, Posterior: post[d], ExplainedMs: ms[d]}
		if o != nil {
			for _, s := range support {
				if s.d == d && o.Has(s.f) && o.Values[s.f] > 0 {
					h.Evidence = append(h.Evidence, s.f)
				}
			}
		}
		v.Ranked = append(v.Ranked, h)
	}
	slices.SortStableFunc(v.Ranked, byPosterior)
	v.Top, v.Confidence = Unknown, 1
	for _, h := range v.Ranked {
		if h.Domain == Unknown {
			continue
		}
		if h.Posterior >= AbstainBelow {
			v.Top, v.Confidence = h.Domain, h.Posterior
		} else {
			v.Confidence = 1 - h.Posterior
		}
		break
	}
	return v
}

// Aggregate combines the verdicts of an incident's bad requests: the
// posterior of a domain is the mean of the requests' posteriors, so one odd
// request cannot outvote many. Evidence lists are merged.
func Aggregate(vs []Verdict) Verdict {
	if len(vs) == 0 {
		return Verdict{Top: Unknown, Confidence: 1, Ranked: []Hypothesis{{Domain: Unknown, Posterior: 1}}}
	}
	var post, ms [numDomains]float64
	evidence := make([][]Feature, numDomains)
	for _, v := range vs {
		for _, h := range v.Ranked {
			post[h.Domain] += h.Posterior / float64(len(vs))
			ms[h.Domain] += h.ExplainedMs / float64(len(vs))
			for _, e := range h.Evidence {
				if !slices.Contains(evidence[h.Domain], e) {
					evidence[h.Domain] = append(evidence[h.Domain], e)
				}
			}
		}
	}
	out := verdictFrom(post, ms, nil)
	for i := range out.Ranked {
		out.Ranked[i].Evidence = evidence[out.Ranked[i].Domain]
	}
	return out
}

// AllFeatures returns every feature in order.
func AllFeatures() []Feature {
	out := make([]Feature, numFeatures)
	for i := range out {
		out[i] = Feature(i)
	}
	return out
}

// byPosterior orders hypotheses by falling posterior, ties by domain, so that
// a ranking is the same on every run.
func byPosterior(a, b Hypothesis) int {
	switch {
	case a.Posterior > b.Posterior:
		return -1
	case a.Posterior < b.Posterior:
		return 1
	}
	return int(a.Domain) - int(b.Domain)
}
