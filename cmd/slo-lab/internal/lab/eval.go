package lab

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/benchstat"
)

// Arm is a subset of the evidence the model may use.
type Arm struct {
	Name string
	Keep func(attribution.Feature) bool
}

// Arms are the three evaluated arms: application signals only, kernel
// signals only, both.
var Arms = []Arm{
	{"app", func(f attribution.Feature) bool { return !f.Kernel() }},
	{"kernel", func(f attribution.Feature) bool { return f.Kernel() }},
	{"both", func(attribution.Feature) bool { return true }},
}

// coldStart is the part of a run's start during which the fresh tracker's
// burn windows hold only a handful of requests; incidents there are counted
// apart (a long-running service has no such phase).
const coldStart = 2 * time.Second

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

// ScenarioJSON summarises one scenario's runs.
type ScenarioJSON struct {
	Name        string                    `json:"name"`
	Domains     []string                  `json:"domains"`
	Repetitions int                       `json:"repetitions"`
	Runs        int                       `json:"runs"`
	Skipped     string                    `json:"skipped,omitempty"`
	BadInFault  int                       `json:"bad_requests_in_fault"`
	BadOutside  int                       `json:"bad_requests_outside_fault"`
	Requests    int                       `json:"requests"`
	Detected    int                       `json:"runs_with_page"`
	DelayP50    float64                   `json:"detection_delay_p50_s"`
	ColdPages   int                       `json:"cold_start_pages"`
	Assertions  map[string][2]int         `json:"assertions"` // passed, evaluated
	RunTop      map[string]map[string]int `json:"run_top"`    // arm → predicted top → runs
	Errors      []string                  `json:"errors,omitempty"`
}

// Report is report.json.
type Report struct {
	Command   string             `json:"command"`
	Date      string             `json:"date"`
	Machine   string             `json:"machine"`
	Duration  string             `json:"duration"`
	Folds     int                `json:"folds"`
	Arms      map[string]ArmJSON `json:"arms"`
	AppVsBoth struct {
		Diff float64    `json:"macro_f1_diff"`
		CI   [2]float64 `json:"ci95"`
	} `json:"app_vs_both"`
	FalsePositiveRuns int            `json:"false_positive_runs"`
	FaultFreeRuns     int            `json:"fault_free_runs"`
	Scenarios         []ScenarioJSON `json:"scenarios"`
	Targets           []Target       `json:"targets"`
	Notes             []string       `json:"notes"`
}

// Target is one acceptance target and whether it was met.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Goal  string  `json:"goal"`
	Met   bool    `json:"met"`
}

type runEval struct {
	sc  *Scenario
	res *RunResult
	// per arm: confusion of this run's samples under the held-out model, and
	// the run-level aggregated verdict of its in-fault samples.
	conf [3]attribution.Confusion
	agg  [3]attribution.Verdict
	has  [3]bool
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

// Evaluate cross-validates the model by repetition (k folds; a run is never
// in its own training set), scores the three arms, and returns the report
// and the model fitted on every labelled single-fault and fault-free run
// (both arm).
func Evaluate(scs []*Scenario, results [][]RunResult, folds int, prov attribution.Provenance) (*Report, *attribution.Model, error) {
	var runs []*runEval
	for i, sc := range scs {
		for j := range results[i] {
			if results[i][j].Skipped != "" {
				continue
			}
			runs = append(runs, &runEval{sc: sc, res: &results[i][j]})
		}
	}
	training := func(r *runEval) bool { return len(r.sc.Domains()) <= 1 }
	samplesOf := func(keep func(*runEval) bool, arm Arm) []attribution.Labeled {
		var out []attribution.Labeled
		for _, r := range runs {
			if !training(r) || !keep(r) {
				continue
			}
			for _, s := range r.res.Samples {
				out = append(out, attribution.Labeled{Obs: s.Obs.Only(arm.Keep), Truth: s.Truth})
			}
		}
		return out
	}
	if folds < 2 {
		folds = 2
	}
	for ai, arm := range Arms {
		// Held-out predictions for the single-fault and fault-free runs.
		for k := range folds {
			train := samplesOf(func(r *runEval) bool { return r.res.Rep%folds != k }, arm)
			if len(train) == 0 {
				continue
			}
			m, err := fit(train, attribution.Provenance{})
			if err != nil {
				return nil, nil, fmt.Errorf("lab: fit %s fold %d: %w", arm.Name, k, err)
			}
			for _, r := range runs {
				if training(r) && r.res.Rep%folds == k {
					r.score(ai, arm, m)
				}
			}
		}
		// Multi-fault runs were never trained on: the model of all runs.
		all := samplesOf(func(*runEval) bool { return true }, arm)
		if len(all) > 0 {
			m, err := fit(all, attribution.Provenance{})
			if err != nil {
				return nil, nil, fmt.Errorf("lab: fit %s: %w", arm.Name, err)
			}
			for _, r := range runs {
				if !training(r) {
					r.score(ai, arm, m)
				}
			}
		}
	}

	rep := &Report{Arms: map[string]ArmJSON{}, Folds: folds}
	// Incidents: detection delay and false positives do not depend on the arm.
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
	fpRate := 0.0
	if rep.FaultFreeRuns > 0 {
		fpRate = float64(rep.FalsePositiveRuns) / float64(rep.FaultFreeRuns)
	}
	dd := benchstat.Summarize(delays, 0.95)

	for ai, arm := range Arms {
		var c attribution.Confusion
		var nRuns, nSamples, topOK, topN, two, twoN int
		for _, r := range runs {
			if !r.has[ai] && len(r.res.Samples) == 0 {
				nRuns++
				continue
			}
			nRuns++
			addConf(&c, &r.conf[ai])
			nSamples += r.conf[ai].Total()
			ds := r.sc.Domains()
			switch {
			case len(ds) == 1 && r.has[ai]:
				topN++
				if r.agg[ai].Top == ds[0] {
					topOK++
				}
			case len(ds) >= 2 && r.has[ai]:
				twoN++
				if inTop2(r.agg[ai], ds) {
					two++
				}
			}
		}
		a := ArmJSON{
			MacroF1:           c.MacroF1(),
			AbstainRate:       c.AbstainRate(),
			FalsePositiveRate: fpRate,
			DetectionDelayP50: nanTo0(dd.Median),
			DetectionDelayCI:  [2]float64{finite(dd.Lo), finite(dd.Hi)},
			PerClass:          map[string]ClassJSON{},
			Confusion:         map[string]map[string]int{},
			Runs:              nRuns,
			Samples:           nSamples,
		}
		var ukn, uknWrong, pc, pcWrong int
		for t := range attribution.Domains() {
			td := attribution.Domain(t)
			for p := range attribution.Domains() {
				pd := attribution.Domain(p)
				n := c.Counts[td][pd]
				if n == 0 {
					continue
				}
				if a.Confusion[td.String()] == nil {
					a.Confusion[td.String()] = map[string]int{}
				}
				a.Confusion[td.String()][pd.String()] = n
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
		for _, d := range attribution.Domains() {
			s := c.Score(d)
			pred := 0
			for t := range attribution.Domains() {
				pred += c.Counts[t][d]
			}
			if s.Support == 0 && pred == 0 {
				continue
			}
			a.PerClass[d.String()] = ClassJSON{Precision: s.Precision, Recall: s.Recall, F1: s.F1, Support: s.Support}
		}
		if ukn > 0 {
			a.FalseAttributionRate = float64(uknWrong) / float64(ukn)
		}
		if pc > 0 {
			a.ProviderClusterConf = float64(pcWrong) / float64(pc)
		}
		if topN > 0 {
			a.RunTopAccuracy = float64(topOK) / float64(topN)
		}
		if twoN > 0 {
			a.TwoFaultTop2Rate = float64(two) / float64(twoN)
		} else {
			a.TwoFaultTop2Rate = -1 // no multi-fault runs
		}
		a.MacroF1CI = bootstrapF1(runs, ai, -1)
		rep.Arms[arm.Name] = a
	}
	app, both := rep.Arms["app"], rep.Arms["both"]
	rep.AppVsBoth.Diff = both.MacroF1 - app.MacroF1
	rep.AppVsBoth.CI = bootstrapF1(runs, 2, 0)

	// Per scenario.
	for i, sc := range scs {
		sj := ScenarioJSON{Name: sc.Name, Repetitions: sc.Repetitions, Assertions: map[string][2]int{},
			RunTop: map[string]map[string]int{}}
		for _, d := range sc.Domains() {
			sj.Domains = append(sj.Domains, d.String())
		}
		var sd []float64
		for j := range results[i] {
			res := &results[i][j]
			if res.Skipped != "" {
				sj.Skipped = res.Skipped
				continue
			}
			sj.Runs++
			sj.Requests += res.Requests
			sj.Errors = append(sj.Errors, res.Errors...)
			for _, in := range res.Incidents {
				if in.Severity == "page" && in.At.Before(res.Start.Add(coldStart)) {
					sj.ColdPages++
					break
				}
			}
			for _, s := range res.Samples {
				if s.InFault {
					sj.BadInFault++
				} else {
					sj.BadOutside++
				}
			}
			if !res.FaultAt.IsZero() {
				if in, ok := res.FirstPage(res.FaultAt); ok {
					sj.Detected++
					sd = append(sd, in.At.Sub(res.FaultAt).Seconds())
				}
			}
			var re *runEval
			for _, r := range runs {
				if r.res == res {
					re = r
				}
			}
			for ai, arm := range Arms {
				if re == nil || !re.has[ai] {
					continue
				}
				if sj.RunTop[arm.Name] == nil {
					sj.RunTop[arm.Name] = map[string]int{}
				}
				sj.RunTop[arm.Name][re.agg[ai].Top.String()]++
			}
			for _, as := range sc.Assertions {
				ok, evaluated := checkAssertion(as, res, re)
				if !evaluated {
					continue
				}
				v := sj.Assertions[as.String()]
				v[1]++
				if ok {
					v[0]++
				}
				sj.Assertions[as.String()] = v
			}
		}
		if len(sj.Errors) > 5 {
			sj.Errors = append(sj.Errors[:5], fmt.Sprintf("… %d more", len(sj.Errors)-5))
		}
		if len(sd) > 0 {
			sj.DelayP50 = nanTo0(benchstat.Summarize(sd, 0.95).Median)
		}
		rep.Scenarios = append(rep.Scenarios, sj)
	}

	// The model to ship: every labelled single-fault and fault-free run, both arm.
	all := samplesOf(func(*runEval) bool { return true }, Arms[2])
	var model *attribution.Model
	if len(all) > 0 {
		n := 0
		for _, r := range runs {
			if training(r) {
				n++
			}
		}
		prov.Runs = n
		var err error
		if model, err = fit(all, prov); err != nil {
			return nil, nil, fmt.Errorf("lab: fit model: %w", err)
		}
	}
	rep.targets()
	return rep, model, nil
}

// score predicts r's samples with m under arm ai.
func (r *runEval) score(ai int, arm Arm, m *attribution.Model) {
	var window []attribution.Observation
	for _, s := range r.res.Samples {
		o := s.Obs.Only(arm.Keep)
		if len(r.sc.Domains()) <= 1 {
			r.conf[ai].Add(s.Truth, attribution.Attribute(o, m).Top)
		}
		if s.InFault {
			window = append(window, o)
		}
	}
	if len(window) > 0 {
		// The run's incident verdict, as the tracker ranks it.
		r.agg[ai] = attribution.AttributeIncident(window, m)
		r.has[ai] = true
	}
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

func checkAssertion(a Assertion, res *RunResult, re *runEval) (ok, evaluated bool) {
	switch {
	case a.TopDomain != "":
		if re == nil || !re.has[2] {
			return false, true
		}
		return re.agg[2].Top.String() == a.TopDomain, true
	case len(a.Top2) > 0:
		if re == nil || !re.has[2] {
			return false, true
		}
		var ds []attribution.Domain
		for _, n := range a.Top2 {
			d, _ := attribution.ParseDomain(n)
			ds = append(ds, d)
		}
		return inTop2(re.agg[2], ds), true
	case a.DetectionDelayMax > 0:
		if res.FaultAt.IsZero() {
			return false, true
		}
		in, found := res.FirstPage(res.FaultAt)
		return found && in.At.Sub(res.FaultAt) <= a.DetectionDelayMax.D(), true
	case a.NoIncident:
		_, found := res.FirstPage(res.Start.Add(coldStart))
		return !found, true
	case a.MinBadRequests != nil:
		n := 0
		for _, s := range res.Samples {
			if s.InFault {
				n++
			}
		}
		return n >= *a.MinBadRequests, true
	}
	return false, false
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

func (rep *Report) targets() {
	both, app := rep.Arms["both"], rep.Arms["app"]
	add := func(name string, v float64, goal string, met bool) {
		rep.Targets = append(rep.Targets, Target{Name: name, Value: v, Goal: goal, Met: met})
	}
	add("macro-F1 (both)", both.MacroF1, "≥ 0.90", both.MacroF1 >= 0.90)
	for _, n := range []string{"app", "kernel"} {
		a := rep.Arms[n]
		add("macro-F1 ("+n+")", a.MacroF1, "≥ 0.90", a.MacroF1 >= 0.90)
	}
	add("abstain rate (both)", both.AbstainRate, "≤ 0.10", both.AbstainRate <= 0.10)
	fp := both.FalsePositiveRate
	add("false-positive incidents on fault-free runs", fp, "≤ 0.05", rep.FaultFreeRuns > 0 && fp <= 0.05)
	add("provider-vs-cluster confusion (both)", both.ProviderClusterConf, "≤ 0.05", both.ProviderClusterConf <= 0.05)
	add("median detection delay (s)", both.DetectionDelayP50, "≤ 2", both.DetectionDelayP50 > 0 && both.DetectionDelayP50 <= 2)
	add("macro-F1 both − app (CI lower bound)", rep.AppVsBoth.CI[0], "> 0", rep.AppVsBoth.CI[0] > 0)
	if both.TwoFaultTop2Rate >= 0 {
		add("two-fault runs with both domains in the top 2 (both)", both.TwoFaultTop2Rate, "≥ 0.80", both.TwoFaultTop2Rate >= 0.80)
	}
	_ = app
}

// fit fits the lab's model: naive Bayes over LabBins with Laplace smoothing,
// then a uniform prior over the fault domains (attribution.UniformPrior:
// how many bad requests each injected fault produced is no prior).
func fit(samples []attribution.Labeled, prov attribution.Provenance) (*attribution.Model, error) {
	m, err := attribution.Fit(samples, LabBins(), 1, prov)
	if err != nil {
		return nil, err
	}
	return m.UniformPrior(), nil
}

// LabBins is the discretisation the lab fits with: finer than
// attribution.DefaultBins at the top, where the faults of the lab differ
// (a 400 ms DNS delay, a 1 s SYN retransmit, seconds of CFS throttling).
func LabBins() map[string]attribution.Bins {
	out := attribution.DefaultBins()
	for _, f := range attribution.AllFeatures() {
		switch f {
		case attribution.AppThrottled, attribution.AppServerErrors, attribution.AppResets,
			attribution.KernRetransmits, attribution.KernConnectErrors, attribution.KernStealPct:
		default:
			out[f.String()] = attribution.Bins{Edges: []float64{5, 20, 50, 100, 250, 500, 1000, 2000}}
		}
	}
	return out
}
