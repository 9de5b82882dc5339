package lab

import (
	"fmt"
	"time"

	"github.com/llmslo/slo/attribution"
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

type runEval struct {
	sc  *Scenario
	res *RunResult
	// per arm: confusion of this run's samples under the held-out model, and
	// the run-level aggregated verdict of its in-fault samples.
	conf [3]attribution.Confusion
	agg  [3]attribution.Verdict
	has  [3]bool
}

// training reports whether the run's samples train the model: single-fault
// and fault-free runs do, multi-fault runs are only scored.
func (r *runEval) training() bool { return len(r.sc.Domains()) <= 1 }

// Evaluate cross-validates the model by repetition (k folds; a run is never
// in its own training set), scores the three arms, and returns the report
// and the model fitted on every labelled single-fault and fault-free run
// (both arm).
func Evaluate(scs []*Scenario, results [][]RunResult, folds int, prov attribution.Provenance) (*Report, *attribution.Model, error) {
	runs := evalRuns(scs, results)
	if folds < 2 {
		folds = 2
	}
	for ai, arm := range Arms {
		if err := crossValidate(runs, folds, ai, arm); err != nil {
			return nil, nil, err
		}
	}
	rep := &Report{Arms: map[string]ArmJSON{}, Folds: folds}
	inc := rep.incidents(runs)
	for ai, arm := range Arms {
		rep.Arms[arm.Name] = scoreArm(runs, ai, inc)
	}
	app, both := rep.Arms["app"], rep.Arms["both"]
	rep.AppVsBoth.Diff = both.MacroF1 - app.MacroF1
	rep.AppVsBoth.CI = bootstrapF1(runs, 2, 0)
	byResult := map[*RunResult]*runEval{}
	for _, r := range runs {
		byResult[r.res] = r
	}
	for i, sc := range scs {
		rep.Scenarios = append(rep.Scenarios, summarizeScenario(sc, results[i], byResult))
	}
	model, err := shippedModel(runs, prov)
	if err != nil {
		return nil, nil, err
	}
	rep.targets()
	return rep, model, nil
}

// evalRuns returns the runs that ran (not skipped), scenario by scenario.
func evalRuns(scs []*Scenario, results [][]RunResult) []*runEval {
	var runs []*runEval
	for i, sc := range scs {
		for j := range results[i] {
			if results[i][j].Skipped != "" {
				continue
			}
			runs = append(runs, &runEval{sc: sc, res: &results[i][j]})
		}
	}
	return runs
}

// trainingSamples returns the samples of the training runs keep accepts,
// with the features arm keeps.
func trainingSamples(runs []*runEval, keep func(*runEval) bool, arm Arm) []attribution.Labeled {
	var out []attribution.Labeled
	for _, r := range runs {
		if !r.training() || !keep(r) {
			continue
		}
		for _, s := range r.res.Samples {
			out = append(out, attribution.Labeled{Obs: s.Obs.Only(arm.Keep), Truth: s.Truth})
		}
	}
	return out
}

func allRuns(*runEval) bool { return true }

// crossValidate scores arm ai on every run: each training run with the
// model fitted on the other folds, each multi-fault run (never trained on)
// with the model of all training runs.
func crossValidate(runs []*runEval, folds, ai int, arm Arm) error {
	for k := range folds {
		train := trainingSamples(runs, func(r *runEval) bool { return r.res.Rep%folds != k }, arm)
		if len(train) == 0 {
			continue
		}
		m, err := fit(train, attribution.Provenance{})
		if err != nil {
			return fmt.Errorf("lab: fit %s fold %d: %w", arm.Name, k, err)
		}
		for _, r := range runs {
			if r.training() && r.res.Rep%folds == k {
				r.score(ai, arm, m)
			}
		}
	}
	all := trainingSamples(runs, allRuns, arm)
	if len(all) == 0 {
		return nil
	}
	m, err := fit(all, attribution.Provenance{})
	if err != nil {
		return fmt.Errorf("lab: fit %s: %w", arm.Name, err)
	}
	for _, r := range runs {
		if !r.training() {
			r.score(ai, arm, m)
		}
	}
	return nil
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

// shippedModel fits the model to ship: every labelled single-fault and
// fault-free run, both arm; nil when there are no samples.
func shippedModel(runs []*runEval, prov attribution.Provenance) (*attribution.Model, error) {
	all := trainingSamples(runs, allRuns, Arms[2])
	if len(all) == 0 {
		return nil, nil
	}
	n := 0
	for _, r := range runs {
		if r.training() {
			n++
		}
	}
	prov.Runs = n
	model, err := fit(all, prov)
	if err != nil {
		return nil, fmt.Errorf("lab: fit model: %w", err)
	}
	return model, nil
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
