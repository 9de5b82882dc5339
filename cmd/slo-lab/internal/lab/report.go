package lab

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/llmslo/slo/attribution"
	"golang.org/x/sys/unix"
)

// Config configures [Run].
type Config struct {
	// Scenarios to run, each for its own Repetitions unless Reps > 0; every
	// scenario needs at least 2 (the cross-validation holds repetitions out).
	Scenarios []*Scenario
	Reps      int
	// Folds of the cross-validation by repetition; 0 means min(5, reps).
	Folds int
	// Out is the directory report.md, report.json, samples.jsonl and
	// runs.jsonl (the record [RebuildDir] reads) are written to ("" = none).
	Out string
	// FitPath is where the model fitted on every training run (both arm) is
	// written ("" = none). Nothing else writes a model.
	FitPath string
	// Evaluate are models scored as is on every run, without refitting;
	// the record keeps them, so a rebuild scores the same models.
	Evaluate []EvaluatedModel
	// QuietWait is the longest the lab waits, in all, for the machine to be
	// quiet before runs (0: quietBudget).
	QuietWait time.Duration
	// Command is recorded in the report and the model's provenance.
	Command string
	// Subnet of the provider's network namespace.
	Subnet netip.Prefix
	// Privileged asks for the kernel-level faults (root).
	Privileged bool
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// minReps is the fewest repetitions a scenario may have: the
// cross-validation by repetition scores each run with a model fitted on the
// others.
const minReps = 2

// check validates cfg before anything runs.
func (cfg *Config) check() error {
	if cfg.Reps == 1 || cfg.Reps < 0 {
		return fmt.Errorf("lab: -reps %d: the cross-validation needs at least %d repetitions", cfg.Reps, minReps)
	}
	for _, sc := range cfg.Scenarios {
		if cfg.Reps == 0 && sc.Repetitions < minReps {
			return fmt.Errorf("lab: scenario %s has %d repetition(s); the cross-validation needs at least %d", sc.Name, sc.Repetitions, minReps)
		}
	}
	for _, e := range cfg.Evaluate {
		if _, err := attribution.UnmarshalModel(e.Model); err != nil {
			return fmt.Errorf("lab: model to evaluate %s: %w", e.Name, err)
		}
	}
	return nil
}

// Run runs every scenario for its repetitions (interleaved: repetition r of
// every scenario before repetition r+1, so slow drifts of the machine hit
// all scenarios alike), evaluates the arms and writes the report and model.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	began := time.Now()
	env, err := NewEnv(EnvConfig{Subnet: cfg.Subnet, Privileged: cfg.Privileged, Logf: logf})
	if err != nil {
		return nil, err
	}
	defer env.Close()
	c := &collector{cfg: cfg, env: env, logf: logf, budget: cmp.Or(cfg.QuietWait, quietBudget)}
	if err := c.calibrate(ctx); err != nil {
		return nil, err
	}
	results, err := c.runAll(ctx)
	if err != nil {
		return nil, err
	}
	folds := cfg.Folds
	if folds == 0 {
		folds = min(5, max(2, c.maxReps()))
	}
	rec := &Record{Command: cfg.Command, Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(),
		Folds: folds, Scenarios: cfg.Scenarios, Results: results, Evaluated: cfg.Evaluate, Calibrations: c.calList}
	rec.Notes = append(env.notes(), machineLoadNote(results, c.busyStarts, cmp.Or(cfg.QuietWait, quietBudget)))
	rep, model, err := Rebuild(rec)
	if err != nil {
		return nil, err
	}
	rec.Duration = time.Since(began).Round(time.Second).String()
	rep.Duration = rec.Duration
	if cfg.Out != "" {
		if err := writeOut(cfg.Out, rec, rep); err != nil {
			return rep, err
		}
	}
	if err := writeModel(cfg.FitPath, model); err != nil {
		return rep, err
	}
	return rep, nil
}

// collector runs the repetitions of a lab's scenarios.
type collector struct {
	cfg  Config
	env  *Env
	logf func(format string, args ...any)
	// busyStarts counts the runs that started before the machine was
	// quiet; budget is what is left of the time the lab may wait for it.
	busyStarts int
	budget     time.Duration
	// cals are the calibrations by workload (workloadKey), calList the
	// same in the order they ran.
	cals    map[string]Calibration
	calList []Calibration
}

// calibrate measures, once per distinct healthy workload of the scenarios,
// the workload on this host (see [Calibration]).
func (c *collector) calibrate(ctx context.Context) error {
	c.cals = map[string]Calibration{}
	for _, sc := range c.cfg.Scenarios {
		key := workloadKey(sc.Workload)
		if _, ok := c.cals[key]; ok {
			continue
		}
		waitQuiet(ctx, &c.budget)
		cal, err := calibrate(ctx, c.env, sc.Workload, sc.Load.RPS)
		if err != nil {
			return err
		}
		c.logf("calibration (%s): %d requests, TTFT p50 %.0f p99 %.0f ms, TPOT p50 %.1f p99 %.1f ms: thresholds TTFT %v, TPOT %v",
			sc.Name, cal.Requests, cal.TTFT.P50, cal.TTFT.P99, cal.TPOT.P50, cal.TPOT.P99, cal.Thresholds.TTFT.D(), cal.Thresholds.TPOT.D())
		c.cals[key] = cal
		c.calList = append(c.calList, cal)
	}
	return nil
}

// reps is how many repetitions of sc the lab runs.
func (c *collector) reps(sc *Scenario) int {
	if c.cfg.Reps > 0 {
		return c.cfg.Reps
	}
	return sc.Repetitions
}

func (c *collector) maxReps() int {
	n := 0
	for _, sc := range c.cfg.Scenarios {
		n = max(n, c.reps(sc))
	}
	return n
}

// runAll runs repetition r of every scenario before repetition r+1 and
// returns the results per scenario.
func (c *collector) runAll(ctx context.Context) ([][]RunResult, error) {
	results := make([][]RunResult, len(c.cfg.Scenarios))
	for r := range c.maxReps() {
		for i, sc := range c.cfg.Scenarios {
			if r >= c.reps(sc) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			res, err := c.runQuiet(ctx, sc, r)
			if err != nil {
				return nil, err
			}
			c.logRun(sc, r, &res)
			results[i] = append(results[i], res.wallClock())
		}
	}
	return results, nil
}

// runQuiet runs repetition r of sc once the machine is quiet, and once
// more when the run was rejected (its healthy requests missed too often,
// or it failed: its service ended before the run did), or when other
// processes used more than busyCores during it while the waiting budget
// lasts.
func (c *collector) runQuiet(ctx context.Context, sc *Scenario, r int) (RunResult, error) {
	th := c.cals[workloadKey(sc.Workload)].thresholds(sc.Workload)
	for attempt := 0; ; attempt++ {
		if _, quiet := waitQuiet(ctx, &c.budget); !quiet {
			c.busyStarts++
		}
		before, serr := sampleCPU()
		started := time.Now()
		res, err := RunOnce(ctx, c.env, sc, r, th)
		if err != nil {
			if ctx.Err() != nil {
				return res, fmt.Errorf("lab: %s rep %d: %w", sc.Name, r, err)
			}
			// The service ended before the run did (e.g. killed by the
			// kernel): the run is rejected, not scored, and repeated once.
			res = RunResult{Scenario: sc.Name, Rep: r, Start: started, Rejected: "the run failed: " + err.Error()}
		}
		if after, aerr := sampleCPU(); serr == nil && aerr == nil {
			res.ForeignCores = foreignCores(before, after)
		}
		res.Repeats = attempt
		busy := res.Busy() && c.budget > 0
		if (!busy && res.Rejected == "") || attempt >= 1 || res.Skipped != "" {
			return res, nil
		}
		c.budget = max(0, c.budget-time.Since(res.Start)) // a repeat spends the waiting budget
		c.logf("%-28s rep %2d: other processes used %.2f CPUs during the run; %s: repeating it", sc.Name, r, res.ForeignCores, res.Rejected)
	}
}

// logRun logs the outcome of one run.
func (c *collector) logRun(sc *Scenario, r int, res *RunResult) {
	delay := "-"
	if !res.FaultAt.IsZero() {
		if in, ok := res.FirstPage(res.FaultAt); ok {
			delay = in.At.Sub(res.FaultAt).Round(time.Millisecond).String()
		}
	}
	c.logf("%-28s rep %2d: requests %3d bad %3d (healthy %d/%d) samples %3d page-delay %s foreign-cpu %.2f %s%s%s", sc.Name, r, res.Requests, res.Bad, res.HealthyBad, res.Healthy, len(res.Samples), delay, res.ForeignCores, res.Skipped, res.Rejected, strings.Join(res.Errors, "; "))
}

// writeOut writes the record and the report into dir.
func writeOut(dir string, rec *Record, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := WriteRecord(filepath.Join(dir, recordFile), rec); err != nil {
		return err
	}
	return rep.Write(dir)
}

// modelNote is the provenance note of the fitted model.
const modelNote = "incident lab (cmd/slo-lab): naive Bayes over the bad requests of single-fault and fault-free runs, evidence as excess over each run's healthy baselines (attribution.NewObservation, as the tracker builds it); prior uniform over the fault domains, unknown at its share of the samples"

// writeModel writes model as JSON to path; an empty path or a nil model
// writes nothing.
func writeModel(path string, model *attribution.Model) error {
	if path == "" || model == nil {
		return nil
	}
	b, err := json.MarshalIndent(model, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: encode model: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: write model: %w", err)
	}
	return nil
}

// machineLoadNote says how much other processes used the CPUs during the runs.
func machineLoadNote(results [][]RunResult, busyStarts int, budget time.Duration) string {
	var loads []float64
	repeated, busy := 0, 0
	for _, rs := range results {
		for _, r := range rs {
			if r.Skipped != "" {
				continue
			}
			loads = append(loads, r.ForeignCores)
			repeated += r.Repeats
			if r.Busy() {
				busy++
			}
		}
	}
	if len(loads) == 0 {
		return "no runs"
	}
	slices.Sort(loads)
	return fmt.Sprintf("machine load (other processes on the %d CPUs, measured from /proc/stat minus the lab's own CPU time): median %.2f, max %.2f CPUs over the runs; %d runs started before the machine was quiet (< %.2g CPUs; waited at most %v per run, %v in all), %d runs were repeated because others used > %.2g CPUs during them or they were rejected, %d runs kept above that after a repeat",
		runtime.NumCPU(), loads[len(loads)/2], loads[len(loads)-1], busyStarts, quietCores, quietWait, budget, repeated, busyCores, busy)
}

func (e *Env) notes() []string {
	var out []string
	if e.NS == nil {
		out = append(out, "no network namespace: the provider listened on loopback and packet_loss and partition scenarios were skipped")
	}
	if e.cgroups == nil {
		out = append(out, "no cgroups of the service's own: cpu_throttle and memory_pressure scenarios were skipped")
	} else {
		var ctls []string
		for _, c := range svcControllers {
			if d, ok := e.cgroups.dirs[c]; ok {
				ctls = append(ctls, c+" "+d)
			}
		}
		out = append(out, fmt.Sprintf("the service ran as a process of its own in cgroups of its own (%s), on CPUs %v; the load generator, the fake provider, the retrieval backend and the DNS server ran in the lab's process", strings.Join(ctls, ", "), e.cgroups.cpus))
	}
	return out
}

func machine() string {
	var u unix.Utsname
	k := "linux"
	if unix.Uname(&u) == nil {
		k = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	return fmt.Sprintf("%s, %d CPUs, %s", k, runtime.NumCPU(), runtime.Version())
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
	// LOMO (leave one magnitude out, the headline) and LOFO (leave one
	// fault domain out) are the out-of-distribution protocols, both arm.
	LOMO LOMOJSON `json:"leave_one_magnitude_out"`
	LOFO LOFOJSON `json:"leave_one_domain_out"`
	// Models are the evaluations of the given models (-evaluate), and
	// Rescored the -rebuild command that scored them on the record (empty:
	// the run itself did).
	Models   []ModelJSON `json:"evaluated_models,omitempty"`
	Rescored string      `json:"rescored,omitempty"`
	// Calibrations and CalibrationRule say how the objectives' thresholds
	// were set on this host; Health how healthy the healthy load was.
	Calibrations      []Calibration  `json:"calibrations,omitempty"`
	CalibrationRule   string         `json:"calibration_rule"`
	Health            HealthJSON     `json:"health"`
	FalsePositiveRuns int            `json:"false_positive_runs"`
	FaultFreeRuns     int            `json:"fault_free_runs"`
	Scenarios         []ScenarioJSON `json:"scenarios"`
	Targets           []Target       `json:"targets"`
	Warnings          []string       `json:"warnings,omitempty"`
	Notes             []string       `json:"notes"`
}

// HealthJSON is how the healthy load fared: the bad requests of the
// fault-free runs, and the runs rejected because their healthy requests
// missed too often.
type HealthJSON struct {
	// FaultFreeRuns, FaultFreeRequests and FaultFreeBad count the judged
	// requests of the runs without faults and with calibrated objectives
	// (rejected runs included) and those that missed an objective;
	// FaultFreeBadShare is their ratio.
	FaultFreeRuns     int     `json:"fault_free_runs"`
	FaultFreeRequests int     `json:"fault_free_requests"`
	FaultFreeBad      int     `json:"fault_free_bad"`
	FaultFreeBadShare float64 `json:"fault_free_bad_share"`
	// HealthyBadShare is the same over the healthy requests of every run.
	HealthyBadShare float64 `json:"healthy_bad_share"`
	// Rejected lists the rejected runs ("scenario rep N: reason").
	Rejected []string `json:"rejected,omitempty"`
	Runs     int      `json:"runs"`
}

// health fills rep.Health from every run that ran.
func (rep *Report) health(results [][]RunResult, scs []*Scenario) {
	h := &rep.Health
	healthy, bad := 0, 0
	for i, sc := range scs {
		for _, r := range results[i] {
			if r.Skipped != "" {
				continue
			}
			h.Runs++
			healthy += r.Healthy
			bad += r.HealthyBad
			if len(sc.Faults) == 0 && !sc.Workload.TightTTFT {
				h.FaultFreeRuns++
				h.FaultFreeRequests += r.Healthy
				h.FaultFreeBad += r.HealthyBad
			}
			if r.Rejected != "" {
				h.Rejected = append(h.Rejected, fmt.Sprintf("%s rep %d: %s", sc.Name, r.Rep, r.Rejected))
			}
		}
	}
	h.FaultFreeBadShare = ratio(h.FaultFreeBad, h.FaultFreeRequests, 0)
	h.HealthyBadShare = ratio(bad, healthy, 0)
}

// ModelJSON is the evaluation of a given model, as is, on every run: the
// path it was given as, how it was fitted, its scores.
type ModelJSON struct {
	Name       string                 `json:"name,omitempty"`
	Provenance attribution.Provenance `json:"provenance"`
	ArmJSON
}

// Target is one acceptance target and whether it was met.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Goal  string  `json:"goal"`
	Met   bool    `json:"met"`
}

func (rep *Report) targets() {
	add := func(name string, v float64, goal string, met bool) {
		rep.Targets = append(rep.Targets, Target{Name: name, Value: v, Goal: goal, Met: met})
	}
	lm := rep.LOMO
	add("leave-one-magnitude-out macro-F1 with unknown", lm.MacroF1Unknown, "≥ 0.85", lm.MacroF1Unknown >= 0.85)
	add("leave-one-magnitude-out macro-F1 with unknown, 95 % CI lower bound", lm.MacroF1UnknownCI[0], "≥ 0.85", lm.MacroF1UnknownCI[0] >= 0.85)
	add("leave-one-magnitude-out expected calibration error", lm.ECE, "≤ 0.05", lm.Samples > 0 && lm.ECE <= 0.05)
	add(fmt.Sprintf("leave-one-magnitude-out fault-free bad requests → unknown (%d samples)", lm.FaultFreeSamples), lm.FaultFreeUnknown, "≥ 0.80", lm.FaultFreeSamples > 0 && lm.FaultFreeUnknown >= 0.80)
	mem := lm.PerClass[attribution.MemoryPressure.String()]
	add(fmt.Sprintf("leave-one-magnitude-out memory_pressure F1 (%d samples, ≥ %d needed)", mem.Support, minSupport), mem.F1, "≥ 0.80", mem.F1 >= 0.80 && mem.Support >= minSupport)
	add(fmt.Sprintf("leave-one-domain-out: unseen domain's bad requests → unknown (%d samples)", rep.LOFO.Samples), rep.LOFO.Unknown, "≥ 0.70", rep.LOFO.Samples > 0 && rep.LOFO.Unknown >= 0.70)
	for _, m := range rep.Models {
		name := m.label()
		add(name+": macro-F1 with unknown", m.MacroF1Unknown, "≥ 0.85", m.MacroF1Unknown >= 0.85)
		add(name+": macro-F1 with unknown, 95 % CI lower bound", m.MacroF1UnknownCI[0], "≥ 0.85", m.MacroF1UnknownCI[0] >= 0.85)
		add(name+": expected calibration error", m.ECE, "≤ 0.05", m.ECE <= 0.05)
		add(fmt.Sprintf("%s: fault-free bad requests → unknown (%d samples)", name, m.FaultFreeSamples), m.FaultFreeUnknown, "≥ 0.80", m.FaultFreeSamples > 0 && m.FaultFreeUnknown >= 0.80)
		mem := m.PerClass[attribution.MemoryPressure.String()]
		add(fmt.Sprintf("%s: memory_pressure F1 (%d samples, ≥ %d needed)", name, mem.Support, minSupport), mem.F1, "≥ 0.80", mem.F1 >= 0.80 && mem.Support >= minSupport)
	}
	h := rep.Health
	add(fmt.Sprintf("bad requests in fault-free runs (%d of %d)", h.FaultFreeBad, h.FaultFreeRequests), h.FaultFreeBadShare, "≤ 0.02", h.FaultFreeRequests > 0 && h.FaultFreeBadShare <= 0.02)
	both := rep.Arms["both"]
	fp := both.FalsePositiveRate
	add("false-positive incidents on fault-free runs", fp, "≤ 0.05", rep.FaultFreeRuns > 0 && fp <= 0.05)
	add("median detection delay (s)", both.DetectionDelayP50, "≤ 2", both.DetectionDelayP50 > 0 && both.DetectionDelayP50 <= 2)
	if lm.TwoFaultTop2Rate >= 0 {
		add("two-fault runs with both domains in the top 2", lm.TwoFaultTop2Rate, "≥ 0.80", lm.TwoFaultTop2Rate >= 0.80)
	}
}

// warnings lists the classes whose scores rest on fewer than minSupport
// samples (the headline protocol, whose samples the others share, and the
// evaluated model).
func (rep *Report) warnings() {
	check := func(name string, a ArmJSON) {
		for _, d := range attribution.Domains() {
			if c, ok := a.PerClass[d.String()]; ok && c.Support < minSupport {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: %s has %d samples (< %d): its scores are not reliable", name, d, c.Support, minSupport))
			}
		}
	}
	check("leave-one-magnitude-out", rep.LOMO.ArmJSON)
	for _, m := range rep.Models {
		check(m.label(), m.ArmJSON)
	}
}

// label names the evaluated model in targets and headings: "evaluated
// model NAME", or "evaluated model" when it has no name.
func (m *ModelJSON) label() string {
	if m.Name == "" {
		return "evaluated model"
	}
	return "evaluated model " + m.Name
}
