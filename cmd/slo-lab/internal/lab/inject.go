package lab

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/providertest"
)

// builder makes the injector of one fault (a ramp makes one per step).
type builder func(f Fault) faults.Injector

// builders returns, per fault of sc, the function that builds its injector
// for repetition rep against the service target svc, or why the faults
// cannot run here.
func (e *Env) builders(sc *Scenario, rep int, svc *serviceTarget) ([]builder, string) {
	seed := sc.Seed*1000 + uint64(rep)
	out := make([]builder, 0, len(sc.Faults))
	for i, f := range sc.Faults {
		b, reason := e.builder(f.Kind, seed+uint64(i)*7919, sc.Workload, svc)
		if reason != "" {
			return nil, reason
		}
		out = append(out, b)
	}
	return out, ""
}

// builder returns the injector builder of one fault kind.
func (e *Env) builder(kind string, seed uint64, w Workload, svc *serviceTarget) (builder, string) {
	switch kind {
	case "dns_delay", "dns_error":
		return func(f Fault) faults.Injector {
			return faults.DNSFault{Server: e.DNS, Delay: f.Delay.D(), Jitter: f.Jitter.D(), Mode: dnsMode(f.Mode)}
		}, ""
	case "packet_loss", "partition", "net_delay":
		return e.netBuilder(kind)
	case "cpu_throttle", "cpu_contention", "memory_pressure":
		return svc.builder(kind)
	case "provider_throttle", "provider_error", "provider_latency":
		return func(f Fault) faults.Injector {
			return faults.ProviderFault{Faults: e.ProvFault, Plan: faults.ProviderPlan{
				ThrottleRate: throttleRate(f), RetryAfter: f.RetryAfter.D(),
				ErrorRate: errorRate(f), ErrorStatus: f.Status, ResetRate: f.ResetRate,
				PrefillDelay: f.Delay.D(), Jitter: f.Jitter.D(), TokenDelay: f.TokenDelay.D(), Seed: seed}}
		}, ""
	case "provider_stream":
		return func(f Fault) faults.Injector { return e.streamFault(f, w, seed) }, ""
	case "retrieval_slow", "retrieval_error":
		return func(f Fault) faults.Injector {
			return faults.RetrievalFault{Backend: e.RetrFault, Plan: faults.RetrievalPlan{
				Delay: f.Delay.D(), Jitter: f.Jitter.D(), ErrorRate: errorRate(f), ErrorStatus: f.Status, Seed: seed}}
		}, ""
	}
	return nil, "unknown fault kind " + kind
}

// throttleRate and errorRate split the rate parameter by kind.
func throttleRate(f Fault) float64 {
	if f.Kind == "provider_throttle" {
		return f.Rate
	}
	return 0
}

func errorRate(f Fault) float64 {
	if f.Kind == "provider_error" || f.Kind == "retrieval_error" {
		return f.Rate
	}
	return 0
}

func dnsMode(m string) faults.DNSMode {
	switch m {
	case "servfail":
		return faults.DNSServFail
	case "nxdomain":
		return faults.DNSNXDomain
	case "drop":
		return faults.DNSDrop
	}
	return faults.DNSAnswer
}

// netBuilder builds the faults on the provider's network namespace.
func (e *Env) netBuilder(kind string) (builder, string) {
	if e.NS == nil {
		return nil, kind + " needs a network namespace (root)"
	}
	switch kind {
	case "partition":
		return func(f Fault) faults.Injector {
			return faults.Partition{NS: e.NS, Port: e.ProviderPort, Reject: f.Reject}
		}, ""
	case "net_delay":
		return func(f Fault) faults.Injector {
			return faults.NetDelay{NS: e.NS, Port: e.ProviderPort, Delay: f.Delay.D(), Jitter: f.Jitter.D(), Direction: directions[f.Direction]}
		}, ""
	}
	return func(f Fault) faults.Injector {
		return faults.PacketLoss{NS: e.NS, Port: e.ProviderPort, Percent: f.Percent, Direction: directions[f.Direction]}
	}, ""
}

// directions maps a fault's direction to the injectors'; absent (or
// "ingress") is faults.Ingress, the zero value.
var directions = map[string]faults.Direction{"egress": faults.Egress, "both": faults.Both}

// streamFault makes the fake provider break a share of its streams after
// f.AfterChunks output chunks: reset (the connection aborted) or truncated
// (ended without finish reason and usage). Undo restores the healthy plan.
func (e *Env) streamFault(f Fault, w Workload, seed uint64) faults.Injector {
	return faults.InjectorFunc(func(context.Context) (func() error, error) {
		healthy := healthyResponse(w)
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
		e.Provider.SetPlan(func(*providertest.Request) providertest.Response {
			mu.Lock()
			u := rng.Float64()
			mu.Unlock()
			r := healthy
			switch {
			case u < f.ResetRate:
				r.ResetAfter = max(1, f.AfterChunks)
			case u < f.ResetRate+f.TruncateRate:
				r.Truncate = true
				r.Chunks = min(max(1, f.AfterChunks), r.Chunks)
			}
			return r
		})
		var once sync.Once
		return func() error {
			once.Do(func() { e.Provider.SetPlan(providertest.Always(healthy)) })
			return nil
		}, nil
	})
}

// healthyResponse is the fake provider's answer under workload w.
func healthyResponse(w Workload) providertest.Response {
	return providertest.Response{Prefill: w.Prefill.D(), Gap: w.Gap.D(), Chunks: w.Chunks}
}

// step is one interval of a fault's timeline, with the fault as injected
// during it (a ramp's steps carry a growing magnitude).
type step struct {
	from, to time.Duration
	f        Fault
}

// steps returns the intervals during which f is in effect, relative to the
// start of load: one for a plain fault, on-intervals for a burst, the
// steps of a ramp.
func (f Fault) steps() []step {
	from, to := f.Start.D(), f.End.D()
	switch {
	case f.Burst != nil:
		var out []step
		for t := from; t < to; t += f.Burst.On.D() + f.Burst.Off.D() {
			out = append(out, step{t, min(t+f.Burst.On.D(), to), f})
		}
		return out
	case f.Ramp > 1:
		out := make([]step, f.Ramp)
		span := (to - from) / time.Duration(f.Ramp)
		for i := range out {
			out[i] = step{from + time.Duration(i)*span, from + time.Duration(i+1)*span, f.scaled(float64(i+1) / float64(f.Ramp))}
		}
		out[len(out)-1].to = to
		return out
	}
	return []step{{from, to, f}}
}
