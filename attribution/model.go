package attribution

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Bins discretises a feature: a value v falls in bin 0 when v ≤ 0 (nothing
// observed beyond baseline), else in the first bin i+1 with v ≤ Edges[i], else
// in the last bin.
type Bins struct {
	Edges []float64 `json:"edges"`
}

func (b Bins) index(v float64) int {
	if v <= 0 {
		return 0
	}
	for i, e := range b.Edges {
		if v <= e {
			return i + 1
		}
	}
	return len(b.Edges) + 1
}

func (b Bins) count() int { return len(b.Edges) + 2 }

// DefaultBins returns the discretisation the lab fits with: for durations
// 0, (0,20], (20,100], (100,∞) ms; for counts 0, 1, 2–3, 4+.
func DefaultBins() map[string]Bins {
	out := make(map[string]Bins, numFeatures)
	for f := Feature(0); f < numFeatures; f++ {
		switch f {
		case AppThrottled, AppServerErrors, AppResets, KernRetransmits, KernConnectErrors:
			out[f.String()] = Bins{Edges: []float64{1, 3}}
		case KernStealPct:
			out[f.String()] = Bins{Edges: []float64{2, 10}}
		default:
			out[f.String()] = Bins{Edges: []float64{20, 100}}
		}
	}
	return out
}

// Provenance records how a model was produced.
type Provenance struct {
	Command string `json:"command"`           // the command that produced the training runs
	Date    string `json:"date"`              // when
	Machine string `json:"machine,omitempty"` // where (kernel, cores)
	Runs    int    `json:"runs"`              // labelled runs
	Samples int    `json:"samples"`           // labelled requests
	Note    string `json:"note,omitempty"`
}

// Model is a naive-Bayes model over the fault domains: a prior per domain and,
// per domain and feature, the probability of each bin. It is produced by
// [Fit] (or [FitCalibrated], which adds a temperature and an abstention
// rule chosen on held-out training data) and serialised as JSON; the zero
// value (and nil) is "no model".
type Model struct {
	Version    int                             `json:"version"`
	Provenance Provenance                      `json:"provenance"`
	Bins       map[string]Bins                 `json:"bins"`
	Prior      map[string]float64              `json:"prior"`
	Likelihood map[string]map[string][]float64 `json:"likelihood"` // domain → feature → P(bin)
	// Temperature divides the log posterior before it is normalised: above
	// 1 it tempers the overconfidence of naive Bayes (features are not
	// independent). Zero means 1.
	Temperature float64 `json:"temperature,omitempty"`
	// Abstain is when a verdict answers Unknown; nil means below
	// [AbstainBelow] only.
	Abstain *Abstain `json:"abstain,omitempty"`

	// resolved tables, filled by resolve
	prior    [numDomains]float64
	lik      [numDomains][numFeatures][]float64
	bins     [numFeatures]Bins
	surprise [numDomains]float64 // Abstain.MaxSurprise; 0: no limit
	ok       bool
}

// Abstain is a model's abstention rule. A verdict abstains (Unknown) when
// the evidence is weak — the top domain's posterior is below MinPosterior —
// or unlike every request the top domain was fitted on: its surprise under
// that domain (the largest −ln P(bin | domain) over the observed features)
// exceeds the domain's MaxSurprise; or, with OwnEvidence, when the top
// domain's own evidence (the features that speak for it in [Decompose]:
// CFS throttled time for cpu_throttle, run-queue delay for cpu_contention,
// …) was observed and shows no excess at all.
type Abstain struct {
	MinPosterior float64            `json:"min_posterior"`
	MaxSurprise  map[string]float64 `json:"max_surprise,omitempty"`
	OwnEvidence  bool               `json:"own_evidence,omitempty"`
}

// Labeled is one training or evaluation sample: a request's observation and
// the domain of the fault the lab injected (Unknown for fault-free runs).
type Labeled struct {
	Obs   Observation
	Truth Domain
}

// Fit estimates the model from labelled samples with Laplace smoothing
// (alpha pseudo-counts per bin; 0 means 1). Domains without samples get no
// prior mass and are never predicted.
func Fit(samples []Labeled, bins map[string]Bins, alpha float64, prov Provenance) (*Model, error) {
	return fit(samples, bins, alpha, prov, shaping{})
}

// shaping is how FitCalibrated shapes the counts before smoothing: the
// own-evidence extension, and the share of a positive bin's count its
// positive neighbours get (spread, per bin of distance).
type shaping struct {
	extend bool
	spread float64
}

// fit is Fit, with the counts shaped as sh says.
func fit(samples []Labeled, bins map[string]Bins, alpha float64, prov Provenance, sh shaping) (*Model, error) {
	if len(samples) == 0 {
		return nil, errors.New("attribution: fit: no samples")
	}
	if bins == nil {
		bins = DefaultBins()
	}
	if alpha <= 0 {
		alpha = 1
	}
	m := &Model{Version: 1, Provenance: prov, Bins: bins, Prior: map[string]float64{},
		Likelihood: map[string]map[string][]float64{}}
	m.Provenance.Samples = len(samples)
	var classCount [numDomains]float64
	counts := [numDomains][numFeatures][]float64{}
	var seen [numDomains][numFeatures]float64
	for _, s := range samples {
		if s.Truth >= numDomains {
			return nil, fmt.Errorf("attribution: fit: invalid domain %d", s.Truth)
		}
		classCount[s.Truth]++
		for f := Feature(0); f < numFeatures; f++ {
			v, ok := s.Obs.Get(f)
			if !ok {
				continue // missing: contributes nothing, is not "normal"
			}
			b := bins[f.String()]
			if counts[s.Truth][f] == nil {
				counts[s.Truth][f] = make([]float64, b.count())
			}
			counts[s.Truth][f][b.index(v)]++
			seen[s.Truth][f]++
		}
	}
	for d := Domain(0); d < numDomains; d++ {
		if classCount[d] == 0 {
			continue
		}
		m.Prior[d.String()] = classCount[d] / float64(len(samples))
		lik := map[string][]float64{}
		for f := Feature(0); f < numFeatures; f++ {
			if seen[d][f] == 0 {
				continue
			}
			b := bins[f.String()]
			c := counts[d][f]
			if sh.extend && speaksFor(f, d) {
				c = extendUp(c)
			}
			if sh.spread > 0 {
				c = spreadPositive(c, sh.spread)
			}
			var n float64
			for _, v := range c {
				n += v
			}
			p := make([]float64, b.count())
			for i := range p {
				p[i] = (c[i] + alpha) / (n + alpha*float64(len(p)))
			}
			lik[f.String()] = p
		}
		m.Likelihood[d.String()] = lik
	}
	if err := m.resolve(); err != nil {
		return nil, err
	}
	return m, nil
}

// speaksFor reports whether feature f is evidence for domain d in the
// decomposition ([Decompose]).
func speaksFor(f Feature, d Domain) bool {
	for _, s := range support {
		if s.f == f && s.d == d {
			return true
		}
	}
	return false
}

// extendUp returns counts with every bin above the highest non-empty one
// (bin 0 aside) given that bin's count.
func extendUp(counts []float64) []float64 {
	out := slices.Clone(counts)
	hi := 0
	for i := 1; i < len(out); i++ {
		if out[i] > 0 {
			hi = i
		}
	}
	if hi == 0 {
		return out
	}
	for i := hi + 1; i < len(out); i++ {
		out[i] = out[hi]
	}
	return out
}

// spreadPositive returns counts where each positive bin (1 and up) also
// gives every other positive bin beta^distance of its count: ordered bins
// next to what was seen are plausible, far ones less so. Bin 0 (no excess
// at all) neither gives nor gets.
func spreadPositive(counts []float64, beta float64) []float64 {
	out := slices.Clone(counts)
	for i := 1; i < len(counts); i++ {
		for j := 1; j < len(counts); j++ {
			if i != j {
				out[j] += counts[i] * math.Pow(beta, math.Abs(float64(i-j)))
			}
		}
	}
	return out
}

// UnmarshalModel decodes a model produced by [Model.MarshalJSON] or Fit.
func UnmarshalModel(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("attribution: decode model: %w", err)
	}
	if err := m.resolve(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Model) resolve() error {
	if m.Version != 1 {
		return fmt.Errorf("attribution: model version %d not supported", m.Version)
	}
	if m.Temperature < 0 || math.IsNaN(m.Temperature) || math.IsInf(m.Temperature, 0) {
		return fmt.Errorf("attribution: model: temperature %v", m.Temperature)
	}
	if a := m.Abstain; a != nil {
		if !(a.MinPosterior >= 0 && a.MinPosterior <= 1) {
			return fmt.Errorf("attribution: model: abstain below %v", a.MinPosterior)
		}
		for name, v := range a.MaxSurprise {
			d, ok := ParseDomain(name)
			if !ok || !(v > 0) {
				return fmt.Errorf("attribution: model: max surprise %s = %v", name, v)
			}
			m.surprise[d] = v
		}
	}
	for f := Feature(0); f < numFeatures; f++ {
		m.bins[f] = m.Bins[f.String()]
	}
	for name, p := range m.Prior {
		d, ok := ParseDomain(name)
		if !ok {
			return fmt.Errorf("attribution: model: unknown domain %q", name)
		}
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("attribution: model: prior of %s = %v", name, p)
		}
		m.prior[d] = p
		for fname, probs := range m.Likelihood[name] {
			for f := Feature(0); f < numFeatures; f++ {
				if f.String() == fname {
					if len(probs) != m.bins[f].count() {
						return fmt.Errorf("attribution: model: %s/%s has %d bins, want %d", name, fname, len(probs), m.bins[f].count())
					}
					m.lik[d][f] = probs
				}
			}
		}
	}
	m.ok = true
	return nil
}

func (m *Model) usable() bool { return m != nil && m.ok }

// posterior returns P(domain | observation) over the observed features only,
// tempered by the model's temperature.
func (m *Model) posterior(o *Observation) [numDomains]float64 {
	return normalize(m.logPosterior(o), m.Temperature)
}

// normalize turns log posteriors (−Inf: impossible) into probabilities,
// dividing them by temperature t first (0 means 1).
func normalize(logp [numDomains]float64, t float64) [numDomains]float64 {
	if t <= 0 {
		t = 1
	}
	best := math.Inf(-1)
	for _, l := range logp {
		best = max(best, l)
	}
	var post [numDomains]float64
	var sum float64
	for d := range logp {
		if math.IsInf(logp[d], -1) {
			continue
		}
		post[d] = math.Exp((logp[d] - best) / t)
		sum += post[d]
	}
	for d := range post {
		post[d] /= sum
	}
	return post
}

// logPosterior returns ln P(domain) + Σ ln P(x_f | domain) over the
// observed features (−Inf for a domain without prior).
func (m *Model) logPosterior(o *Observation) [numDomains]float64 {
	var logp [numDomains]float64
	for d := Domain(0); d < numDomains; d++ {
		if m.prior[d] <= 0 {
			logp[d] = math.Inf(-1)
			continue
		}
		lp := math.Log(m.prior[d])
		for f := Feature(0); f < numFeatures; f++ {
			v, ok := o.Get(f)
			if !ok {
				continue
			}
			probs := m.lik[d][f]
			if probs == nil {
				continue // the domain was never seen with this feature: no information
			}
			lp += math.Log(probs[m.bins[f].index(v)])
		}
		logp[d] = lp
	}
	return logp
}

// Surprise returns how unlike the requests domain d was fitted on o is: the
// largest −ln P(bin | d) over o's observed features (features d was never
// seen with count as uniform). A usable model is needed; otherwise 0.
func (m *Model) Surprise(o Observation, d Domain) float64 {
	if !m.usable() || d >= numDomains || m.prior[d] <= 0 {
		return 0
	}
	var s float64
	for f := Feature(0); f < numFeatures; f++ {
		v, ok := o.Get(f)
		if !ok {
			continue
		}
		s = max(s, -math.Log(m.prob(d, f, m.bins[f].index(v))))
	}
	return s
}

// abstains reports whether a verdict whose top domain is d with posterior
// p abstains under m's rule.
func (m *Model) abstains(o *Observation, d Domain, p float64) bool {
	if d == Unknown {
		return true
	}
	if m.Abstain == nil {
		return p < AbstainBelow
	}
	if p < m.Abstain.MinPosterior || (m.Abstain.OwnEvidence && lacksOwnEvidence(o, d)) {
		return true
	}
	return m.surprise[d] > 0 && m.Surprise(*o, d) > m.surprise[d]
}

// lacksOwnEvidence reports whether some feature that speaks for d was
// observed and none of those observed shows excess: the probe that would
// see d's fault was watching and saw nothing.
func lacksOwnEvidence(o *Observation, d Domain) bool {
	observed := false
	for _, s := range support {
		if s.d != d {
			continue
		}
		if v, ok := o.Get(s.f); ok {
			if v > 0 {
				return false
			}
			observed = true
		}
	}
	return observed
}

// UniformPrior returns a copy of m whose prior is uniform over the fault
// domains it knows, Unknown keeping its own prior. The incident lab uses it:
// the mix of its bad requests per domain says how many bad requests each
// injected fault happened to produce, not how often each fault occurs, so it
// is no prior for the domains. A nil or unusable m is returned as is.
func (m *Model) UniformPrior() *Model {
	if !m.usable() {
		return m
	}
	out := *m
	out.Prior = make(map[string]float64, len(m.Prior))
	n := 0
	for d := Domain(1); d < numDomains; d++ {
		if m.prior[d] > 0 {
			n++
		}
	}
	if n == 0 {
		return m
	}
	rest := 1 - m.prior[Unknown]
	for d := Domain(0); d < numDomains; d++ {
		switch {
		case m.prior[d] <= 0:
			out.prior[d] = 0
			continue
		case d != Unknown:
			out.prior[d] = rest / float64(n)
		}
		out.Prior[d.String()] = out.prior[d]
	}
	return &out
}
