package slo

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/incident"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/semconv"
)

// attributor keeps the healthy baselines and attributes bad requests.
type attributor struct {
	model *attribution.Model // WithAttributionModel, else the default; nil: none usable
	mu    sync.Mutex
	base  attribution.Baseline

	// probed caches the kernel features whose probe runs in this process,
	// refreshed at most every probedTTL (probedAt: unix ns of the last look).
	probed   atomic.Uint32
	probedAt atomic.Int64
}

// probedTTL is how long the set of running probes is reused.
const probedTTL = time.Second

// newAttributor returns an attributor with model m, or the embedded default
// when m is nil.
func newAttributor(m *attribution.Model) *attributor {
	if m == nil {
		m = attribution.DefaultModel()
	}
	return &attributor{model: m}
}

// probedFeatures returns the kernel features whose probe runs in this
// process (watching), cached for probedTTL.
func (t *Tracker) probedFeatures() attribution.FeatureSet {
	a := t.attr
	now := time.Now().UnixNano()
	if at := a.probedAt.Load(); at != 0 && now-at < int64(probedTTL) {
		return attribution.FeatureSet(a.probed.Load())
	}
	var on []probes.Signal
	if k := t.kern; k != nil {
		v := k.view()
		for _, sig := range probes.AllSignals() {
			if watching(t.signalStatus(sig, v)) {
				on = append(on, sig)
			}
		}
	}
	set := attribution.ProbedFeatures(on...)
	a.probed.Store(uint32(set))
	a.probedAt.Store(now)
	return set
}

// watching reports whether a signal's probe runs in this process and sees
// every request: an eBPF probe loaded here (path in_process) or a /proc or
// cgroup poller (path floor: CFS throttling, steal), and not off. A request
// whose summary lacks a watching probe's feature then observes it as 0 (the
// probe saw nothing), which is itself evidence: contention without CFS
// throttling is not throttling. The httptrace stand-ins for DNS and connect
// latency (path floor, state off) are not watching.
func watching(st SignalStatus) bool {
	return (st.Path == semconv.PathInProcess || st.Path == semconv.PathFloor) && st.State != probes.Off.String()
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

// fill ranks the fault domains of an incident from its bad requests
// (attribution.AttributeIncident) and fills the incident's attribution
// fields: the first hypothesis is the predicted domain with its posterior;
// each runner-up's posterior is the probability that it is at fault too,
// given the first (they need not sum to 1). Evidence lists each feature
// once, and only when its mean over the bad requests reaches
// evidenceFloor: a 0.08 ms connect excess on a throttling incident is
// noise, not a reason.
func (a *attributor) fill(inc *incident.Incident, obs []attribution.Observation) {
	v := attribution.AttributeIncident(obs, a.model)
	inc.PredictedFaultDomain = v.Top.String()
	inc.Confidence = v.Confidence
	inc.Hypotheses = inc.Hypotheses[:0]
	for _, h := range v.Ranked {
		names := make([]string, 0, len(h.Evidence))
		for _, f := range h.Evidence {
			mean := meanFeature(obs, f)
			if mean < evidenceFloor(f) {
				continue
			}
			names = append(names, f.String())
			if !slices.ContainsFunc(inc.Evidence, func(e incident.Evidence) bool { return e.Signal == f.String() }) {
				inc.Evidence = append(inc.Evidence, incident.Evidence{Signal: f.String(), Value: mean, Source: sourceOf(f)})
			}
		}
		inc.Hypotheses = append(inc.Hypotheses, incident.Hypothesis{Domain: h.Domain.String(), Posterior: h.Posterior, Evidence: names})
	}
}

// evidenceFloor is the smallest mean of feature f over an incident's bad
// requests that is shown as evidence: 1 ms of excess for a duration (below
// it, the excess is within a healthy request's jitter), 1 % for CPU steal,
// and for a count (429s, 5xx, resets, retransmits, failed connects) one in
// ten bad requests.
func evidenceFloor(f attribution.Feature) float64 {
	switch name := f.String(); {
	case strings.HasSuffix(name, "_ms"):
		return 1
	case strings.HasSuffix(name, "_pct"):
		return 1
	}
	return 0.1
}

// meanFeature is the mean of feature f over the observations that have it.
func meanFeature(obs []attribution.Observation, f attribution.Feature) float64 {
	var sum float64
	var n int
	for _, o := range obs {
		if v, ok := o.Get(f); ok {
			sum += v
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// sourceOf is the source of a feature in an incident's evidence: "ebpf"
// for kernel evidence, "app" for the request's own measurements.
func sourceOf(f attribution.Feature) string {
	if f.Kernel() {
		return "ebpf"
	}
	return "app"
}
