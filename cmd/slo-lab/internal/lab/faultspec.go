package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/llmslo/slo/attribution"
)

// kindSpec is what a fault kind injects and which parameters it takes.
type kindSpec struct {
	domain attribution.Domain
	// params are the parameters the kind uses (JSON names); any other is
	// refused, so that nothing a scenario says is silently dropped.
	params []string
	// needs lists groups of parameters of which at least one must be set:
	// without them the fault would change nothing.
	needs [][]string
	// magnitude is the parameter a ramp scales ("" : the kind cannot ramp).
	magnitude string
}

// faultKinds are the fault kinds of the scenario language. Each drives one
// injector of package faults (or the lab's fake provider).
var faultKinds = map[string]kindSpec{
	"dns_delay":         {attribution.NetworkDNS, []string{"delay", "jitter"}, [][]string{{"delay"}}, "delay"},
	"dns_error":         {attribution.NetworkDNS, []string{"mode", "delay"}, [][]string{{"mode"}}, ""},
	"packet_loss":       {attribution.NetworkEgress, []string{"percent", "direction"}, [][]string{{"percent"}}, "percent"},
	"partition":         {attribution.NetworkEgress, []string{"reject"}, nil, ""},
	"net_delay":         {attribution.NetworkEgress, []string{"delay", "jitter", "direction"}, [][]string{{"delay"}}, "delay"},
	"cpu_throttle":      {attribution.CPUThrottle, []string{"quota_pct"}, [][]string{{"quota_pct"}}, "quota_pct"},
	"cpu_contention":    {attribution.CPUContention, []string{"workers"}, nil, "workers"},          // default: one per CPU of the service
	"memory_pressure":   {attribution.MemoryPressure, []string{"headroom_mb"}, nil, "headroom_mb"}, // default: 192 MiB
	"provider_throttle": {attribution.ProviderThrottle, []string{"rate", "retry_after"}, [][]string{{"rate"}}, "rate"},
	"provider_error":    {attribution.ProviderError, []string{"rate", "status", "reset_rate"}, [][]string{{"rate", "reset_rate"}}, "rate"},
	"provider_stream":   {attribution.ProviderError, []string{"reset_rate", "truncate_rate", "after_chunks"}, [][]string{{"reset_rate", "truncate_rate"}}, ""},
	"provider_latency":  {attribution.ProviderLatency, []string{"delay", "jitter", "token_delay"}, [][]string{{"delay", "token_delay"}}, "delay"},
	"retrieval_slow":    {attribution.RetrievalBackend, []string{"delay", "jitter"}, [][]string{{"delay"}}, "delay"},
	"retrieval_error":   {attribution.RetrievalBackend, []string{"rate", "status"}, [][]string{{"rate"}}, "rate"},
}

// injectorOf names what a fault kind drives: two faults that drive the same
// thing may not overlap (the second would replace the first's plan).
var injectorOf = map[string]string{
	"dns_delay": "dns server", "dns_error": "dns server",
	"provider_throttle": "provider middleware", "provider_error": "provider middleware", "provider_latency": "provider middleware",
	"provider_stream": "provider plan", "retrieval_slow": "retrieval middleware", "retrieval_error": "retrieval middleware",
	"cpu_throttle": "cpu quota", "memory_pressure": "memory cgroup", "net_delay": "packet queue",
}

// checkOverlaps returns an error when two faults that drive the same
// injector overlap in time.
func checkOverlaps(fs []Fault) error {
	for i, a := range fs {
		for j := i + 1; j < len(fs); j++ {
			b := fs[j]
			inj := injectorOf[a.Kind]
			if inj == "" || inj != injectorOf[b.Kind] {
				continue
			}
			if a.Start < b.End && b.Start < a.End {
				return fmt.Errorf("faults %d (%s) and %d (%s) both drive the %s at once", i, a.Kind, j, b.Kind, inj)
			}
		}
	}
	return nil
}

// timelineParams are the parameters every fault takes.
var timelineParams = []string{"kind", "start", "end", "burst", "ramp"}

// setParams returns the JSON names of f's parameters that are set.
func setParams(f Fault) []string {
	b, _ := json.Marshal(f) // a Fault always encodes
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	return slices.Sorted(maps.Keys(m))
}

// checkFault validates one fault against its kind and a load of length
// load: known kind, a window inside the load, only the kind's parameters,
// at least one of each group it needs (no no-op faults), parameters in
// range, and a well-formed burst or ramp.
func checkFault(f Fault, load time.Duration) error {
	spec, ok := faultKinds[f.Kind]
	if !ok {
		return fmt.Errorf("unknown kind %q", f.Kind)
	}
	if f.End <= f.Start {
		return fmt.Errorf("end %v is not after start %v", f.End.D(), f.Start.D())
	}
	if f.End.D() > load {
		return fmt.Errorf("end %v is after the load ends (%v)", f.End.D(), load)
	}
	set := setParams(f)
	for _, p := range set {
		if !slices.Contains(timelineParams, p) && !slices.Contains(spec.params, p) {
			return fmt.Errorf("%s does not take %s (it takes %s)", f.Kind, p, strings.Join(spec.params, ", "))
		}
	}
	for _, group := range spec.needs {
		if !slices.ContainsFunc(group, func(p string) bool { return slices.Contains(set, p) }) {
			return fmt.Errorf("%s without %s changes nothing", f.Kind, strings.Join(group, " or "))
		}
	}
	if err := checkRanges(f); err != nil {
		return err
	}
	return checkShape(f, spec)
}

// checkRanges checks the parameters the schema may not have seen (a
// record's scenarios are not schema-validated).
func checkRanges(f Fault) error {
	switch {
	case f.Percent < 0 || f.Percent > 100:
		return fmt.Errorf("percent %d out of 0..100", f.Percent)
	case f.Rate < 0 || f.Rate > 1, f.ResetRate < 0 || f.ResetRate > 1, f.TruncateRate < 0 || f.TruncateRate > 1:
		return errors.New("rates are shares in 0..1")
	case f.Rate+f.ResetRate > 1:
		return fmt.Errorf("rate %.2f + reset_rate %.2f exceed 1", f.Rate, f.ResetRate)
	case f.Status != 0 && (f.Status < 500 || f.Status > 599):
		return fmt.Errorf("status %d is not a 5xx", f.Status)
	case f.Delay < 0 || f.Jitter < 0 || f.TokenDelay < 0 || f.RetryAfter < 0:
		return errors.New("negative duration")
	case f.QuotaPct < 0, f.Workers < 0, f.HeadroomMB < 0, f.AfterChunks < 0:
		return errors.New("negative count")
	}
	switch f.Mode {
	case "", "servfail", "nxdomain", "drop":
	default:
		return fmt.Errorf("dns mode %q is not servfail, nxdomain or drop", f.Mode)
	}
	switch f.Direction {
	case "", "ingress", "egress", "both":
	default:
		return fmt.Errorf("direction %q is not ingress, egress or both", f.Direction)
	}
	return nil
}

// checkShape checks a fault's burst or ramp.
func checkShape(f Fault, spec kindSpec) error {
	span := f.End.D() - f.Start.D()
	if f.Burst != nil {
		if f.Burst.On <= 0 || f.Burst.Off <= 0 {
			return errors.New("a burst needs on > 0 and off > 0")
		}
		if f.Burst.On.D() >= span {
			return fmt.Errorf("burst on %v is not shorter than the fault (%v)", f.Burst.On.D(), span)
		}
		if f.Ramp != 0 {
			return errors.New("a fault either bursts or ramps, not both")
		}
	}
	if f.Ramp != 0 {
		if spec.magnitude == "" {
			return fmt.Errorf("%s has no magnitude to ramp", f.Kind)
		}
		if f.Ramp < 2 || f.Ramp > 20 {
			return fmt.Errorf("ramp %d: 2 to 20 steps", f.Ramp)
		}
		if !slices.Contains(setParams(f), spec.magnitude) {
			return fmt.Errorf("a ramp of %s needs %s", f.Kind, spec.magnitude)
		}
	}
	return nil
}

// scaled returns f at frac (in (0, 1]) of its magnitude, for a ramp: delays,
// shares and workers scale up; a CFS quota scales down from 100 % of one
// CPU to QuotaPct.
func (f Fault) scaled(frac float64) Fault {
	switch faultKinds[f.Kind].magnitude {
	case "delay":
		f.Delay = Duration(float64(f.Delay) * frac)
	case "percent":
		f.Percent = max(1, int(float64(f.Percent)*frac+0.5))
	case "rate":
		f.Rate *= frac
	case "workers":
		f.Workers = max(1, int(float64(f.Workers)*frac+0.5))
	case "headroom_mb": // less headroom is more pressure
		f.HeadroomMB = int(float64(f.HeadroomMB)/frac + 0.5)
	case "quota_pct":
		f.QuotaPct = int(float64(f.QuotaPct) + (100-float64(f.QuotaPct))*(1-frac) + 0.5)
	}
	return f
}

// Expand returns the scenarios of s's sweep: one per value, with the first
// fault's Field set to it, the name suffixed "@value", the family, the
// magnitude and its level; a scenario without a sweep is returned alone.
func (s *Scenario) Expand() ([]*Scenario, error) {
	if s.Sweep == nil {
		return []*Scenario{s}, nil
	}
	sw := s.Sweep
	if len(s.Faults) == 0 {
		return nil, errors.New("a sweep needs a fault to vary")
	}
	if len(sw.Values) < 2 {
		return nil, errors.New("a sweep needs at least two values")
	}
	spec := faultKinds[s.Faults[0].Kind]
	if !slices.Contains(spec.params, sw.Field) {
		return nil, fmt.Errorf("sweep: %s does not take %s", s.Faults[0].Kind, sw.Field)
	}
	var out []*Scenario
	for i, v := range sw.Values {
		f, label, err := withParam(s.Faults[0], sw.Field, v)
		if err != nil {
			return nil, fmt.Errorf("sweep value %v: %w", v, err)
		}
		if err := checkFault(f, s.Load.Duration.D()); err != nil {
			return nil, fmt.Errorf("sweep value %s: %w", label, err)
		}
		c := *s
		c.Faults = append([]Fault{f}, s.Faults[1:]...)
		c.Name, c.Magnitude, c.Level, c.Sweep = s.Name+"@"+label, label, i, nil
		c.Seed = s.Seed*100 + uint64(i)
		if c.Family == "" {
			c.Family = s.Name
		}
		out = append(out, &c)
	}
	return out, nil
}

// withParam returns f with the parameter named field set to v (as JSON
// gives it) and v's label.
func withParam(f Fault, field string, v any) (Fault, string, error) {
	b, _ := json.Marshal(f)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m[field] = v
	b, err := json.Marshal(m)
	if err != nil {
		return f, "", err
	}
	var out Fault
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return f, "", err
	}
	return out, fmt.Sprint(v), nil
}
