package lab

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DetectConfig configures [Detect].
type DetectConfig struct {
	// Scenarios to run, each Reps times (0: once); single-fault or
	// fault-free (of a scenario with several faults only the first plays).
	Scenarios []*Scenario
	Reps      int
	// MaxFault bounds a fault: it lasts until every objective that can
	// page within MaxFault by its rule's arithmetic paged (and 2 s more),
	// or this long. A fault-free run lasts this long, at most 3 minutes.
	// 0 means 12 minutes (a total outage on a 99 % objective pages after
	// 8.64 by the rule's arithmetic).
	MaxFault time.Duration
	// Out is the directory detection.md, detection.json and the record
	// detection-runs.json are written to ("" = none).
	Out string
	// QuietWait, Command, Subnet, Privileged and Logf are as in [Config].
	QuietWait  time.Duration
	Command    string
	Subnet     netip.Prefix
	Privileged bool
	Logf       func(format string, args ...any)
}

// DetectRecord is what the detection runs collected; [RebuildDetection]
// turns it into the same report again.
type DetectRecord struct {
	Command      string        `json:"command"`
	Date         string        `json:"date"`
	Machine      string        `json:"machine"`
	Duration     string        `json:"duration"`
	MaxFault     string        `json:"max_fault"`
	Calibrations []Calibration `json:"calibrations,omitempty"`
	Notes        []string      `json:"notes"`
	Runs         []DetectRun   `json:"runs"`
}

// detectRecordFile is the record of the detection runs in a report
// directory.
const detectRecordFile = "detection-runs.json"

// Detect runs the warm-start detection runs of cfg (repetition r of every
// scenario before r+1; thresholds calibrated on this host as for [Run]) and
// writes their report into cfg.Out.
func Detect(ctx context.Context, cfg DetectConfig) (*DetectionJSON, error) {
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	maxFault := cmp.Or(cfg.MaxFault, 12*time.Minute)
	began := time.Now()
	env, err := NewEnv(EnvConfig{Subnet: cfg.Subnet, Privileged: cfg.Privileged, Logf: logf})
	if err != nil {
		return nil, err
	}
	defer env.Close()
	c := &collector{cfg: Config{Scenarios: cfg.Scenarios}, env: env, logf: logf, budget: cmp.Or(cfg.QuietWait, quietBudget)}
	if err := c.calibrate(ctx); err != nil {
		return nil, err
	}
	rec := &DetectRecord{Command: cfg.Command, Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(),
		MaxFault: maxFault.String(), Calibrations: c.calList, Notes: env.notes()}
	for r := range max(cfg.Reps, 1) {
		for _, sc := range cfg.Scenarios {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			waitQuiet(ctx, &c.budget)
			res, err := DetectOnce(ctx, env, sc, r, c.cals[workloadKey(sc.Workload)].thresholds(sc.Workload), maxFault)
			if err != nil {
				return nil, fmt.Errorf("lab: detect %s rep %d: %w", sc.Name, r, err)
			}
			logDetect(logf, &res)
			rec.Runs = append(rec.Runs, res)
		}
	}
	rec.Duration = time.Since(began).Round(time.Second).String()
	d := rec.summarize()
	if cfg.Out != "" {
		if err := writeDetection(cfg.Out, rec, d); err != nil {
			return d, err
		}
	}
	return d, nil
}

// logDetect logs the outcome of one detection run.
func logDetect(logf func(string, ...any), r *DetectRun) {
	var parts []string
	at := func(t time.Time) string {
		if t.IsZero() || r.FaultAt.IsZero() {
			return "-"
		}
		return t.Sub(r.FaultAt).Round(10 * time.Millisecond).String()
	}
	for _, o := range r.Objectives {
		parts = append(parts, fmt.Sprintf("%.1f%%: %d/%d bad, arithmetic %s page %s (%d pages)", 100*o.Target, o.Bad, o.Judged, at(o.Arithmetic), at(o.Page), o.Pages))
	}
	logf("detect %-28s rep %2d: requests %4d; %s %s%s", r.Scenario, r.Rep, r.Requests, strings.Join(parts, "; "), r.Skipped, strings.Join(r.Errors, "; "))
}

// writeDetection writes the record and the report into dir.
func writeDetection(dir string, rec *DetectRecord, d *DetectionJSON) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	b, err := json.MarshalIndent(rec, "", " ")
	if err != nil {
		return fmt.Errorf("lab: encode detection record: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, detectRecordFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return d.Write(dir)
}

// HasDetection reports whether dir holds the record of detection runs.
func HasDetection(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, detectRecordFile))
	return err == nil
}

// RebuildDetection reads the detection record in dir and writes
// detection.md and detection.json again from it.
func RebuildDetection(dir string) (*DetectionJSON, error) {
	b, err := os.ReadFile(filepath.Join(dir, detectRecordFile))
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var rec DetectRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("lab: %s: %w", detectRecordFile, err)
	}
	d := rec.summarize()
	return d, d.Write(dir)
}
