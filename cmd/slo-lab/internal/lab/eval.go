package lab

import (
	"fmt"
	"slices"
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

// protocol indexes the predictions a run holds: one per way of scoring.
type protocol int

const (
	// cvApp, cvKernel and cvBoth are the cross-validation by repetition of
	// each arm (in the order of Arms).
	cvApp protocol = iota
	cvKernel
	cvBoth
	// lomo leaves one magnitude out: fold k holds out level k of every
	// family (fault-free runs by repetition), both arm.
	lomo
	// lofo leaves one fault domain out: each domain's runs are scored by a
	// model fitted without any run of that domain, both arm.
	lofo
	// evalModel is a given model (-evaluate), scored as is on every run.
	evalModel
	numProtocols
)

// coldStart is the part of a run's start during which the fresh tracker's
// burn windows hold only a handful of requests; incidents there are counted
// apart (a long-running service has no such phase).
const coldStart = 2 * time.Second

type runEval struct {
	sc  *Scenario
	res *RunResult
	// watched are the kernel features whose probe the run's status says
	// was running (see evidence).
	watched attribution.FeatureSet
	// preds holds, per protocol, the verdict on each of res.Samples (nil:
	// not scored by that protocol); agg the run-level verdict over its
	// in-fault samples (has: there were some).
	preds [numProtocols][]attribution.Verdict
	agg   [numProtocols]attribution.Verdict
	has   [numProtocols]bool
}

// training reports whether the run's samples train the model: single-fault
// and fault-free runs do, multi-fault runs are only scored.
func (r *runEval) training() bool { return len(r.sc.Domains()) <= 1 }

// EvalConfig says how to evaluate a record.
type EvalConfig struct {
	// Folds of the cross-validation by repetition (at least 2).
	Folds int
	// Models are scored as is on every run (no refitting), each on its own.
	Models []NamedModel
	// Provenance is given to the model fitted on every training run.
	Provenance attribution.Provenance
}

// NamedModel is a model to score as is, with the path it was given as.
type NamedModel struct {
	Name  string
	Model *attribution.Model
}

// Evaluate cross-validates the model by repetition (k folds; a run is never
// in its own training set), scores the three arms and cfg.Models, and
// returns the report and the model fitted on every labelled single-fault
// and fault-free run (both arm).
func Evaluate(scs []*Scenario, results [][]RunResult, cfg EvalConfig) (*Report, *attribution.Model, error) {
	runs := evalRuns(scs, results)
	if cfg.Folds < 2 {
		return nil, nil, fmt.Errorf("lab: cross-validation needs at least 2 folds, have %d", cfg.Folds)
	}
	for ai, arm := range Arms {
		byRep := func(r *runEval) int { return r.res.Rep % cfg.Folds }
		if err := crossValidate(runs, cfg.Folds, byRep, protocol(ai), arm); err != nil {
			return nil, nil, err
		}
	}
	levels := numLevels(runs)
	if err := crossValidate(runs, levels, func(r *runEval) int { return r.group(levels) }, lomo, Arms[2]); err != nil {
		return nil, nil, err
	}
	if err := leaveDomainOut(runs); err != nil {
		return nil, nil, err
	}
	rep := &Report{Arms: map[string]ArmJSON{}, Folds: cfg.Folds}
	rep.health(results, scs)
	inc := rep.incidents(runs)
	for ai, arm := range Arms {
		rep.Arms[arm.Name] = scoreArm(runs, protocol(ai), inc)
	}
	rep.LOMO = LOMOJSON{Folds: levels, ArmJSON: scoreArm(runs, lomo, inc)}
	rep.LOFO = scoreLOFO(runs)
	for _, m := range cfg.Models {
		// One model at a time in the evalModel slot: each scored alone.
		for _, r := range runs {
			r.score(evalModel, Arms[2], m.Model)
		}
		a := scoreArm(runs, evalModel, inc)
		rep.Models = append(rep.Models, ModelJSON{Name: m.Name, Provenance: m.Model.Provenance, ArmJSON: a})
	}
	app, both := rep.Arms["app"], rep.Arms["both"]
	rep.AppVsBoth.Diff = both.MacroF1 - app.MacroF1
	rep.AppVsBoth.CI = bootstrap(runs, cvBoth, cvApp, macroF1)
	byResult := map[*RunResult]*runEval{}
	for _, r := range runs {
		byResult[r.res] = r
	}
	for i, sc := range scs {
		rep.Scenarios = append(rep.Scenarios, summarizeScenario(sc, results[i], byResult))
	}
	model, err := shippedModel(runs, cfg.Provenance)
	if err != nil {
		return nil, nil, err
	}
	rep.targets()
	rep.warnings()
	return rep, model, nil
}

// evalRuns returns the runs that ran (not skipped) and were not rejected,
// scenario by scenario.
func evalRuns(scs []*Scenario, results [][]RunResult) []*runEval {
	var runs []*runEval
	for i, sc := range scs {
		for j := range results[i] {
			if results[i][j].Skipped != "" || results[i][j].Rejected != "" {
				continue
			}
			runs = append(runs, &runEval{sc: sc, res: &results[i][j], watched: watched(results[i][j].Kernel)})
		}
	}
	return runs
}

// group is the run's magnitude level, the group the model's held-out
// calibration and the leave-one-magnitude-out folds are made of: a swept
// scenario's level, else the repetition modulo levels.
func (r *runEval) group(levels int) int {
	if r.sc.Magnitude != "" {
		return r.sc.Level
	}
	return r.res.Rep % max(1, levels)
}

// numLevels is the most magnitudes a family of runs has (at least 2).
func numLevels(runs []*runEval) int {
	n := 2
	for _, r := range runs {
		if r.sc.Magnitude != "" {
			n = max(n, r.sc.Level+1)
		}
	}
	return n
}

// trainingSamples returns the samples of the training runs keep accepts,
// with the features arm keeps, and the group of each (see runEval.group).
func trainingSamples(runs []*runEval, keep func(*runEval) bool, arm Arm) ([]attribution.Labeled, []int) {
	levels := numLevels(runs)
	var out []attribution.Labeled
	var groups []int
	for _, r := range runs {
		if !r.training() || !keep(r) {
			continue
		}
		for i, s := range r.res.Samples {
			out = append(out, attribution.Labeled{Obs: r.evidence(i, arm), Truth: s.Truth})
			groups = append(groups, r.group(levels))
		}
	}
	return out, groups
}

func allRuns(*runEval) bool { return true }

// crossValidate scores arm (protocol p) on every run: each training run
// with the model fitted on the runs of the other folds (fold(r) in
// [0, folds)), each multi-fault run (never trained on) with the model of
// all training runs.
func crossValidate(runs []*runEval, folds int, fold func(*runEval) int, p protocol, arm Arm) error {
	for k := range folds {
		train, groups := trainingSamples(runs, func(r *runEval) bool { return fold(r) != k }, arm)
		if len(train) == 0 {
			continue
		}
		m, err := fit(train, groups, attribution.Provenance{})
		if err != nil {
			return fmt.Errorf("lab: fit %s fold %d: %w", arm.Name, k, err)
		}
		for _, r := range runs {
			if r.training() && fold(r) == k {
				r.score(p, arm, m)
			}
		}
	}
	all, groups := trainingSamples(runs, allRuns, arm)
	if len(all) == 0 {
		return nil
	}
	m, err := fit(all, groups, attribution.Provenance{})
	if err != nil {
		return fmt.Errorf("lab: fit %s: %w", arm.Name, err)
	}
	for _, r := range runs {
		if !r.training() {
			r.score(p, arm, m)
		}
	}
	return nil
}

// leaveDomainOut scores every single-fault run of each fault domain with a
// model fitted on the training runs of the other domains (and the
// fault-free runs): the domain is one the model never saw.
func leaveDomainOut(runs []*runEval) error {
	for _, d := range attribution.Domains()[1:] {
		of := func(r *runEval) bool { ds := r.sc.Domains(); return len(ds) == 1 && ds[0] == d }
		if !slices.ContainsFunc(runs, of) {
			continue
		}
		train, groups := trainingSamples(runs, func(r *runEval) bool { return !of(r) }, Arms[2])
		if len(train) == 0 {
			continue
		}
		m, err := fit(train, groups, attribution.Provenance{})
		if err != nil {
			return fmt.Errorf("lab: fit without %s: %w", d, err)
		}
		for _, r := range runs {
			if of(r) {
				r.score(lofo, Arms[2], m)
			}
		}
	}
	return nil
}

// score predicts r's samples with m under arm as protocol p, and the run's
// incident verdict over its in-fault samples.
func (r *runEval) score(p protocol, arm Arm, m *attribution.Model) {
	var window []attribution.Observation
	r.preds[p] = make([]attribution.Verdict, len(r.res.Samples))
	for i, s := range r.res.Samples {
		o := r.evidence(i, arm)
		r.preds[p][i] = attribution.Attribute(o, m)
		if s.InFault {
			window = append(window, o)
		}
	}
	if len(window) > 0 {
		// The run's incident verdict, as the tracker ranks it.
		r.agg[p] = attribution.AttributeIncident(window, m)
		r.has[p] = true
	}
}

// shippedModel fits the model to ship: every labelled single-fault and
// fault-free run, both arm; nil when there are no samples.
func shippedModel(runs []*runEval, prov attribution.Provenance) (*attribution.Model, error) {
	all, groups := trainingSamples(runs, allRuns, Arms[2])
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
	model, err := fit(all, groups, prov)
	if err != nil {
		return nil, fmt.Errorf("lab: fit model: %w", err)
	}
	return model, nil
}

// fit fits the lab's model: naive Bayes over LabBins with labSpread, a
// uniform prior over the fault domains (how many bad requests each
// injected fault produced is no prior), temperature and abstention chosen
// on the samples' groups held out in turn (attribution.FitCalibrated):
// never on the runs it will score. The model also abstains when the top
// domain's own evidence was watched and shows no excess
// (attribution.Abstain.OwnEvidence): contention without CFS throttling is
// not throttling, whatever else the two share. That rule, and reading the
// pollers' features as 0 when they saw nothing (evidence), were compared
// with their absence on the fitting lab's record (docs/lab/fit) only.
func fit(samples []attribution.Labeled, groups []int, prov attribution.Provenance) (*attribution.Model, error) {
	return attribution.FitCalibrated(samples, groups, attribution.FitConfig{Bins: LabBins(), UniformPrior: true, Provenance: prov, Spread: labSpread, OwnEvidence: true})
}

// labSpread is the share of a bin's count each neighbouring bin gets
// (attribution.FitConfig.Spread): a fault at a magnitude the model was not
// fitted on moves secondary evidence by a bin, which should not read as
// evidence unlike anything the domain ever showed. It was chosen on a
// development run of the lab (0, 0.25 and 0.5 compared), never on the runs
// a report scores.
const labSpread = 0.25

// LabBins is the discretisation the lab fits with: durations (ms of excess
// over the baseline) in bins 0 | (0, 10] | (10, 50] | (50, 200] | > 200,
// counts 0 | 1 | 2–3 | 4+, steal 0 | ≤ 2 | ≤ 10 | more. The bins are coarse
// on purpose: each fault family's magnitudes fall in one or two of them,
// so the model learns which evidence rises, not by how much, and a
// magnitude it was not fitted on lands where its neighbours did.
func LabBins() map[string]attribution.Bins {
	out := attribution.DefaultBins()
	for _, f := range attribution.AllFeatures() {
		switch f {
		case attribution.AppThrottled, attribution.AppServerErrors, attribution.AppResets,
			attribution.KernRetransmits, attribution.KernConnectErrors, attribution.KernStealPct:
		default:
			out[f.String()] = attribution.Bins{Edges: []float64{10, 50, 200}}
		}
	}
	return out
}
