package lab

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/llmslo/slo/attribution"
)

// Record is everything a lab run collected and its report is computed from:
// the scenarios, every repetition's result with its labelled samples and
// incidents, and the facts of the run the report states (command, date,
// machine, duration, notes). [Rebuild] turns it into the same report again.
type Record struct {
	Command  string   `json:"command"`
	Date     string   `json:"date"`
	Machine  string   `json:"machine"`
	Duration string   `json:"duration"`
	Folds    int      `json:"folds"`
	Notes    []string `json:"notes"`
	// Calibrations are the measurements of the healthy workloads on this
	// host the objectives' thresholds were set from.
	Calibrations []Calibration `json:"calibrations,omitempty"`
	// Evaluated are the models scored as is (-evaluate), each with the
	// path it was given as; a record written before several could be
	// scored holds one, as LegacyEvaluated.
	Evaluated       []EvaluatedModel `json:"evaluated_models,omitempty"`
	LegacyEvaluated json.RawMessage  `json:"evaluated_model,omitempty"`
	// Rescored is the -rebuild command that replaced the evaluated models
	// of the record after the run (empty: those the run was given).
	Rescored  string      `json:"rescored,omitempty"`
	Scenarios []*Scenario `json:"scenarios"`
	// Results holds, per scenario, its repetitions in the order they ran.
	Results [][]RunResult `json:"-"`
}

// EvaluatedModel is a model scored as is: the path it was given as and
// its JSON.
type EvaluatedModel struct {
	Name  string          `json:"name"`
	Model json.RawMessage `json:"model"`
}

// runLine is one line of a record file after the header: a repetition's
// result and the index of its scenario.
type runLine struct {
	Index int `json:"scenario_index"`
	RunResult
}

// WriteRecord writes rec to path as gzip-compressed JSON lines: the header
// (everything but the results), then one line per repetition.
func WriteRecord(path string, rec *Record) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(rec); err != nil {
		return fmt.Errorf("lab: encode record: %w", err)
	}
	for i, rs := range rec.Results {
		for _, r := range rs {
			if err := enc.Encode(runLine{Index: i, RunResult: r}); err != nil {
				return fmt.Errorf("lab: encode record: %s rep %d: %w", r.Scenario, r.Rep, err)
			}
		}
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression) // no name, no time: the same record gives the same bytes
	if _, err := zw.Write(b.Bytes()); err != nil {
		return fmt.Errorf("lab: compress record: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("lab: compress record: %w", err)
	}
	if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// ReadRecord reads a record file written by [WriteRecord].
func ReadRecord(path string) (*Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	if !sc.Scan() {
		return nil, fmt.Errorf("lab: %s: empty record", path)
	}
	var rec Record
	if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
		return nil, fmt.Errorf("lab: %s: header: %w", path, err)
	}
	if rec.LegacyEvaluated != nil {
		rec.Evaluated = []EvaluatedModel{{Model: rec.LegacyEvaluated}}
		rec.LegacyEvaluated = nil
	}
	rec.Results = make([][]RunResult, len(rec.Scenarios))
	for line := 2; sc.Scan(); line++ {
		var r runLine
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("lab: %s:%d: %w", path, line, err)
		}
		if r.Index < 0 || r.Index >= len(rec.Scenarios) {
			return nil, fmt.Errorf("lab: %s:%d: scenario %d of %d", path, line, r.Index, len(rec.Scenarios))
		}
		rec.Results[r.Index] = append(rec.Results[r.Index], r.RunResult)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lab: %s: %w", path, err)
	}
	return &rec, nil
}

// Rebuild evaluates a record: the report (with the run's own command, date,
// machine, duration and notes) and the model fitted on it.
func Rebuild(rec *Record) (*Report, *attribution.Model, error) {
	cfg := EvalConfig{Folds: rec.Folds,
		Provenance: attribution.Provenance{Command: rec.Command, Date: rec.Date, Machine: rec.Machine, Note: modelNote}}
	for _, e := range rec.Evaluated {
		m, err := attribution.UnmarshalModel(e.Model)
		if err != nil {
			return nil, nil, fmt.Errorf("lab: record: evaluated model %s: %w", e.Name, err)
		}
		cfg.Models = append(cfg.Models, NamedModel{Name: e.Name, Model: m})
	}
	rep, model, err := Evaluate(rec.Scenarios, rec.Results, cfg)
	if err != nil {
		return nil, nil, err
	}
	rep.Command, rep.Date, rep.Machine, rep.Duration = rec.Command, rec.Date, rec.Machine, rec.Duration
	rep.Calibrations, rep.CalibrationRule = rec.Calibrations, calibrationRule
	rep.Rescored = rec.Rescored
	rep.Notes = append(rep.Notes, rec.Notes...)
	return rep, model, nil
}

// wallClock drops the monotonic clock readings of the result's times, so
// that the report computed now and the one rebuilt from the record (where
// times are wall-clock only) subtract the same readings.
func (r RunResult) wallClock() RunResult {
	r.Start, r.FaultAt, r.FaultEnd = r.Start.Round(0), r.FaultAt.Round(0), r.FaultEnd.Round(0)
	r.Windows = append([]Window(nil), r.Windows...)
	for i := range r.Windows {
		r.Windows[i].At, r.Windows[i].End = r.Windows[i].At.Round(0), r.Windows[i].End.Round(0)
	}
	r.Incidents = append([]IncidentRec(nil), r.Incidents...)
	for i := range r.Incidents {
		r.Incidents[i].At = r.Incidents[i].At.Round(0)
	}
	return r
}

// sampleJSON is a sample as a record file holds it: the features by name.
type sampleJSON struct {
	Truth    string             `json:"truth"`
	Truths   []string           `json:"truths,omitempty"`
	InFault  bool               `json:"in_fault"`
	E2EMs    float64            `json:"e2e_ms"`
	Failed   bool               `json:"failed"`
	Features map[string]float64 `json:"features"`
}

// MarshalJSON writes the sample with its features by name.
func (s Sample) MarshalJSON() ([]byte, error) {
	var truths []string
	for _, d := range s.Truths {
		truths = append(truths, d.String())
	}
	return json.Marshal(sampleJSON{Truth: s.Truth.String(), Truths: truths, InFault: s.InFault, E2EMs: s.Obs.E2EMs,
		Failed: s.Obs.Failed, Features: features(s.Obs)})
}

// UnmarshalJSON reads a sample written by MarshalJSON.
func (s *Sample) UnmarshalJSON(b []byte) error {
	var j sampleJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	truth, ok := attribution.ParseDomain(j.Truth)
	if !ok {
		return fmt.Errorf("sample: unknown domain %q", j.Truth)
	}
	*s = Sample{Truth: truth, InFault: j.InFault, Obs: attribution.Observation{E2EMs: j.E2EMs, Failed: j.Failed}}
	for _, n := range j.Truths {
		d, ok := attribution.ParseDomain(n)
		if !ok {
			return fmt.Errorf("sample: unknown domain %q", n)
		}
		s.Truths = append(s.Truths, d)
	}
	return setFeatures(&s.Obs, j.Features)
}

// setFeatures sets the features of o from their names.
func setFeatures(o *attribution.Observation, fs map[string]float64) error {
	for name, v := range fs {
		f, ok := featureNamed(name)
		if !ok {
			return fmt.Errorf("unknown feature %q", name)
		}
		o.Set(f, v)
	}
	return nil
}

// features returns the observed features of o by name.
func features(o attribution.Observation) map[string]float64 {
	out := map[string]float64{}
	for _, f := range attribution.AllFeatures() {
		if v, ok := o.Get(f); ok {
			out[f.String()] = v
		}
	}
	return out
}

func featureNamed(name string) (attribution.Feature, bool) {
	for _, f := range attribution.AllFeatures() {
		if f.String() == name {
			return f, true
		}
	}
	return 0, false
}

// RebuildDir reads the record in dir and writes dir/report.md and
// dir/report.json again from it, and the fitted model to fitPath unless
// empty. Non-empty evaluate replaces the models the record scores as is,
// and command (the rebuild's own command line) is recorded as what did;
// the record is then written again with them, so that the next rebuild
// gives the same report.
func RebuildDir(dir, fitPath string, evaluate []EvaluatedModel, command string) (*Report, error) {
	path := filepath.Join(dir, recordFile)
	rec, err := ReadRecord(path)
	if err != nil {
		return nil, err
	}
	if evaluate != nil {
		rec.Evaluated, rec.Rescored = evaluate, command
	}
	rep, model, err := Rebuild(rec)
	if err != nil {
		return nil, err
	}
	if evaluate != nil {
		if err := WriteRecord(path, rec); err != nil {
			return rep, err
		}
	}
	if err := rep.Write(dir); err != nil {
		return rep, err
	}
	return rep, writeModel(fitPath, model)
}

// recordFile is the name of the record in a report directory: JSON lines,
// gzip-compressed.
const recordFile = "runs.jsonl.gz"
