package attribution

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
// [Fit] and serialised as JSON; the zero value (and nil) is "no model".
type Model struct {
	Version    int                             `json:"version"`
	Provenance Provenance                      `json:"provenance"`
	Bins       map[string]Bins                 `json:"bins"`
	Prior      map[string]float64              `json:"prior"`
	Likelihood map[string]map[string][]float64 `json:"likelihood"` // domain → feature → P(bin)

	// resolved tables, filled by resolve
	prior [numDomains]float64
	lik   [numDomains][numFeatures][]float64
	bins  [numFeatures]Bins
	ok    bool
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
			p := make([]float64, b.count())
			for i := range p {
				p[i] = (counts[d][f][i] + alpha) / (seen[d][f] + alpha*float64(len(p)))
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

// posterior returns P(domain | observation) over the observed features only.
func (m *Model) posterior(o *Observation) [numDomains]float64 {
	var logp [numDomains]float64
	best := math.Inf(-1)
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
		best = max(best, lp)
	}
	var post [numDomains]float64
	var sum float64
	for d := range logp {
		if math.IsInf(logp[d], -1) {
			continue
		}
		post[d] = math.Exp(logp[d] - best)
		sum += post[d]
	}
	for d := range post {
		post[d] /= sum
	}
	return post
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
