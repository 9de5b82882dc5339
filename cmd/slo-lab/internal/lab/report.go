package lab

import (
	"bytes"
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
	// Scenarios to run, each for its own Repetitions unless Reps > 0.
	Scenarios []*Scenario
	Reps      int
	// Folds of the cross-validation by repetition; 0 means min(5, reps).
	Folds int
	// Out is the directory report.md and report.json are written to ("" = none).
	Out string
	// ModelPath is where the fitted model (both arm) is written ("" = none).
	ModelPath string
	// Command is recorded in the report and the model's provenance.
	Command string
	// Subnet of the provider's network namespace.
	Subnet netip.Prefix
	// Privileged asks for the kernel-level faults (root).
	Privileged bool
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Run runs every scenario for its repetitions (interleaved: repetition r of
// every scenario before repetition r+1, so slow drifts of the machine hit
// all scenarios alike), evaluates the arms and writes the report and model.
func Run(ctx context.Context, cfg Config) (*Report, error) {
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
	reps := func(sc *Scenario) int {
		if cfg.Reps > 0 {
			return cfg.Reps
		}
		return sc.Repetitions
	}
	maxReps := 0
	for _, sc := range cfg.Scenarios {
		maxReps = max(maxReps, reps(sc))
	}
	results := make([][]RunResult, len(cfg.Scenarios))
	busyStarts, budget := 0, quietBudget
	for r := range maxReps {
		for i, sc := range cfg.Scenarios {
			if r >= reps(sc) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var res RunResult
			for attempt := 0; ; attempt++ {
				if _, quiet := waitQuiet(ctx, &budget); !quiet {
					busyStarts++
				}
				before, serr := sampleCPU()
				res, err = RunOnce(ctx, env, sc, r, nil)
				if err != nil {
					return nil, fmt.Errorf("lab: %s rep %d: %w", sc.Name, r, err)
				}
				if after, aerr := sampleCPU(); serr == nil && aerr == nil {
					res.ForeignCores = foreignCores(before, after)
				}
				res.Repeats = attempt
				if res.ForeignCores <= busyCores || attempt >= 1 || res.Skipped != "" || budget <= 0 {
					break
				}
				budget -= time.Since(res.Start) // a repeat spends the waiting budget
				logf("%-28s rep %2d: other processes used %.2f CPUs during the run: repeating it", sc.Name, r, res.ForeignCores)
			}
			delay := "-"
			if !res.FaultAt.IsZero() {
				if in, ok := res.FirstPage(res.FaultAt); ok {
					delay = in.At.Sub(res.FaultAt).Round(time.Millisecond).String()
				}
			}
			logf("%-28s rep %2d: requests %3d bad %3d samples %3d page-delay %s foreign-cpu %.2f %s%s", sc.Name, r, res.Requests, res.Bad, len(res.Samples), delay, res.ForeignCores, res.Skipped, strings.Join(res.Errors, "; "))
			results[i] = append(results[i], res.wallClock())
		}
	}
	folds := cfg.Folds
	if folds == 0 {
		folds = min(5, max(2, maxReps))
	}
	rec := &Record{Command: cfg.Command, Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(),
		Folds: folds, Scenarios: cfg.Scenarios, Results: results}
	rec.Notes = append(env.notes(), machineLoadNote(results, busyStarts))
	rep, model, err := Rebuild(rec)
	if err != nil {
		return nil, err
	}
	rec.Duration = time.Since(began).Round(time.Second).String()
	rep.Duration = rec.Duration
	if cfg.Out != "" {
		if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
			return rep, fmt.Errorf("lab: %w", err)
		}
		if err := WriteSamples(filepath.Join(cfg.Out, "samples.jsonl"), cfg.Scenarios, results); err != nil {
			logf("lab: write samples: %v", err)
		}
		if err := WriteRecord(filepath.Join(cfg.Out, recordFile), rec); err != nil {
			return rep, err
		}
		if err := rep.Write(cfg.Out); err != nil {
			return rep, err
		}
	}
	if err := writeModel(cfg.ModelPath, model); err != nil {
		return rep, err
	}
	return rep, nil
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
func machineLoadNote(results [][]RunResult, busyStarts int) string {
	var loads []float64
	repeated, busy := 0, 0
	for _, rs := range results {
		for _, r := range rs {
			if r.Skipped != "" {
				continue
			}
			loads = append(loads, r.ForeignCores)
			repeated += r.Repeats
			if r.ForeignCores > busyCores {
				busy++
			}
		}
	}
	if len(loads) == 0 {
		return "no runs"
	}
	slices.Sort(loads)
	return fmt.Sprintf("machine load (other processes on the %d CPUs, measured from /proc/stat minus the lab's own CPU time): median %.2f, max %.2f CPUs over the runs; %d runs started before the machine was quiet (< %.2g CPUs; waited at most %v per run, %v in all), %d runs were repeated because others used > %.2g CPUs during them, %d runs kept above that after a repeat",
		runtime.NumCPU(), loads[len(loads)/2], loads[len(loads)-1], busyStarts, quietCores, quietWait, quietBudget, repeated, busyCores, busy)
}

func (e *Env) notes() []string {
	var out []string
	if e.NS == nil {
		out = append(out, "no network namespace: the provider listened on loopback and packet_loss scenarios were skipped")
	}
	if e.CPUCgroup == "" {
		out = append(out, "no cpu cgroup of the lab's own: cpu_throttle scenarios were skipped")
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

// Write writes report.json and report.md into dir.
func (rep *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: encode report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), rep.Markdown(), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// Markdown renders the report.
func (rep *Report) Markdown() []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Incident lab report\n\n")
	p("Produced by `%s` on %s (%s), in %s.\n\n", rep.Command, rep.Date, rep.Machine, rep.Duration)
	p("Each run starts a fresh tracker (TTFT objective, target 0.99) in front of the reference workload (retrieval hop + streamed chat completion from a fake provider, over real sockets), drives open-loop load, injects the scenario's faults with `faults/`, and labels every bad request with the domain of the fault active when it started (`unknown` outside faults). Evidence is expressed as excess over the run's healthy baselines. The model is cross-validated by repetition (%d folds; a run is never in its own training set); multi-fault runs are never trained on and are scored with the model of all single-fault and fault-free runs. A run's incident verdict is attribution.AttributeIncident over its in-fault bad requests, as the tracker ranks incidents: the top domain by the mean single-cause posterior, runner-ups by explaining away (the probability each is at fault too, given the top).\n\n", rep.Folds)
	p("## Targets\n\n| target | value | goal | met |\n|---|---:|---|---|\n")
	for _, t := range rep.Targets {
		m := "no"
		if t.Met {
			m = "**yes**"
		}
		p("| %s | %.3f | %s | %s |\n", t.Name, t.Value, t.Goal, m)
	}
	p("\n## Arms\n\n| arm | macro-F1 [95%% CI] | abstain | false attribution (fault-free bad requests) | provider-vs-cluster confusion | run-level top-1 accuracy | two-fault top-2 | samples | runs |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, a := range Arms {
		x := rep.Arms[a.Name]
		two := "n/a"
		if x.TwoFaultTop2Rate >= 0 {
			two = fmt.Sprintf("%.2f", x.TwoFaultTop2Rate)
		}
		p("| %s | %.3f [%.3f, %.3f] | %.3f | %.3f | %.3f | %.2f | %s | %d | %d |\n", a.Name, x.MacroF1, x.MacroF1CI[0], x.MacroF1CI[1], x.AbstainRate, x.FalseAttributionRate, x.ProviderClusterConf, x.RunTopAccuracy, two, x.Samples, x.Runs)
	}
	p("\nmacro-F1 both − app: **%+.3f**, 95%% CI [%+.3f, %+.3f] (cluster bootstrap over runs, 2000 resamples).\n\n", rep.AppVsBoth.Diff, rep.AppVsBoth.CI[0], rep.AppVsBoth.CI[1])
	both := rep.Arms["both"]
	p("Incidents (the same for every arm: the tracker pages on burn rate, attribution only names the domain): false-positive pages on %d of %d fault-free runs (%.3f; pages in the first %v of a run, while the fresh tracker's windows hold a handful of requests, are counted apart per scenario as cold-start pages); median detection delay (fault start → first page) %.2f s, 95%% CI [%.2f, %.2f] (order statistics, benchstat.Summarize; -1 = not enough runs).\n\n",
		rep.FalsePositiveRuns, rep.FaultFreeRuns, both.FalsePositiveRate, coldStart, both.DetectionDelayP50, both.DetectionDelayCI[0], both.DetectionDelayCI[1])
	for _, a := range Arms {
		x := rep.Arms[a.Name]
		p("### %s: per class\n\n| domain | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|\n", a.Name)
		for _, d := range attribution.Domains() {
			c, ok := x.PerClass[d.String()]
			if !ok {
				continue
			}
			p("| %s | %.3f | %.3f | %.3f | %d |\n", d, c.Precision, c.Recall, c.F1, c.Support)
		}
		p("\nConfusion (rows: truth, columns: predicted)\n\n")
		var used []string
		for _, d := range attribution.Domains() {
			n := d.String()
			in := x.Confusion[n] != nil
			for _, row := range x.Confusion {
				in = in || row[n] > 0
			}
			if in {
				used = append(used, n)
			}
		}
		p("| truth \\ predicted |")
		for _, u := range used {
			p(" %s |", u)
		}
		p("\n|---|%s\n", strings.Repeat("---:|", len(used)))
		for _, t := range used {
			p("| %s |", t)
			for _, u := range used {
				p(" %d |", x.Confusion[t][u])
			}
			p("\n")
		}
		p("\n")
	}
	p("## Scenarios\n\n| scenario | domains | runs | bad in fault / outside | runs paged | delay p50 (s) | cold-start pages | run top (both) | assertions (passed/evaluated) |\n|---|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, s := range rep.Scenarios {
		if s.Skipped != "" && s.Runs == 0 {
			p("| %s | %s | 0 | – | – | – | – | skipped: %s | |\n", s.Name, strings.Join(s.Domains, "+"), s.Skipped)
			continue
		}
		var tops []string
		for d, n := range s.RunTop["both"] {
			tops = append(tops, fmt.Sprintf("%s×%d", d, n))
		}
		slices.Sort(tops)
		var as []string
		for k, v := range s.Assertions {
			as = append(as, fmt.Sprintf("%s %d/%d", k, v[0], v[1]))
		}
		slices.Sort(as)
		p("| %s | %s | %d | %d / %d | %d | %.2f | %d | %s | %s |\n", s.Name, strings.Join(s.Domains, "+"), s.Runs, s.BadInFault, s.BadOutside, s.Detected, s.DelayP50, s.ColdPages, strings.Join(tops, " "), strings.Join(as, "; "))
	}
	var errs []string
	for _, s := range rep.Scenarios {
		for _, e := range s.Errors {
			errs = append(errs, s.Name+": "+e)
		}
	}
	if len(errs) > 0 {
		p("\nInjection errors:\n\n")
		for _, e := range errs {
			p("- %s\n", e)
		}
	}
	if len(rep.Notes) > 0 {
		p("\n## Notes\n\n")
		for _, n := range rep.Notes {
			p("- %s\n", n)
		}
	}
	return b.Bytes()
}

// WriteSamples writes every sample of every run as JSON lines: scenario,
// repetition, truth, whether it was in a fault window, and its features
// (excess over the run's baselines).
func WriteSamples(path string, scs []*Scenario, results [][]RunResult) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i, sc := range scs {
		for _, res := range results[i] {
			for _, s := range res.Samples {
				f := map[string]float64{}
				for _, ft := range attribution.AllFeatures() {
					if v, ok := s.Obs.Get(ft); ok {
						f[ft.String()] = v
					}
				}
				_ = enc.Encode(struct {
					Scenario string             `json:"scenario"`
					Rep      int                `json:"rep"`
					Truth    string             `json:"truth"`
					InFault  bool               `json:"in_fault"`
					E2EMs    float64            `json:"e2e_ms"`
					Failed   bool               `json:"failed"`
					Features map[string]float64 `json:"features"`
				}{sc.Name, res.Rep, s.Truth.String(), s.InFault, s.Obs.E2EMs, s.Obs.Failed, f})
			}
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
