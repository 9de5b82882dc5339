package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/llmslo/slo/attribution"
)

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
	var w mdWriter
	w.header(rep)
	w.calibration(rep)
	w.ood(rep)
	for i := range rep.Models {
		w.model(&rep.Models[i])
	}
	w.arms(rep)
	for _, a := range Arms {
		w.perClass(a.Name, rep.Arms[a.Name])
	}
	w.scenarios(rep.Scenarios)
	w.notes(rep)
	return w.Bytes()
}

// mdWriter builds report.md section by section.
type mdWriter struct{ bytes.Buffer }

func (w *mdWriter) p(format string, args ...any) { fmt.Fprintf(w, format, args...) }

// header writes the title, how the report was produced and the targets.
func (w *mdWriter) header(rep *Report) {
	w.p("# Incident lab report\n\n")
	w.p("Produced by `%s` on %s (%s), in %s.\n\n", rep.Command, rep.Date, rep.Machine, rep.Duration)
	if rep.Rescored != "" {
		w.p("The evaluated models below were scored afterwards on this run's record by `%s`: nothing ran again, and the rest of the report is the run's own.\n\n", rep.Rescored)
	}
	w.p("Each run starts the instrumented service as a process of its own, in cgroups of its own, with a fresh tracker (TTFT and TPOT objectives, target 0.99, thresholds calibrated on this host), warms it up for %v, drives open-loop load from the lab's process against it (retrieval hop + streamed chat completion from a fake provider, over real sockets), and injects the scenario's faults with `faults/`. A bad request's truth is the set of domains whose faults were in effect while it was in flight (`unknown` when none was); requests that start within %v of a fault's end are left out. Evidence is expressed as excess over the run's healthy baselines; a kernel feature whose probe the run's status reports watching (eBPF in process, or the CFS throttling and steal pollers) reads 0 where a request lacks it, as the tracker observes it.\n\n", warmUp, settle)
	w.p("Every model is fitted by attribution.FitCalibrated on training runs only: naive Bayes, a uniform prior over the fault domains, and a temperature and an abstention rule (weak evidence, evidence unlike every request the top domain was fitted on, or the top domain's own evidence watched and without excess) chosen on the training runs' own magnitudes held out in turn. The headline holds out one magnitude of every family at a time; leaving one fault domain out asks whether a fault the model never saw comes out `unknown`; the arms (application, kernel, both) are cross-validated by repetition (%d folds); multi-fault runs are never trained on and are scored with the model of all single-fault and fault-free runs, a multi-fault request as right when its top k domains (k: how many faults overlapped it) contain them all. A run's incident verdict is attribution.AttributeIncident over its in-fault bad requests, as the tracker ranks incidents.\n\n", rep.Folds)
	w.p("## Targets\n\n| target | value | goal | met |\n|---|---:|---|---|\n")
	for _, t := range rep.Targets {
		m := "no"
		if t.Met {
			m = "**yes**"
		}
		w.p("| %s | %.3f | %s | %s |\n", t.Name, t.Value, t.Goal, m)
	}
}

// calibration writes how the thresholds were set and how healthy the
// healthy load was.
func (w *mdWriter) calibration(rep *Report) {
	w.p("\n## Calibration on this host\n\nThe objectives' thresholds: %s.\n\n| workload | requests | TTFT p50 / p90 / p99 / max (ms) | TPOT p50 / p90 / p99 / max (ms) | TTFT threshold | TPOT threshold |\n|---|---:|---|---|---:|---:|\n", rep.CalibrationRule)
	for _, c := range rep.Calibrations {
		wl := c.Workload
		desc := fmt.Sprintf("prefill %v, %d chunks every %v, retrieval %v, cpu %v, %d MiB", wl.Prefill.D(), wl.Chunks, wl.Gap.D(), wl.Retrieval.D(), wl.CPUWork.D(), wl.AllocMB)
		if wl.FreshMemory {
			desc += " fresh"
		}
		w.p("| %s | %d | %.0f / %.0f / %.0f / %.0f | %.1f / %.1f / %.1f / %.1f | %v | %v |\n", desc, c.Requests,
			c.TTFT.P50, c.TTFT.P90, c.TTFT.P99, c.TTFT.Max, c.TPOT.P50, c.TPOT.P90, c.TPOT.P99, c.TPOT.Max, c.Thresholds.TTFT.D(), c.Thresholds.TPOT.D())
	}
	h := rep.Health
	w.p("\nFault-free runs: %d bad of %d judged requests (%.2f %%) over %d runs; healthy requests of every run (no fault overlapped them): %.2f %% bad. %d of %d runs rejected, not scored:", h.FaultFreeBad, h.FaultFreeRequests, 100*h.FaultFreeBadShare, h.FaultFreeRuns, 100*h.HealthyBadShare, len(h.Rejected), h.Runs)
	if len(h.Rejected) == 0 {
		w.p(" none.\n")
		return
	}
	w.p("\n\n")
	for _, r := range h.Rejected {
		w.p("- %s\n", r)
	}
}

// arms writes the table of the arms, the both − app difference and the
// incident figures.
func (w *mdWriter) arms(rep *Report) {
	w.p("\n## Arms (cross-validation by repetition)\n\n")
	w.armHeader("arm")
	for _, a := range Arms {
		w.armRow(a.Name, rep.Arms[a.Name])
	}
	w.p("\nmacro-F1 both − app: **%+.3f**, 95%% CI [%+.3f, %+.3f] (cluster bootstrap over runs, 2000 resamples).\n\n", rep.AppVsBoth.Diff, rep.AppVsBoth.CI[0], rep.AppVsBoth.CI[1])
	both := rep.Arms["both"]
	w.p("Incidents (the same for every arm: the tracker pages on burn rate, attribution only names the domain): false-positive pages on %d of %d fault-free runs (%.3f; pages in the first %v of a run, while the fresh tracker's windows hold a handful of requests, are counted apart per scenario as cold-start pages); median detection delay (fault start → first page) %.2f s, 95%% CI [%.2f, %.2f] (order statistics, benchstat.Summarize; -1 = not enough runs).\n\n",
		rep.FalsePositiveRuns, rep.FaultFreeRuns, both.FalsePositiveRate, coldStart, both.DetectionDelayP50, both.DetectionDelayCI[0], both.DetectionDelayCI[1])
}

// armHeader and armRow write the table of arms (or models).
func (w *mdWriter) armHeader(first string) {
	w.p("| %s | macro-F1 with unknown [95%% CI] | macro-F1 without unknown [95%% CI] | ECE | fault-free bad → unknown | abstain (fault samples) | provider-vs-cluster confusion | run-level top-1 accuracy | two-fault top-2 | multi-fault requests: top k contain all | samples | runs |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", first)
}

func (w *mdWriter) armRow(name string, x ArmJSON) {
	two := "n/a"
	if x.TwoFaultTop2Rate >= 0 {
		two = fmt.Sprintf("%.2f", x.TwoFaultTop2Rate)
	}
	set := "n/a"
	if x.MultiTruthTopK >= 0 {
		set = fmt.Sprintf("%.2f (%d)", x.MultiTruthTopK, x.MultiTruthSamples)
	}
	w.p("| %s | **%.3f** [%.3f, %.3f] | %.3f [%.3f, %.3f] | %.3f | %.3f (%d) | %.3f | %.3f | %.2f | %s | %s | %d | %d |\n", name,
		x.MacroF1Unknown, x.MacroF1UnknownCI[0], x.MacroF1UnknownCI[1], x.MacroF1, x.MacroF1CI[0], x.MacroF1CI[1],
		x.ECE, x.FaultFreeUnknown, x.FaultFreeSamples, x.AbstainRate, x.ProviderClusterConf, x.RunTopAccuracy, two, set, x.Samples, x.Runs)
}

// reliability writes the reliability table of the top posterior.
func (w *mdWriter) reliability(name string, x ArmJSON) {
	w.p("Reliability of the top posterior (%s; the domain with the highest posterior, unknown included, against the truth): expected calibration error **%.3f**.\n\n| top posterior | samples | mean posterior | accuracy |\n|---|---:|---:|---:|\n", name, x.ECE)
	for _, b := range x.Reliability {
		w.p("| [%.1f, %.1f) | %d | %.3f | %.3f |\n", b.Lo, b.Hi, b.N, b.Confidence, b.Accuracy)
	}
	w.p("\n")
}

// ood writes the out-of-distribution protocols: leave one magnitude out
// (the headline) and leave one fault domain out.
func (w *mdWriter) ood(rep *Report) {
	lm := rep.LOMO
	w.p("\n## Leave one magnitude out (the headline)\n\nEvery family of faults is swept over %d magnitudes; fold k scores the k-th magnitude of every family (fault-free runs by repetition) with a model fitted on the others, so each magnitude is one the model never saw. Both arms' evidence; temperature and abstention chosen on the training folds only (attribution.FitCalibrated, holding out their magnitudes in turn).\n\n", lm.Folds)
	w.armHeader("protocol")
	w.armRow("leave one magnitude out", lm.ArmJSON)
	w.p("\n")
	w.reliability("leave one magnitude out", lm.ArmJSON)
	w.perClass("leave one magnitude out", lm.ArmJSON)
	lf := rep.LOFO
	w.p("## Leave one fault domain out\n\nEach domain's bad requests scored by a model fitted without any run of that domain: it should say `unknown`, or at least not be confident. Pooled over %d samples: **%.3f** unknown, %.3f unknown or posterior < %.1f (mean over the domains: %.3f, %.3f).\n\n| unseen domain | samples | unknown | unknown or low confidence | answers |\n|---|---:|---:|---:|---|\n",
		lf.Samples, lf.Unknown, lf.LowConfidence, lowConfidence, lf.MeanUnknown, lf.MeanLowConfidence)
	for _, d := range attribution.Domains() {
		c, ok := lf.PerDomain[d.String()]
		if !ok {
			continue
		}
		var ans []string
		for name, n := range c.Predicted {
			ans = append(ans, fmt.Sprintf("%s×%d", name, n))
		}
		slices.Sort(ans)
		w.p("| %s | %d | %.3f | %.3f | %s |\n", d, c.Samples, c.Unknown, c.LowConfidence, strings.Join(ans, " "))
	}
	w.p("\n")
}

// model writes the evaluation of the given model, scored as is.
func (w *mdWriter) model(m *ModelJSON) {
	pv := m.Provenance
	title, given := "Evaluated model", "The model given with `-evaluate`"
	if m.Name != "" {
		title, given = "Evaluated model `"+m.Name+"`", "`"+m.Name+"`"
	}
	w.p("## %s (scored as is, no refitting)\n\n%s, fitted on the runs of `%s` of %s (%s; %d runs, %d samples), scored on every run of this report, none of which it was fitted on.\n\n", title, given, pv.Command, pv.Date, pv.Machine, pv.Runs, pv.Samples)
	w.armHeader("model")
	w.armRow("evaluated", m.ArmJSON)
	w.p("\n")
	w.reliability(m.label(), m.ArmJSON)
	w.perClass(m.label(), m.ArmJSON)
}

// perClass writes an arm's per-class scores and its confusion matrix.
func (w *mdWriter) perClass(name string, x ArmJSON) {
	w.p("### %s: per class\n\n| domain | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|\n", name)
	for _, d := range attribution.Domains() {
		c, ok := x.PerClass[d.String()]
		if !ok {
			continue
		}
		warn := ""
		if c.Support < minSupport {
			warn = fmt.Sprintf(" ⚠ < %d", minSupport)
		}
		w.p("| %s | %.3f | %.3f | %.3f | %d%s |\n", d, c.Precision, c.Recall, c.F1, c.Support, warn)
	}
	w.p("\nConfusion (rows: truth, columns: predicted)\n\n")
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
	w.p("| truth \\ predicted |")
	for _, u := range used {
		w.p(" %s |", u)
	}
	w.p("\n|---|%s\n", strings.Repeat("---:|", len(used)))
	for _, t := range used {
		w.p("| %s |", t)
		for _, u := range used {
			w.p(" %d |", x.Confusion[t][u])
		}
		w.p("\n")
	}
	w.p("\n")
}

// scenarios writes the table of the scenarios.
func (w *mdWriter) scenarios(scs []ScenarioJSON) {
	w.p("## Scenarios\n\n| scenario | domains | runs | bad in fault / outside | runs paged | delay p50 (s) | cold-start pages | run top (both) | assertions (passed/evaluated) |\n|---|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, s := range scs {
		if s.Skipped != "" && s.Runs == 0 {
			w.p("| %s | %s | 0 | – | – | – | – | skipped: %s | |\n", s.Name, strings.Join(s.Domains, "+"), s.Skipped)
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
		w.p("| %s | %s | %d | %d / %d | %d | %.2f | %d | %s | %s |\n", s.Name, strings.Join(s.Domains, "+"), s.Runs, s.BadInFault, s.BadOutside, s.Detected, s.DelayP50, s.ColdPages, strings.Join(tops, " "), strings.Join(as, "; "))
	}
}

// notes writes the injection errors and the notes.
func (w *mdWriter) notes(rep *Report) {
	var errs []string
	for _, s := range rep.Scenarios {
		for _, e := range s.Errors {
			errs = append(errs, s.Name+": "+e)
		}
	}
	if len(errs) > 0 {
		w.p("\nInjection errors:\n\n")
		for _, e := range errs {
			w.p("- %s\n", e)
		}
	}
	if len(rep.Warnings) > 0 {
		w.p("\n## Warnings\n\n")
		for _, n := range rep.Warnings {
			w.p("- %s\n", n)
		}
	}
	if len(rep.Notes) > 0 {
		w.p("\n## Notes\n\n")
		for _, n := range rep.Notes {
			w.p("- %s\n", n)
		}
	}
}
