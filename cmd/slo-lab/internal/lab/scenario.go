package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as a Go duration string ("500ms").
type Duration time.Duration

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Scenario is one declarative lab scenario (see scenario.schema.json).
type Scenario struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Workload    Workload `json:"workload"`
	Load        Load     `json:"load"`
	Faults      []Fault  `json:"faults,omitempty"`
	// Family groups the scenarios of one kind of fault at several
	// magnitudes (default: the name); Sweep, when set, expands the scenario
	// into one per value ([Scenario.Expand]), each with its Magnitude and
	// Level (the value's index in the sweep).
	Family      string      `json:"family,omitempty"`
	Sweep       *Sweep      `json:"sweep,omitempty"`
	Magnitude   string      `json:"magnitude,omitempty"`
	Level       int         `json:"level,omitempty"`
	Seed        uint64      `json:"seed"`
	Repetitions int         `json:"repetitions"`
	Assertions  []Assertion `json:"assertions,omitempty"`
}

// Sweep sets one parameter of a scenario's first fault to each of Values
// in turn.
type Sweep struct {
	Field  string `json:"field"`
	Values []any  `json:"values"`
}

// Workload describes the reference service's healthy behaviour.
type Workload struct {
	Profile   string   `json:"profile,omitempty"`
	Prefill   Duration `json:"prefill,omitempty"`
	Chunks    int      `json:"chunks,omitempty"`
	Gap       Duration `json:"gap,omitempty"`
	Retrieval Duration `json:"retrieval,omitempty"`
	AllocMB   int      `json:"alloc_mb,omitempty"`
	// FreshMemory maps and touches AllocMB of new memory per request;
	// without it the service reuses warm buffers.
	FreshMemory bool     `json:"fresh_memory,omitempty"`
	CPUWork     Duration `json:"cpu_work,omitempty"`
	// Retries is how many times the service retries a provider call
	// answered 429 or 503, waiting what Retry-After says (at most
	// maxRetryWait).
	Retries int `json:"retries,omitempty"`
	// TTFTThreshold and TPOTThreshold fix the objectives' thresholds; zero
	// means calibrated on this host (see [Calibration]).
	TTFTThreshold Duration `json:"ttft_threshold,omitempty"`
	TPOTThreshold Duration `json:"tpot_threshold,omitempty"`
	// TightTTFT sets the TTFT threshold at the calibrated healthy median:
	// about half the requests miss it with no fault at all, bad requests
	// no fault explains (their runs are not rejected for it).
	TightTTFT bool `json:"tight_ttft,omitempty"`
}

// Load is the open-loop request rate and how long it lasts.
type Load struct {
	RPS      float64  `json:"rps"`
	Duration Duration `json:"duration"`
}

// Fault is one fault of a scenario's timeline. Which parameters a kind
// takes, and which it needs, is in faultKinds.
type Fault struct {
	Kind         string   `json:"kind"`
	Start        Duration `json:"start"`
	End          Duration `json:"end"`
	Delay        Duration `json:"delay,omitempty"`
	Jitter       Duration `json:"jitter,omitempty"`
	TokenDelay   Duration `json:"token_delay,omitempty"`
	Mode         string   `json:"mode,omitempty"`
	Percent      int      `json:"percent,omitempty"`
	Direction    string   `json:"direction,omitempty"`
	Reject       bool     `json:"reject,omitempty"`
	Rate         float64  `json:"rate,omitempty"`
	ResetRate    float64  `json:"reset_rate,omitempty"`
	TruncateRate float64  `json:"truncate_rate,omitempty"`
	AfterChunks  int      `json:"after_chunks,omitempty"`
	Status       int      `json:"status,omitempty"`
	RetryAfter   Duration `json:"retry_after,omitempty"`
	QuotaPct     int      `json:"quota_pct,omitempty"`
	Workers      int      `json:"workers,omitempty"`
	HeadroomMB   int      `json:"headroom_mb,omitempty"`
	// Burst switches the fault on for On and off for Off, repeatedly,
	// between Start and End; Ramp raises its magnitude in Ramp equal steps
	// from 1/Ramp of it to all of it over the same time.
	Burst *Burst `json:"burst,omitempty"`
	Ramp  int    `json:"ramp,omitempty"`
}

// Burst is the on/off pattern of a fault that comes and goes.
type Burst struct {
	On  Duration `json:"on"`
	Off Duration `json:"off"`
}

// Domain returns the fault domain the fault's kind injects (the true label).
func (f Fault) Domain() attribution.Domain {
	return faultKinds[f.Kind].domain
}

// Assertion is one check evaluated on every run; exactly one field is set.
type Assertion struct {
	TopDomain         string   `json:"top_domain,omitempty"`
	Top2              []string `json:"top2,omitempty"`
	DetectionDelayMax Duration `json:"detection_delay_max,omitempty"`
	NoIncident        bool     `json:"no_incident,omitempty"`
	MinBadRequests    *int     `json:"min_bad_requests,omitempty"`
}

// String describes the assertion.
func (a Assertion) String() string {
	switch {
	case a.TopDomain != "":
		return "top_domain=" + a.TopDomain
	case len(a.Top2) > 0:
		return "top2=" + strings.Join(a.Top2, "+")
	case a.DetectionDelayMax > 0:
		return "detection_delay≤" + a.DetectionDelayMax.D().String()
	case a.NoIncident:
		return "no_incident"
	case a.MinBadRequests != nil:
		return fmt.Sprintf("min_bad_requests=%d", *a.MinBadRequests)
	}
	return "none"
}

// Domains returns the distinct fault domains of the scenario, in timeline order.
func (s *Scenario) Domains() []attribution.Domain {
	var out []attribution.Domain
	for _, f := range s.Faults {
		d := f.Domain()
		dup := false
		for _, o := range out {
			dup = dup || o == d
		}
		if !dup {
			out = append(out, d)
		}
	}
	return out
}

// Window returns the earliest start and the latest end of the faults; ok is
// false for a fault-free scenario.
func (s *Scenario) Window() (start, end time.Duration, ok bool) {
	for i, f := range s.Faults {
		if i == 0 || f.Start.D() < start {
			start = f.Start.D()
		}
		end = max(end, f.End.D())
	}
	return start, end, len(s.Faults) > 0
}

// Schema compiles a scenario JSON Schema document.
func Schema(doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("lab: scenario schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("scenario.schema.json", v); err != nil {
		return nil, fmt.Errorf("lab: scenario schema: %w", err)
	}
	s, err := c.Compile("scenario.schema.json")
	if err != nil {
		return nil, fmt.Errorf("lab: scenario schema: %w", err)
	}
	return s, nil
}

// ParseScenario decodes a YAML scenario, validates it against schema and
// checks what the schema cannot (see [Scenario.Check]). Defaults are
// filled in; a sweep is left for [Scenario.Expand].
func ParseScenario(src []byte, schema *jsonschema.Schema) (*Scenario, error) {
	var y any
	if err := yaml.Unmarshal(src, &y); err != nil {
		return nil, fmt.Errorf("lab: scenario: yaml: %w", err)
	}
	j, err := json.Marshal(y)
	if err != nil {
		return nil, fmt.Errorf("lab: scenario: %w", err)
	}
	if schema != nil {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			return nil, fmt.Errorf("lab: scenario: %w", err)
		}
		if err := schema.Validate(doc); err != nil {
			return nil, fmt.Errorf("lab: scenario does not match the schema: %w", err)
		}
	}
	var s Scenario
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("lab: scenario: %w", err)
	}
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("lab: scenario %s: %w", s.Name, err)
	}
	s.defaults()
	return &s, nil
}

// Check validates what the schema cannot: the load, the repetitions, every
// fault (see checkFault), the sweep and the domains named in assertions.
func (s *Scenario) Check() error {
	if s.Name == "" {
		return errors.New("no name")
	}
	if s.Load.RPS <= 0 || s.Load.Duration <= 0 {
		return errors.New("load needs rps > 0 and a duration")
	}
	if s.Repetitions < 1 {
		return errors.New("repetitions must be at least 1")
	}
	for i, f := range s.Faults {
		if err := checkFault(f, s.Load.Duration.D()); err != nil {
			return fmt.Errorf("fault %d (%s): %w", i, f.Kind, err)
		}
	}
	if err := checkOverlaps(s.Faults); err != nil {
		return err
	}
	if s.Sweep != nil {
		if _, err := s.Expand(); err != nil {
			return err
		}
	}
	for i, a := range s.Assertions {
		names := append([]string{a.TopDomain}, a.Top2...)
		for _, n := range names {
			if n == "" {
				continue
			}
			if _, ok := attribution.ParseDomain(n); !ok {
				return fmt.Errorf("assertion %d: unknown domain %q", i, n)
			}
		}
	}
	return nil
}

// CheckNames returns an error when two scenarios share a name.
func CheckNames(scs []*Scenario) error {
	seen := map[string]bool{}
	for _, s := range scs {
		if seen[s.Name] {
			return fmt.Errorf("lab: two scenarios are named %s", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

func (s *Scenario) defaults() {
	if s.Family == "" {
		s.Family = s.Name
	}
	w := &s.Workload
	if w.Profile == "" {
		w.Profile = "rag-stream"
	}
	if w.Prefill == 0 {
		w.Prefill = Duration(40 * time.Millisecond)
	}
	if w.Chunks == 0 {
		w.Chunks = 16
	}
	if w.Gap == 0 {
		w.Gap = Duration(5 * time.Millisecond)
	}
	if w.Retrieval == 0 {
		w.Retrieval = Duration(10 * time.Millisecond)
	}
	if w.CPUWork == 0 {
		w.CPUWork = Duration(5 * time.Millisecond)
	}
}
