// Command slo-lab is the incident lab: it runs the reference workload (an
// instrumented streaming service in a process and cgroups of its own; a
// retrieval backend, a fake model provider, a DNS server and the load
// generator in the lab's process; over real sockets), injects each
// declarative scenario of faults for N repetitions, and scores fault-domain
// attribution with application signals only, kernel signals only, and both.
//
//	go run ./cmd/slo-lab -out docs/lab -evaluate attribution/model.json
//
// -evaluate MODEL[,MODEL…] scores given models as is on the runs, each on
// its own (no refitting);
// only -fit OUT writes a model (fitted on every training run), so the
// shipped attribution/model.json changes only when named there. -seed N
// shifts every scenario's seed: the shipped model is fitted on a lab run
// with -seed 1 and scored on one with the scenarios' own seeds. Every run
// writes what it collected to runs.jsonl.gz beside the report; -rebuild DIR
// computes the report again from DIR/runs.jsonl.gz without running anything
// (with -evaluate, scoring those models on the recorded runs instead, and
// recording that command as what scored them):
//
//	go run ./cmd/slo-lab -rebuild docs/lab -evaluate attribution/model.json,docs/lab/fit/model.json
//
// The scenarios' runs start a fresh tracker each (cold start: they measure
// attribution). -detect runs detection from a warm start instead: a
// tracker restored from three days of steady-state history, TTFT
// objectives at 99 % and 99.9 %, the fault held until both can have paged;
// detection.md compares each page with the rules' arithmetic
// (docs/slo-state.md):
//
//	go run ./cmd/slo-lab -detect single -detect-reps 2 -detect-max 90s -out docs/lab/warm
//
// Kernel-level faults (packet loss in a network namespace, CFS throttling,
// memory pressure) need root; without it their scenarios are skipped and the
// report says so. As root, the lab names the cgroups and the network
// namespace it creates llmslo-lab-<pid> (nested in its own cgroups) and
// removes them on SIGINT or SIGTERM; what a lab that crashed left behind is
// removed by the next one when it starts. The implementation is in
// internal/lab.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/llmslo/slo/cmd/slo-lab/internal/lab"
	"github.com/llmslo/slo/faults"
)

//go:embed scenario.schema.json
var schemaDoc []byte

//go:embed scenarios/*.yaml
var builtin embed.FS

func main() {
	if lab.IsService() { // the lab started this process as its service
		os.Exit(lab.ServeMain())
	}
	log.SetFlags(log.Ltime)
	if err := run(os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		log.Fatal(err)
	}
}

func run(args []string) error {
	fset := flag.NewFlagSet("slo-lab", flag.ContinueOnError)
	scenarios := fset.String("scenarios", "", "comma-separated scenario files or globs (default: the built-in scenarios/*.yaml)")
	only := fset.String("only", "", "comma-separated scenario names or families to keep")
	reps := fset.Int("reps", 0, "repetitions per scenario (0: each scenario's own)")
	folds := fset.Int("folds", 0, "cross-validation folds by repetition (0: min(5, reps))")
	out := fset.String("out", "docs/lab", "directory for report.md and report.json (empty: none)")
	fitOut := fset.String("fit", "", "write the model fitted on every training run (both arm) here; nothing else writes a model")
	evaluate := fset.String("evaluate", "", "comma-separated models to score as is on the runs, each on its own, without refitting (e.g. attribution/model.json)")
	subnet := fset.Int("subnet", 240, "n of the provider namespace's subnet 10.213.n.0/30")
	validate := fset.Bool("validate", false, "only parse and validate the scenarios")
	quiet := fset.Duration("quiet-wait", 12*time.Minute, "the longest the lab waits, in all, for other processes to quiet down before runs")
	seed := fset.Uint64("seed", 0, "added to every scenario's seed: another value draws other jitter, losses and stream breaks (runs to score a model fitted on another lab's)")
	rebuild := fset.String("rebuild", "", "run nothing: rebuild report.md and report.json in this directory from the runs.jsonl.gz a run wrote there (and the model, with -fit)")
	detect := fset.String("detect", "", `run detection from a warm start on these comma-separated scenarios ("single": every single-fault scenario and fault_free) instead of the attribution lab`)
	detectReps := fset.Int("detect-reps", 2, "repetitions of each -detect scenario")
	detectMax := fset.Duration("detect-max", 12*time.Minute, "the longest a -detect fault lasts (it ends 2 s after every objective that can page within it paged)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *reps == 1 || *reps < 0 {
		return fmt.Errorf("-reps %d: the cross-validation needs at least 2 repetitions", *reps)
	}
	evalModels, err := readModels(*evaluate, *fitOut)
	if err != nil {
		return err
	}
	if *rebuild != "" && lab.HasDetection(*rebuild) {
		_, err := lab.RebuildDetection(*rebuild)
		return err
	}
	if *rebuild != "" {
		_, err := lab.RebuildDir(*rebuild, *fitOut, evalModels, "go run ./cmd/slo-lab "+strings.Join(args, " "))
		return err
	}
	scs, err := load(*scenarios)
	if err != nil {
		return err
	}
	if *only != "" {
		keep := strings.Split(*only, ",")
		scs = slices.DeleteFunc(scs, func(s *lab.Scenario) bool { return !slices.Contains(keep, s.Name) && !slices.Contains(keep, s.Family) })
	}
	if len(scs) == 0 {
		return fmt.Errorf("no scenarios")
	}
	reseed(scs, *seed)
	if *validate {
		printValid(scs)
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *detect != "" {
		return runDetect(ctx, lab.DetectConfig{Scenarios: pickDetect(scs, *detect), Reps: *detectReps, MaxFault: *detectMax,
			Out: *out, QuietWait: *quiet, Command: "go run ./cmd/slo-lab " + strings.Join(args, " "),
			Subnet: faults.Subnet(uint8(*subnet)), Privileged: os.Geteuid() == 0, Logf: log.Printf})
	}
	rep, err := lab.Run(ctx, lab.Config{
		Scenarios:  scs,
		Reps:       *reps,
		Folds:      *folds,
		Out:        *out,
		QuietWait:  *quiet,
		FitPath:    *fitOut,
		Evaluate:   evalModels,
		Command:    "go run ./cmd/slo-lab " + strings.Join(args, " "),
		Subnet:     faults.Subnet(uint8(*subnet)),
		Privileged: os.Geteuid() == 0,
		Logf:       log.Printf,
	})
	if err != nil {
		return err
	}
	for _, t := range rep.Targets {
		log.Printf("target %-55s %.3f (goal %s) met=%v", t.Name, t.Value, t.Goal, t.Met)
	}
	return nil
}

// printValid prints one line per scenario that parsed and validated.
func printValid(scs []*lab.Scenario) {
	for _, s := range scs {
		fmt.Printf("%s: ok (%d faults, %d repetitions, %d assertions)\n", s.Name, len(s.Faults), s.Repetitions, len(s.Assertions))
	}
}

// pickDetect returns the scenarios named in spec, or with "single" every
// single-fault scenario and fault_free.
func pickDetect(scs []*lab.Scenario, spec string) []*lab.Scenario {
	var out []*lab.Scenario
	names := strings.Split(spec, ",")
	for _, s := range scs {
		if (spec == "single" && (len(s.Faults) == 1 || s.Name == "fault_free")) || slices.Contains(names, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// runDetect runs the detection runs of cfg and logs its targets.
func runDetect(ctx context.Context, cfg lab.DetectConfig) error {
	if len(cfg.Scenarios) == 0 {
		return fmt.Errorf("-detect: no scenarios")
	}
	d, err := lab.Detect(ctx, cfg)
	if err != nil {
		return err
	}
	for _, t := range d.Targets {
		log.Printf("target %-55s %.3f (goal %s) met=%v", t.Name, t.Value, t.Goal, t.Met)
	}
	return nil
}

// readModels reads the comma-separated models to evaluate (nil when spec
// is empty), each named by its path. It refuses to evaluate the file -fit
// would overwrite: the report would score a model that the same command
// replaces.
func readModels(spec, fitOut string) ([]lab.EvaluatedModel, error) {
	if spec == "" {
		return nil, nil
	}
	var out []lab.EvaluatedModel
	for _, path := range strings.Split(spec, ",") {
		if fitOut != "" && sameFile(path, fitOut) {
			return nil, fmt.Errorf("-evaluate %s and -fit %s name the same file", path, fitOut)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, lab.EvaluatedModel{Name: path, Model: b})
	}
	return out, nil
}

func sameFile(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// reseed adds by to every scenario's seed, from which each repetition's
// draws (jitter, losses, stream breaks) derive: a lab with another -seed
// runs other draws of the same scenarios, on which a model fitted on the
// first lab's runs can be scored.
func reseed(scs []*lab.Scenario, by uint64) {
	for _, s := range scs {
		s.Seed += by
	}
}

// load parses and validates the scenarios named by spec, or the built-in ones.
func load(spec string) ([]*lab.Scenario, error) {
	schema, err := lab.Schema(schemaDoc)
	if err != nil {
		return nil, err
	}
	type src struct {
		name string
		b    []byte
	}
	var srcs []src
	if spec == "" {
		names, _ := fs.Glob(builtin, "scenarios/*.yaml")
		for _, n := range names {
			b, err := builtin.ReadFile(n)
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, src{n, b})
		}
	} else {
		for _, pat := range strings.Split(spec, ",") {
			names, err := filepath.Glob(pat)
			if err != nil {
				return nil, err
			}
			if len(names) == 0 {
				return nil, fmt.Errorf("no scenario matches %q", pat)
			}
			for _, n := range names {
				b, err := os.ReadFile(n)
				if err != nil {
					return nil, err
				}
				srcs = append(srcs, src{n, b})
			}
		}
	}
	var out []*lab.Scenario
	for _, s := range srcs {
		sc, err := lab.ParseScenario(s.b, schema)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		scs, err := sc.Expand()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		out = append(out, scs...)
	}
	return out, lab.CheckNames(out)
}
