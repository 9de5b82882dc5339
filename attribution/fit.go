package attribution

import (
	"errors"
	"math"
	"slices"
)

// FitConfig configures [FitCalibrated]. The zero value fits [DefaultBins]
// with one pseudo-count per bin, keeps the samples' class mix as the prior
// and sets each domain's surprise limit at the 0.99 quantile.
type FitConfig struct {
	// Bins discretise the features; nil means DefaultBins.
	Bins map[string]Bins
	// Alpha is the Laplace pseudo-count per bin; 0 means 1.
	Alpha float64
	// UniformPrior makes the prior uniform over the fault domains, Unknown
	// keeping its share of the samples ([Model.UniformPrior]).
	UniformPrior bool
	// SurpriseQuantile is the share of a domain's own held-out requests
	// whose surprise its MaxSurprise admits; 0 means 0.99.
	SurpriseQuantile float64
	// Spread is the share of a positive bin's count that each positive
	// bin next to it gets (squared two bins away, and so on) before
	// smoothing; 0 means none.
	Spread float64
	// OwnEvidence makes the model abstain when the top domain's own
	// evidence was observed without excess ([Abstain].OwnEvidence); the
	// held-out choice of MinPosterior takes it into account.
	OwnEvidence bool
	// Provenance is recorded in the model.
	Provenance Provenance
}

// maxFolds bounds the folds of FitCalibrated's held-out calibration.
const maxFolds = 5

// temperatures and minPosteriors are the values FitCalibrated chooses from.
var (
	temperatures  = []float64{1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32}
	minPosteriors = []float64{0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}
)

// FitCalibrated fits a model to samples and calibrates it on data held out
// from the samples themselves, never on anything else. groups[i] is the
// group of sample i (the run, or the fault magnitude, it came from); the
// groups are split into at most 5 folds, and each fold is predicted by
// likelihoods fitted on the others. From those held-out predictions:
//
//   - the temperature ([Model.Temperature]) minimises the negative
//     log-likelihood of the true domains;
//   - each domain's MaxSurprise ([Abstain]) is the SurpriseQuantile of the
//     surprise of its own held-out samples ([Model.Surprise]);
//   - MinPosterior maximises the held-out macro-F1 with Unknown as a class.
//
// The model's likelihoods are then fitted on every sample. Where a feature
// speaks for a domain in the decomposition (its own evidence: DNS time for
// network_dns, retransmits for network_egress, …), bins above the largest
// the domain was seen in are given that bin's count: more of a domain's own
// evidence is never less likely under it. With fewer than two groups
// nothing can be held out and the model is returned uncalibrated
// (temperature 1, abstaining below AbstainBelow).
func FitCalibrated(samples []Labeled, groups []int, cfg FitConfig) (*Model, error) {
	if len(groups) != len(samples) {
		return nil, errors.New("attribution: fit: one group per sample")
	}
	m, err := fitModel(samples, cfg)
	if err != nil {
		return nil, err
	}
	folds := foldsOf(groups)
	if len(folds) < 2 {
		return m, nil
	}
	var held []heldOut
	for _, fold := range folds {
		var train []Labeled
		var test []int
		for i, s := range samples {
			if slices.Contains(fold, groups[i]) {
				test = append(test, i)
			} else {
				train = append(train, s)
			}
		}
		fm, err := fitModel(train, cfg)
		if err != nil {
			continue // a fold holding every sample of the rest: nothing to learn from
		}
		for _, i := range test {
			held = append(held, fm.holdOut(samples[i]))
		}
	}
	if len(held) == 0 {
		return m, nil
	}
	m.Temperature = bestTemperature(held)
	q := cfg.SurpriseQuantile
	if q <= 0 {
		q = 0.99
	}
	m.Abstain = &Abstain{MaxSurprise: surpriseLimits(held, q), OwnEvidence: cfg.OwnEvidence}
	m.Abstain.MinPosterior = bestMinPosterior(held, m.Temperature, m.Abstain)
	if err := m.resolve(); err != nil {
		return nil, err
	}
	return m, nil
}

// fitModel fits likelihoods with the own-evidence extension, then the
// prior cfg asks for.
func fitModel(samples []Labeled, cfg FitConfig) (*Model, error) {
	m, err := fit(samples, cfg.Bins, cfg.Alpha, cfg.Provenance, shaping{extend: true, spread: cfg.Spread})
	if err != nil {
		return nil, err
	}
	if cfg.UniformPrior {
		m = m.UniformPrior()
	}
	return m, nil
}

// foldsOf splits the distinct groups, in order of first appearance, into
// at most maxFolds folds, round robin.
func foldsOf(groups []int) [][]int {
	var distinct []int
	for _, g := range groups {
		if !slices.Contains(distinct, g) {
			distinct = append(distinct, g)
		}
	}
	slices.Sort(distinct)
	n := min(maxFolds, len(distinct))
	folds := make([][]int, n)
	for i, g := range distinct {
		folds[i%n] = append(folds[i%n], g)
	}
	return folds
}

// heldOut is one sample predicted by a model that was not fitted on it.
type heldOut struct {
	truth    Domain
	logp     [numDomains]float64 // untempered log posterior (−Inf: a domain the model does not know)
	surprise [numDomains]float64 // per domain the model knows
	noOwn    [numDomains]bool    // lacksOwnEvidence, per domain
}

func (m *Model) holdOut(s Labeled) heldOut {
	h := heldOut{truth: s.Truth, logp: m.logPosterior(&s.Obs)}
	for d := Domain(0); d < numDomains; d++ {
		h.surprise[d] = m.Surprise(s.Obs, d)
		h.noOwn[d] = lacksOwnEvidence(&s.Obs, d)
	}
	return h
}

// knows reports whether the model that predicted h knew domain d.
func (h *heldOut) knows(d Domain) bool { return !math.IsInf(h.logp[d], -1) }

// bestTemperature returns the temperature that minimises the negative
// log-likelihood of the held-out true domains (ties: the smallest).
func bestTemperature(held []heldOut) float64 {
	best, bestNLL := 1.0, math.Inf(1)
	for _, t := range temperatures {
		var nll float64
		for _, h := range held {
			if !h.knows(h.truth) {
				continue
			}
			p := normalize(h.logp, t)[h.truth]
			nll -= math.Log(max(p, 1e-12))
		}
		if nll < bestNLL-1e-9 {
			best, bestNLL = t, nll
		}
	}
	return best
}

// surpriseLimits returns, per fault domain with held-out samples, the q
// quantile of their surprise under it.
func surpriseLimits(held []heldOut, q float64) map[string]float64 {
	var per [numDomains][]float64
	for _, h := range held {
		// A domain's limit comes from its samples held out from a model
		// that knew it: how unlike its training requests its own can be.
		if h.truth != Unknown && h.knows(h.truth) {
			per[h.truth] = append(per[h.truth], h.surprise[h.truth])
		}
	}
	out := map[string]float64{}
	for d := Domain(1); d < numDomains; d++ {
		v := per[d]
		if len(v) == 0 {
			continue
		}
		slices.Sort(v)
		i := min(len(v)-1, int(math.Ceil(q*float64(len(v))))-1)
		out[d.String()] = max(v[max(0, i)], 1e-9)
	}
	return out
}

// bestMinPosterior returns the MinPosterior that maximises the held-out
// macro-F1 with Unknown as a class, given the temperature and surprise
// limits (ties: the smallest).
func bestMinPosterior(held []heldOut, t float64, a *Abstain) float64 {
	var limit [numDomains]float64
	for name, v := range a.MaxSurprise {
		d, _ := ParseDomain(name)
		limit[d] = v
	}
	best, bestF1 := minPosteriors[0], -1.0
	for _, mp := range minPosteriors {
		var c Confusion
		for _, h := range held {
			if !h.knows(h.truth) {
				continue
			}
			post := normalize(h.logp, t)
			top, p := Unknown, 0.0
			for d := Domain(1); d < numDomains; d++ {
				if post[d] > p {
					top, p = d, post[d]
				}
			}
			if top != Unknown && (post[top] < mp || (a.OwnEvidence && h.noOwn[top]) || (limit[top] > 0 && h.surprise[top] > limit[top])) {
				top = Unknown
			}
			c.Add(h.truth, top)
		}
		if f1 := c.MacroF1WithUnknown(); f1 > bestF1+1e-12 {
			best, bestF1 = mp, f1
		}
	}
	return best
}
