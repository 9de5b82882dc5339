package lab

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DetectionJSON is detection.json: the warm-start detection report.
type DetectionJSON struct {
	Command  string `json:"command"`
	Date     string `json:"date"`
	Machine  string `json:"machine"`
	Duration string `json:"duration"`
	// MaxFault is the longest a fault lasted.
	MaxFault     string               `json:"max_fault"`
	Calibrations []Calibration        `json:"calibrations,omitempty"`
	Scenarios    []DetectScenarioJSON `json:"scenarios"`
	// ExcessP50 and ExcessP95 are the page delay minus the rule's
	// arithmetic, s, over the runs (of every scenario and objective) in
	// which the arithmetic held and a page came; -1 without any.
	ExcessP50 float64 `json:"excess_p50_s"`
	ExcessP95 float64 `json:"excess_p95_s"`
	// Held counts those runs and objectives in which the arithmetic held,
	// Paged those of them that paged, Missed those that did not, Early the
	// runs and objectives that paged after the fault started although the
	// arithmetic never held.
	Held   int `json:"held"`
	Paged  int `json:"paged"`
	Missed int `json:"missed"`
	Early  int `json:"early"`
	// FaultFreeRuns and FaultFreePages: the fault-free runs and their pages.
	FaultFreeRuns  int      `json:"fault_free_runs"`
	FaultFreePages int      `json:"fault_free_pages"`
	Skipped        []string `json:"skipped,omitempty"`
	Targets        []Target `json:"targets"`
	Notes          []string `json:"notes"`
}

// DetectScenarioJSON is one scenario's detection at one objective.
type DetectScenarioJSON struct {
	Name   string  `json:"scenario"`
	Target float64 `json:"target"`
	Runs   int     `json:"runs"`
	// BadShare is the bad share of the requests judged during the faults.
	BadShare float64 `json:"bad_share"`
	// ClosedForm is 1h × (1 − target) × 14.4 / BadShare, s: the fast page
	// rule's arithmetic for a constant bad share over steady traffic; -1
	// when nothing was bad.
	ClosedForm float64 `json:"closed_form_s"`
	Held       int     `json:"held"`
	Paged      int     `json:"paged"`
	// Arithmetic, page delay and their difference, fault start → …, s,
	// p50 and p95 over the runs in which the arithmetic held and a page
	// came; -1 without any.
	ArithP50  float64 `json:"arithmetic_p50_s"`
	ArithP95  float64 `json:"arithmetic_p95_s"`
	DelayP50  float64 `json:"delay_p50_s"`
	DelayP95  float64 `json:"delay_p95_s"`
	ExcessP50 float64 `json:"excess_p50_s"`
	ExcessP95 float64 `json:"excess_p95_s"`
	// Pages counts every page, before the fault too.
	Pages int `json:"pages"`
}

// summarize computes the detection report from the record.
func (rec *DetectRecord) summarize() *DetectionJSON {
	d := &DetectionJSON{Command: rec.Command, Date: rec.Date, Machine: rec.Machine, Duration: rec.Duration,
		MaxFault: rec.MaxFault, Calibrations: rec.Calibrations, Notes: rec.Notes}
	var excess []float64
	var order []string
	by := map[string][]DetectRun{}
	for _, r := range rec.Runs {
		if r.Skipped != "" {
			d.Skipped = append(d.Skipped, fmt.Sprintf("%s rep %d: %s", r.Scenario, r.Rep, r.Skipped))
			continue
		}
		if by[r.Scenario] == nil {
			order = append(order, r.Scenario)
		}
		by[r.Scenario] = append(by[r.Scenario], r)
	}
	for _, name := range order {
		for i, target := range detectTargets {
			s, ex := summarizeObjective(name, target, i, by[name], d)
			d.Scenarios = append(d.Scenarios, s)
			excess = append(excess, ex...)
		}
	}
	d.ExcessP50, d.ExcessP95 = nearestRank(excess, 0.5), nearestRank(excess, 0.95)
	d.targets()
	return d
}

// summarizeObjective summarises objective i of a scenario's runs, adding
// its counts to d, and returns the excess delays.
func summarizeObjective(name string, target float64, i int, runs []DetectRun, d *DetectionJSON) (DetectScenarioJSON, []float64) {
	s := DetectScenarioJSON{Name: name, Target: target, Runs: len(runs)}
	var arith, delay, excess []float64
	judged, bad := 0, 0
	for _, r := range runs {
		o := r.Objectives[i]
		s.Pages += o.Pages
		if r.FaultAt.IsZero() {
			if i == 0 {
				d.FaultFreeRuns++
			}
			d.FaultFreePages += o.Pages
			continue
		}
		judged, bad = judged+o.Judged, bad+o.Bad
		switch {
		case !o.Arithmetic.IsZero() && !o.Page.IsZero():
			s.Held, s.Paged = s.Held+1, s.Paged+1
			a, p := o.Arithmetic.Sub(r.FaultAt).Seconds(), o.Page.Sub(r.FaultAt).Seconds()
			arith, delay, excess = append(arith, a), append(delay, p), append(excess, p-a)
		case !o.Arithmetic.IsZero() && o.Page.IsZero():
			s.Held++
			d.Missed++
		case !o.Page.IsZero():
			d.Early++
		}
	}
	d.Held, d.Paged = d.Held+s.Held, d.Paged+s.Paged
	s.ClosedForm = -1
	if judged > 0 && bad > 0 {
		s.BadShare = float64(bad) / float64(judged)
		s.ClosedForm = closedForm(target, s.BadShare)
	}
	s.ArithP50, s.ArithP95 = nearestRank(arith, 0.5), nearestRank(arith, 0.95)
	s.DelayP50, s.DelayP95 = nearestRank(delay, 0.5), nearestRank(delay, 0.95)
	s.ExcessP50, s.ExcessP95 = nearestRank(excess, 0.5), nearestRank(excess, 0.95)
	return s, excess
}

// nearestRank returns the q-quantile of xs by the nearest rank, -1 for none.
func nearestRank(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[max(0, int(math.Ceil(q*float64(len(s))))-1)]
}

// targets sets the warm-start detection targets: the tracker within 1 s of
// its rules' arithmetic at p95 and no run where the arithmetic held without
// a page; no page on a fault-free run.
func (d *DetectionJSON) targets() {
	if d.Held > 0 {
		d.Targets = append(d.Targets, Target{Name: "warm start: page delay − rule arithmetic, p95 (s)", Value: d.ExcessP95,
			Goal: "≤ 1, none missed", Met: d.Paged > 0 && d.ExcessP95 <= 1 && d.Missed == 0})
	}
	if d.FaultFreeRuns > 0 {
		d.Targets = append(d.Targets, Target{Name: "warm start: pages on fault-free runs", Value: float64(d.FaultFreePages),
			Goal: "= 0", Met: d.FaultFreePages == 0})
	}
}

// Write writes detection.json and detection.md into dir.
func (d *DetectionJSON) Write(dir string) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: encode detection report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "detection.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "detection.md"), d.Markdown(), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// Markdown renders the detection report.
func (d *DetectionJSON) Markdown() []byte {
	var w mdWriter
	w.p("# Detection from a warm start\n\n")
	w.p("Produced by `%s` on %s (%s), in %s.\n\n", d.Command, d.Date, d.Machine, d.Duration)
	w.p("## Targets\n\n| target | value | goal | met |\n|---|---:|---|---|\n")
	for _, t := range d.Targets {
		m := "no"
		if t.Met {
			m = "**yes**"
		}
		w.p("| %s | %.3f | %s | %s |\n", t.Name, t.Value, t.Goal, m)
	}
	w.detection(d)
	if len(d.Calibrations) > 0 {
		w.p("TTFT thresholds, calibrated on this host (%s):", calibrationRule)
		for _, c := range d.Calibrations {
			w.p(" %v (healthy TTFT p50 %.0f ms, p99 %.0f ms, %d requests);", c.Thresholds.TTFT.D(), c.TTFT.P50, c.TTFT.P99, c.Requests)
		}
		w.p("\n\n")
	}
	for _, s := range d.Skipped {
		w.p("- skipped: %s\n", s)
	}
	if len(d.Notes) > 0 {
		w.p("\n## Notes\n\n")
		for _, n := range d.Notes {
			w.p("- %s\n", n)
		}
	}
	return w.Bytes()
}

// detection writes the warm-start detection section: how the runs went,
// the headline and the table per scenario and objective.
func (w *mdWriter) detection(d *DetectionJSON) {
	w.p("\n## Page delay against the rules' arithmetic\n\n")
	w.p("Each detection run starts the instrumented service (a process of its own, in cgroups of its own) with a tracker whose windows hold steady-state history: three days of the scenario's traffic (its request rate, every request good), written as a state file with `internal/burn` just before the run and restored through `slo.WithStateFile` (the service refuses to run unless every objective came back `restored`). The tracker judges two TTFT objectives, at 99 %% and 99.9 %%, with its default alert gate. The scenario's first fault starts at its usual time and lasts until every objective that can page within %s has paged (then 2 s more), or that long: from 10 s into the fault an objective is not waited for when its closed-form arithmetic, from the bad share so far, exceeds it. A fault-free run lasts the same, at most 3 minutes.\n\n", d.MaxFault)
	w.p("The **rule's arithmetic** is the first instant at which a page rule (1h>14.4 and 5m>14.4, or 6h>6 and 30m>6, each with its minimum of requests) holds over the exact windows [t − w, t] of that history and the requests the tracker judged in the run, checked every %v and at every request's end. For a constant bad share f over steady traffic it is 1h × (1 − target) × 14.4 / f: 51.8 s / f at 99.9 %%, 518 s / f at 99 %% (the closed form below, from the bad share measured during the fault). The page delay is fault start → the tracker's first page; their difference is how far the tracker is from its own rules.\n\n", arithmeticStep)
	w.p("**Page delay − rule arithmetic: p50 %s s, p95 %s s** (nearest rank) over %d runs × objectives in which the arithmetic held and a page came; %d held without a page within the run; %d paged although the arithmetic never held. Fault-free runs with warm windows: %d pages (runs: %d).\n\n",
		secs(d.ExcessP50), secs(d.ExcessP95), d.Paged, d.Missed, d.Early, d.FaultFreePages, d.FaultFreeRuns)
	w.p("| scenario | objective | runs | bad share in fault | closed form (s) | arithmetic p50 / p95 (s) | page delay p50 / p95 (s) | delay − arithmetic p50 / p95 (s) | paged / held | pages |\n|---|---|---:|---:|---:|---|---|---|---:|---:|\n")
	for _, s := range d.Scenarios {
		w.p("| %s | %s %% | %d | %.3f | %s | %s / %s | %s / %s | %s / %s | %d / %d | %d |\n", s.Name, strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.1f", s.Target*100), "0"), "."),
			s.Runs, s.BadShare, secs(s.ClosedForm), secs(s.ArithP50), secs(s.ArithP95), secs(s.DelayP50), secs(s.DelayP95),
			secs(s.ExcessP50), secs(s.ExcessP95), s.Paged, s.Held, s.Pages)
	}
	w.p("\n")
}

// secs formats seconds, "–" for none (the sentinel -1 of nearestRank and
// ClosedForm; a real excess may be slightly negative).
func secs(v float64) string {
	if v == -1 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}
