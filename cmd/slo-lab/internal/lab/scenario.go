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
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Workload    Workload    `json:"workload"`
	Load        Load        `json:"load"`
	Faults      []Fault     `json:"faults,omitempty"`
	Seed        uint64      `json:"seed"`
	Repetitions int         `json:"repetitions"`
	Assertions  []Assertion `json:"assertions,omitempty"`
}

// Workload describes the reference service's healthy behaviour.
type Workload struct {
	Profile       string   `json:"profile,omitempty"`
	Prefill       Duration `json:"prefill,omitempty"`
	Chunks        int      `json:"chunks,omitempty"`
	Gap           Duration `json:"gap,omitempty"`
	Retrieval     Duration `json:"retrieval,omitempty"`
	AllocMB       int      `json:"alloc_mb,omitempty"`
	CPUWork       Duration `json:"cpu_work,omitempty"`
	TTFTThreshold Duration `json:"ttft_threshold,omitempty"`
}

// Load is the open-loop request rate and how long it lasts.
type Load struct {
	RPS      float64  `json:"rps"`
	Duration Duration `json:"duration"`
}

// Fault is one fault of a scenario's timeline.
type Fault struct {
	Kind       string   `json:"kind"`
	Start      Duration `json:"start"`
	End        Duration `json:"end"`
	Delay      Duration `json:"delay,omitempty"`
	Jitter     Duration `json:"jitter,omitempty"`
	TokenDelay Duration `json:"token_delay,omitempty"`
	Percent    int      `json:"percent,omitempty"`
	Direction  string   `json:"direction,omitempty"`
	Rate       float64  `json:"rate,omitempty"`
	ResetRate  float64  `json:"reset_rate,omitempty"`
	Status     int      `json:"status,omitempty"`
	RetryAfter Duration `json:"retry_after,omitempty"`
	QuotaPct   int      `json:"quota_pct,omitempty"`
	Workers    int      `json:"workers,omitempty"`
	HeadroomMB int      `json:"headroom_mb,omitempty"`
}

// Domain returns the fault domain the fault's kind injects (the true label).
func (f Fault) Domain() attribution.Domain {
	return kindDomain[f.Kind]
}

var kindDomain = map[string]attribution.Domain{
	"dns_delay":         attribution.NetworkDNS,
	"packet_loss":       attribution.NetworkEgress,
	"cpu_throttle":      attribution.CPUThrottle,
	"cpu_contention":    attribution.CPUContention,
	"memory_pressure":   attribution.MemoryPressure,
	"provider_throttle": attribution.ProviderThrottle,
	"provider_error":    attribution.ProviderError,
	"provider_latency":  attribution.ProviderLatency,
	"retrieval_slow":    attribution.RetrievalBackend,
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
// checks what the schema cannot (fault windows inside the load, end after
// start, domains in assertions). Defaults are filled in.
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
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("lab: scenario %s: %w", s.Name, err)
	}
	s.defaults()
	return &s, nil
}

func (s *Scenario) check() error {
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
		if _, ok := kindDomain[f.Kind]; !ok {
			return fmt.Errorf("fault %d: unknown kind %q", i, f.Kind)
		}
		if f.End <= f.Start {
			return fmt.Errorf("fault %d: end %v is not after start %v", i, f.End.D(), f.Start.D())
		}
		if f.End > s.Load.Duration {
			return fmt.Errorf("fault %d: end %v is after the load ends (%v)", i, f.End.D(), s.Load.Duration.D())
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

func (s *Scenario) defaults() {
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
	if w.TTFTThreshold == 0 {
		w.TTFTThreshold = Duration(300 * time.Millisecond)
	}
}
