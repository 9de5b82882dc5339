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

// ReliabilityBin is one bin of a reliability table: the samples whose top
// posterior fell in [Lo, Hi), their mean top posterior and how often the
// top domain was the truth.
type ReliabilityBin struct {
	Lo         float64 `json:"lo"`
	Hi         float64 `json:"hi"`
	N          int     `json:"n"`
	Confidence float64 `json:"confidence"`
	Accuracy   float64 `json:"accuracy"`
}

// ArmJSON is the evaluation of one arm (or of one model).
type ArmJSON struct {
	// MacroF1Unknown is the macro-F1 with unknown as a class (the
	// headline), MacroF1 the macro-F1 over the fault domains only.
	MacroF1Unknown   float64    `json:"macro_f1_with_unknown"`
	MacroF1UnknownCI [2]float64 `json:"macro_f1_with_unknown_ci95"`
	MacroF1          float64    `json:"macro_f1"`
	MacroF1CI        [2]float64 `json:"macro_f1_ci95"`
	// ECE is the expected calibration error of the top posterior over
	// Reliability's bins.
	ECE         float64          `json:"ece"`
	Reliability []ReliabilityBin `json:"reliability"`
	// FaultFreeUnknown is the share of bad requests no fault explains
	// (truth unknown) attributed to unknown, of FaultFreeSamples.
	FaultFreeUnknown     float64    `json:"fault_free_bad_to_unknown"`
	FaultFreeSamples     int        `json:"fault_free_bad_samples"`
	AbstainRate          float64    `json:"abstain_rate"`
	FalsePositiveRate    float64    `json:"false_positive_rate"`
	FalseAttributionRate float64    `json:"false_attribution_rate"`
	DetectionDelayP50    float64    `json:"detection_delay_p50_s"`
	DetectionDelayCI     [2]float64 `json:"detection_delay_p50_ci95_s"`
	ProviderClusterConf  float64    `json:"provider_vs_cluster_confusion"`
	RunTopAccuracy       float64    `json:"run_top_accuracy"`
	// MultiTruthSamples are the bad requests several faults overlapped;
	// MultiTruthTopK the share of them whose top k domains (k: how many
	// faults) contain every one (-1: none).
	MultiTruthSamples int                       `json:"multi_truth_samples"`
	MultiTruthTopK    float64                   `json:"multi_truth_topk_contains_all"`
	TwoFaultTop2Rate  float64                   `json:"two_fault_top2_rate"`
	PerClass          map[string]ClassJSON      `json:"per_class"`
	Confusion         map[string]map[string]int `json:"confusion"`
	Runs              int                       `json:"runs"`
	Samples           int                       `json:"samples"`
}

// minSupport is the per-class support below which a class's scores are
// flagged as resting on too few samples.
const minSupport = 50

// calBins is the number of equal-width bins of the reliability table.
const calBins = 10

// tally accumulates the sample-level scores of a set of predictions.
type tally struct {
	conf attribution.Confusion
	// cal: per bin of the top posterior, samples, summed posterior, hits.
	calN   [calBins]int
	calSum [calBins]float64
	calHit [calBins]int
	// setN counts the samples with several true domains, setHit those
	// whose top k domains (k: how many) contain them all.
	setN, setHit int
}

// addSet records one prediction of a sample with several true domains.
func (t *tally) addSet(truths []attribution.Domain, v attribution.Verdict) {
	t.setN++
	if topKContains(v, truths) {
		t.setHit++
	}
}

// topKContains reports whether the len(want) most likely fault domains of
// v (Unknown aside) include every domain of want.
func topKContains(v attribution.Verdict, want []attribution.Domain) bool {
	var top []attribution.Domain
	for _, h := range v.Ranked {
		if h.Domain != attribution.Unknown && len(top) < len(want) {
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

// add records one prediction of a sample whose true domain is truth.
func (t *tally) add(truth attribution.Domain, v attribution.Verdict) {
	t.conf.Add(truth, v.Top)
	if len(v.Ranked) == 0 {
		return
	}
	top := v.Ranked[0] // the top posterior, Unknown included
	b := min(int(top.Posterior*calBins), calBins-1)
	t.calN[b]++
	t.calSum[b] += top.Posterior
	if top.Domain == truth {
		t.calHit[b]++
	}
}

func (t *tally) merge(o *tally) {
	addConf(&t.conf, &o.conf)
	for b := range calBins {
		t.calN[b] += o.calN[b]
		t.calSum[b] += o.calSum[b]
		t.calHit[b] += o.calHit[b]
	}
	t.setN += o.setN
	t.setHit += o.setHit
}

// reliability returns the non-empty bins of the reliability table and the
// expected calibration error: Σ_b n_b/N · |accuracy_b − confidence_b|.
func (t *tally) reliability() ([]ReliabilityBin, float64) {
	var out []ReliabilityBin
	total := 0
	for _, n := range t.calN {
		total += n
	}
	var ece float64
	for b := range calBins {
		n := t.calN[b]
		if n == 0 {
			continue
		}
		rb := ReliabilityBin{Lo: float64(b) / calBins, Hi: float64(b+1) / calBins, N: n,
			Confidence: t.calSum[b] / float64(n), Accuracy: float64(t.calHit[b]) / float64(n)}
		out = append(out, rb)
		ece += float64(n) / float64(total) * math.Abs(rb.Accuracy-rb.Confidence)
	}
	return out, ece
}

// runTally returns the tally of r's samples under protocol p: those with
// one true domain (or none) in the confusion and the calibration, those
// with several in the set-aware score.
func runTally(r *runEval, p protocol) tally {
	var t tally
	if r.preds[p] == nil {
		return t
	}
	for i, s := range r.res.Samples {
		if len(s.Truths) > 1 {
			t.addSet(s.Truths, r.preds[p][i])
			continue
		}
		t.add(s.Truth, r.preds[p][i])
	}
	return t
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

// scoreArm scores protocol p over every run it predicted: the pooled
// sample-level scores, the run-level verdicts of single- and two-fault
// runs, and the incident figures.
func scoreArm(runs []*runEval, p protocol, inc incidentScores) ArmJSON {
	var t tally
	var scored, topOK, topN, two, twoN int
	for _, r := range runs {
		if r.preds[p] == nil {
			continue
		}
		scored++
		rt := runTally(r, p)
		t.merge(&rt)
		if !r.has[p] {
			continue
		}
		switch ds := r.sc.Domains(); {
		case len(ds) == 1:
			topN++
			if r.agg[p].Top == ds[0] {
				topOK++
			}
		case len(ds) >= 2:
			twoN++
			if inTop2(r.agg[p], ds) {
				two++
			}
		}
	}
	c := &t.conf
	a := ArmJSON{
		MacroF1Unknown:    c.MacroF1WithUnknown(),
		MacroF1:           c.MacroF1(),
		AbstainRate:       c.AbstainRate(),
		FalsePositiveRate: inc.fpRate,
		DetectionDelayP50: nanTo0(inc.delay.Median),
		DetectionDelayCI:  [2]float64{finite(inc.delay.Lo), finite(inc.delay.Hi)},
		PerClass:          perClass(c),
		Runs:              scored,
		Samples:           c.Total(),
	}
	a.Reliability, a.ECE = t.reliability()
	a.MultiTruthSamples, a.MultiTruthTopK = t.setN, ratio(t.setHit, t.setN, -1)
	uk := c.Score(attribution.Unknown)
	a.FaultFreeUnknown, a.FaultFreeSamples = uk.Recall, uk.Support
	a.Confusion, a.FalseAttributionRate, a.ProviderClusterConf = confusionRates(c)
	a.RunTopAccuracy = ratio(topOK, topN, 0)
	a.TwoFaultTop2Rate = ratio(two, twoN, -1) // -1: no multi-fault runs
	a.MacroF1UnknownCI = bootstrap(runs, p, -1, macroF1Unknown)
	a.MacroF1CI = bootstrap(runs, p, -1, macroF1)
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

func macroF1(t *tally) float64        { return t.conf.MacroF1() }
func macroF1Unknown(t *tally) float64 { return t.conf.MacroF1WithUnknown() }

// bootstrap resamples the runs that protocol p scored sample by sample,
// with replacement (a cluster bootstrap: a run's requests stay together),
// and returns the 95 % percentile interval of metric under p, or, when
// minus ≥ 0, of metric under p minus metric under minus.
func bootstrap(runs []*runEval, p, minus protocol, metric func(*tally) float64) [2]float64 {
	type pair struct{ a, b tally }
	var pool []pair
	for _, r := range runs {
		a := runTally(r, p)
		if a.conf.Total() == 0 {
			continue
		}
		pr := pair{a: a}
		if minus >= 0 {
			pr.b = runTally(r, minus)
		}
		pool = append(pool, pr)
	}
	if len(pool) < 2 {
		return [2]float64{}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 2000
	vals := make([]float64, 0, n)
	for range n {
		var a, b tally
		for range pool {
			r := &pool[rng.IntN(len(pool))]
			a.merge(&r.a)
			if minus >= 0 {
				b.merge(&r.b)
			}
		}
		v := metric(&a)
		if minus >= 0 {
			v -= metric(&b)
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
