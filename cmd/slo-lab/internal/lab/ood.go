package lab

import (
	"github.com/llmslo/slo/attribution"
)

// LOMOJSON is the leave-one-magnitude-out evaluation: fold k holds out the
// k-th magnitude of every family; the headline.
type LOMOJSON struct {
	Folds int `json:"folds"`
	ArmJSON
}

// LOFOClass is what became of the bad requests of one fault domain the
// model was not fitted on.
type LOFOClass struct {
	Samples int `json:"samples"`
	// Unknown is the share attributed to unknown; LowConfidence the share
	// attributed to unknown or to a domain with a posterior below 0.5.
	Unknown       float64 `json:"unknown"`
	LowConfidence float64 `json:"unknown_or_low_confidence"`
	// Predicted counts the answers by domain.
	Predicted map[string]int `json:"predicted"`
}

// LOFOJSON is the leave-one-domain-out evaluation: every domain's bad
// requests scored by a model fitted without any run of that domain.
type LOFOJSON struct {
	PerDomain map[string]LOFOClass `json:"per_domain"`
	// The pooled shares over every domain's samples, and their mean over
	// the domains (each domain weighing the same).
	Samples           int     `json:"samples"`
	Unknown           float64 `json:"unknown"`
	LowConfidence     float64 `json:"unknown_or_low_confidence"`
	MeanUnknown       float64 `json:"mean_unknown"`
	MeanLowConfidence float64 `json:"mean_unknown_or_low_confidence"`
}

// lowConfidence is the posterior below which a named domain counts as low
// confidence in the leave-one-domain-out score.
const lowConfidence = 0.5

// scoreLOFO summarises the lofo protocol: each single-fault run's in-fault
// samples, by domain.
func scoreLOFO(runs []*runEval) LOFOJSON {
	out := LOFOJSON{PerDomain: map[string]LOFOClass{}}
	type count struct{ n, unknown, low int }
	per := map[attribution.Domain]*count{}
	pred := map[attribution.Domain]map[string]int{}
	for _, r := range runs {
		if r.preds[lofo] == nil {
			continue
		}
		for i, s := range r.res.Samples {
			if !s.InFault || len(s.Truths) > 1 {
				continue
			}
			v := r.preds[lofo][i]
			c := per[s.Truth]
			if c == nil {
				c = &count{}
				per[s.Truth] = c
				pred[s.Truth] = map[string]int{}
			}
			c.n++
			pred[s.Truth][v.Top.String()]++
			if v.Top == attribution.Unknown {
				c.unknown++
			}
			if v.Top == attribution.Unknown || v.Confidence < lowConfidence {
				c.low++
			}
		}
	}
	var n, unknown, low int
	for _, d := range attribution.Domains() {
		c := per[d]
		if c == nil {
			continue
		}
		lc := LOFOClass{Samples: c.n, Unknown: ratio(c.unknown, c.n, 0), LowConfidence: ratio(c.low, c.n, 0), Predicted: pred[d]}
		out.PerDomain[d.String()] = lc
		n, unknown, low = n+c.n, unknown+c.unknown, low+c.low
		out.MeanUnknown += lc.Unknown / float64(len(per))
		out.MeanLowConfidence += lc.LowConfidence / float64(len(per))
	}
	out.Samples, out.Unknown, out.LowConfidence = n, ratio(unknown, n, 0), ratio(low, n, 0)
	return out
}
