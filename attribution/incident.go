package attribution

import (
	"math"
	"slices"
)

// ConcurrentPrior is the prior probability, in [AttributeIncident], that a
// second domain is at fault alongside the top one. One half states no
// preference between "the top domain alone" and "the top domain and one
// more"; the evidence of a few requests outweighs it either way.
const ConcurrentPrior = 0.5

// AttributeIncident ranks the fault domains of an incident from the evidence
// of its bad requests (each as excess over the healthy baselines).
//
// The top domain is that of [Aggregate] over the requests' verdicts: the
// mean of the single-cause posteriors, abstaining (Unknown) below
// [AbstainBelow]. Its Posterior and the verdict's Confidence are that mean.
//
// The naive-Bayes posterior assumes one cause per request, so with two
// concurrent faults the top domain takes nearly all of every request's
// mass and the runner-ups say nothing. Under a usable model the runner-ups
// are therefore ranked by explaining away: given the top domain d₁, each
// request is scored under the hypotheses "d₁ alone" (likelihood
// ∏ P(x_f | d₁)) and "d₁ and c" for every other domain c, a two-cause
// mixture in which each observed feature comes from either cause with
// equal probability (likelihood ∏ ½·(P(x_f | d₁) + P(x_f | c))), with prior
// 1 − [ConcurrentPrior] for the first and ConcurrentPrior split over the
// c by their priors. A feature that d₁ already explains is explained
// under every hypothesis and barely moves them; a feature that d₁ makes
// unlikely and c makes likely lifts "d₁ and c". A runner-up's Posterior is
// the mean over the requests of P(d₁ and c | evidence): the probability
// that c is at fault too, given that d₁ is. Runner-up posteriors are
// therefore not shares of one distribution: they and the top's need not
// sum to 1, and 1 − their sum is the probability that d₁ alone explains
// the evidence. Unknown, as a runner-up, is "d₁ and something the model
// does not know". Features a domain never showed in the lab count as
// uniform over their bins for that domain (no information).
//
// When the verdict abstains (Top Unknown: the evidence is weak, or split
// between concurrent causes), Unknown comes first with its mean posterior,
// then the most likely domain with its mean posterior, then the runner-ups
// given that domain. Without a usable model the verdict is Aggregate's:
// there each posterior is a share of the explained time ([Decompose]), which
// concurrent domains already share.
func AttributeIncident(obs []Observation, m *Model) Verdict {
	vs := make([]Verdict, 0, len(obs))
	for _, o := range obs {
		vs = append(vs, Attribute(o, m))
	}
	agg := Aggregate(vs)
	if !m.usable() || len(obs) == 0 {
		return agg
	}
	// d1: the top domain, or when abstaining the most likely one.
	d1 := agg.Top
	for _, h := range agg.Ranked {
		if d1 == Unknown && h.Domain != Unknown {
			d1 = h.Domain
		}
	}
	if d1 == Unknown {
		return agg
	}
	concurrent := m.concurrent(obs, d1)
	out := Verdict{Top: agg.Top, Confidence: agg.Confidence}
	for _, h := range agg.Ranked {
		if h.Domain == d1 || (h.Domain == Unknown && agg.Top == Unknown) {
			out.Ranked = append(out.Ranked, h)
		}
	}
	if len(out.Ranked) == 2 && out.Ranked[0].Domain != Unknown {
		out.Ranked[0], out.Ranked[1] = out.Ranked[1], out.Ranked[0] // abstaining: Unknown first
	}
	var rest []Hypothesis
	listed := func(d Domain) bool {
		return slices.ContainsFunc(out.Ranked, func(h Hypothesis) bool { return h.Domain == d })
	}
	for _, h := range agg.Ranked {
		if !listed(h.Domain) && concurrent[h.Domain] > 0 {
			h.Posterior = concurrent[h.Domain]
			rest = append(rest, h)
		}
	}
	for d := Domain(0); d < numDomains; d++ {
		if listed(d) || concurrent[d] <= 0 {
			continue
		}
		if !slices.ContainsFunc(rest, func(h Hypothesis) bool { return h.Domain == d }) {
			rest = append(rest, Hypothesis{Domain: d, Posterior: concurrent[d]})
		}
	}
	slices.SortStableFunc(rest, byPosterior)
	out.Ranked = append(out.Ranked, rest...)
	return out
}

// concurrent returns, per domain c ≠ top, the mean over obs of the
// posterior of "top and c" against "top alone" and every other pair (see
// AttributeIncident).
func (m *Model) concurrent(obs []Observation, top Domain) [numDomains]float64 {
	var out [numDomains]float64
	var others float64
	for c := Domain(0); c < numDomains; c++ {
		if c != top {
			others += m.prior[c]
		}
	}
	if others <= 0 || m.prior[top] <= 0 {
		return out
	}
	for i := range obs {
		o := &obs[i]
		// Log-likelihoods: index top is "top alone", c is "top and c".
		var logl [numDomains]float64
		for c := range logl {
			logl[c] = math.Inf(-1)
		}
		logl[top] = math.Log(1 - ConcurrentPrior)
		for c := Domain(0); c < numDomains; c++ {
			if c != top && m.prior[c] > 0 {
				logl[c] = math.Log(ConcurrentPrior * m.prior[c] / others)
			}
		}
		for f := Feature(0); f < numFeatures; f++ {
			v, ok := o.Get(f)
			if !ok {
				continue // missing: no information, never "normal"
			}
			b := m.bins[f].index(v)
			p1 := m.prob(top, f, b)
			for c := Domain(0); c < numDomains; c++ {
				switch {
				case math.IsInf(logl[c], -1):
				case c == top:
					logl[c] += math.Log(p1)
				default:
					logl[c] += math.Log(0.5 * (p1 + m.prob(c, f, b)))
				}
			}
		}
		best := math.Inf(-1)
		for _, l := range logl {
			best = max(best, l)
		}
		var post [numDomains]float64
		var sum float64
		for c, l := range logl {
			if !math.IsInf(l, -1) {
				post[c] = math.Exp(l - best)
				sum += post[c]
			}
		}
		for c := range post {
			if Domain(c) != top {
				out[c] += post[c] / sum / float64(len(obs))
			}
		}
	}
	return out
}

// prob returns P(bin b of feature f | domain d), uniform over the bins when
// the model never saw d with f.
func (m *Model) prob(d Domain, f Feature, b int) float64 {
	if p := m.lik[d][f]; p != nil {
		return p[b]
	}
	return 1 / float64(m.bins[f].count())
}
