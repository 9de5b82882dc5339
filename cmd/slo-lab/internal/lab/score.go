package lab

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/benchstat"
)

// ClassJSON is one domain's scores.
type ClassJSON struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// ArmJSON is the evaluation of one arm.
type ArmJSON struct {
	MacroF1              float64                   `json:"macro_f1"`
	MacroF1CI            [2]float64                `json:"macro_f1_ci95"`
	AbstainRate          float64                   `json:"abstain_rate"`
	FalsePositiveRate    float64                   `json:"false_positive_rate"`
	FalseAttributionRate float64                   `json:"false_attribution_rate"`
	DetectionDelayP50    float64                   `json:"detection_delay_p50_s"`
	DetectionDelayCI     [2]float64                `json:"detection_delay_p50_ci95_s"`
	ProviderClusterConf  float64                   `json:"provider_vs_cluster_confusion"`
	RunTopAccuracy       float64                   `json:"run_top_accuracy"`
	TwoFaultTop2Rate     float64                   `json:"two_fault_top2_rate"`
	PerClass             map[string]ClassJSON      `json:"per_class"`
	Confusion            map[string]map[string]int `json:"confusion"`
	Runs                 int                       `json:"runs"`
	Samples              int                       `json:"samples"`
}

// incidentScores are the incident figures, the same for every arm: the
// tracker pages on burn rate, attribution only names the domain.
type incidentScores struct {
	fpRate float64           // false-positive runs / fault-free runs
	delay  benchstat.Summary // detection delay of single-fault runs, s
}

// incidents counts the fault-free runs and those with a false-positive page
// into rep, and summarises the detection delay of the single-fault runs.
func (rep *Report) incidents(runs []*runEval) incidentScores {
	var delays []float64
	for _, r := range runs {
		if len(r.sc.Faults) == 0 {
			rep.FaultFreeRuns++
			if _, ok := r.res.FirstPage(r.res.Start.Add(coldStart)); ok {
				rep.FalsePositiveRuns++
			}
			continue
		}
		if r.res.FaultAt.IsZero() {
			continue
		}
		if in, ok := r.res.FirstPage(r.res.FaultAt); ok && len(r.sc.Domains()) == 1 {
			delays = append(delays, in.At.Sub(r.res.FaultAt).Seconds())
		}
	}
	var inc incidentScores
	if rep.FaultFreeRuns > 0 {
		inc.fpRate = float64(rep.FalsePositiveRuns) / float64(rep.FaultFreeRuns)
	}
	inc.delay = benchstat.Summarize(delays, 0.95)
	return inc
}

// scoreArm scores arm ai over every run: its pooled confusion, the
// run-level verdicts of single- and two-fault runs, and the incident
// figures.
func scoreArm(runs []*runEval, ai int, inc incidentScores) ArmJSON {
	var c attribution.Confusion
	var nSamples, topOK, topN, two, twoN int
	for _, r := range runs {
		addConf(&c, &r.conf[ai])
		nSamples += r.conf[ai].Total()
		if !r.has[ai] {
			continue
		}
		switch ds := r.sc.Domains(); {
		case len(ds) == 1:
			topN++
			if r.agg[ai].Top == ds[0] {
				topOK++
			}
		case len(ds) >= 2:
			twoN++
			if inTop2(r.agg[ai], ds) {
				two++
			}
		}
	}
	a := ArmJSON{
		MacroF1:           c.MacroF1(),
		AbstainRate:       c.AbstainRate(),
		FalsePositiveRate: inc.fpRate,
		DetectionDelayP50: nanTo0(inc.delay.Median),
		DetectionDelayCI:  [2]float64{finite(inc.delay.Lo), finite(inc.delay.Hi)},
		PerClass:          perClass(&c),
		Runs:              len(runs),
		Samples:           nSamples,
	}
	a.Confusion, a.FalseAttributionRate, a.ProviderClusterConf = confusionRates(&c)
	a.RunTopAccuracy = ratio(topOK, topN, 0)
	a.TwoFaultTop2Rate = ratio(two, twoN, -1) // -1: no multi-fault runs
	a.MacroF1CI = bootstrapF1(runs, ai, -1)
	return a
}

// ratio returns n/d, or none when d is 0.
func ratio(n, d int, none float64) float64 {
	if d == 0 {
		return none
	}
	return float64(n) / float64(d)
}

// confusionRates returns the non-zero cells of c by name, the share of
// unknown-truth samples given a fault domain (false attribution), and the
// share of provider- or cluster-truth samples given a domain of the other
// side (provider-vs-cluster confusion).
func confusionRates(c *attribution.Confusion) (cells map[string]map[string]int, falseAttr, provCluster float64) {
	cells = map[string]map[string]int{}
	var ukn, uknWrong, pc, pcWrong int
	for t := range attribution.Domains() {
		td := attribution.Domain(t)
		for p := range attribution.Domains() {
			pd := attribution.Domain(p)
			n := c.Counts[td][pd]
			if n == 0 {
				continue
			}
			if cells[td.String()] == nil {
				cells[td.String()] = map[string]int{}
			}
			cells[td.String()][pd.String()] = n
			if td == attribution.Unknown {
				ukn += n
				if pd != attribution.Unknown {
					uknWrong += n
				}
			}
			if isProvider(td) || isCluster(td) {
				pc += n
				if (isProvider(td) && isCluster(pd)) || (isCluster(td) && isProvider(pd)) {
					pcWrong += n
				}
			}
		}
	}
	return cells, ratio(uknWrong, ukn, 0), ratio(pcWrong, pc, 0)
}

// perClass returns the scores of every domain that is a truth or a
// prediction in c.
func perClass(c *attribution.Confusion) map[string]ClassJSON {
	out := map[string]ClassJSON{}
	for _, d := range attribution.Domains() {
		s := c.Score(d)
		pred := 0
		for t := range attribution.Domains() {
			pred += c.Counts[t][d]
		}
		if s.Support == 0 && pred == 0 {
			continue
		}
		out[d.String()] = ClassJSON{Precision: s.Precision, Recall: s.Recall, F1: s.F1, Support: s.Support}
	}
	return out
}

func isProvider(d attribution.Domain) bool {
	return d == attribution.ProviderThrottle || d == attribution.ProviderError || d == attribution.ProviderLatency
}

func isCluster(d attribution.Domain) bool {
	switch d {
	case attribution.NetworkDNS, attribution.NetworkEgress, attribution.CPUThrottle, attribution.CPUContention, attribution.MemoryPressure:
		return true
	}
	return false
}

func inTop2(v attribution.Verdict, want []attribution.Domain) bool {
	var top []attribution.Domain
	for _, h := range v.Ranked {
		if h.Domain != attribution.Unknown && len(top) < 2 {
			top = append(top, h.Domain)
		}
	}
	for _, d := range want {
		if !slices.Contains(top, d) {
			return false
		}
	}
	return true
}

func addConf(dst, src *attribution.Confusion) {
	for t := range src.Counts {
		for p := range src.Counts[t] {
			dst.Counts[t][p] += src.Counts[t][p]
		}
	}
}

// bootstrapF1 resamples the single-fault and fault-free runs with
// replacement (a cluster bootstrap: a run's requests stay together) and
// returns the 95 % percentile interval of arm ai's macro-F1, or, when
// minus ≥ 0, of arm ai's macro-F1 minus arm minus's.
func bootstrapF1(runs []*runEval, ai, minus int) [2]float64 {
	var pool []*runEval
	for _, r := range runs {
		if len(r.sc.Domains()) <= 1 && r.conf[ai].Total() > 0 {
			pool = append(pool, r)
		}
	}
	if len(pool) < 2 {
		return [2]float64{}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 2000
	vals := make([]float64, 0, n)
	for range n {
		var a, b attribution.Confusion
		for range pool {
			r := pool[rng.IntN(len(pool))]
			addConf(&a, &r.conf[ai])
			if minus >= 0 {
				addConf(&b, &r.conf[minus])
			}
		}
		v := a.MacroF1()
		if minus >= 0 {
			v -= b.MacroF1()
		}
		vals = append(vals, v)
	}
	slices.Sort(vals)
	return [2]float64{vals[int(0.025*n)], vals[int(0.975*n)-1]}
}

func nanTo0(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	return v
}
