package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/llmslo/slo/faults"
)

// appFault is one fault rag-service can inject by name.
type appFault struct {
	name, plan string
	needsFake  bool // acts on the embedded fake provider
	// injector returns the fault's injector; rate, when above 0, replaces
	// the share of calls a rated fault (rated) acts on.
	injector func(a *app, rate float64) faults.Injector
	rated    bool
}

// or returns rate when it is above 0, def otherwise.
func or(rate, def float64) float64 {
	if rate > 0 {
		return rate
	}
	return def
}

// appFaults are the application-level faults (no privilege needed), named
// after the fault domain they should be attributed to.
var appFaults = []appFault{
	{"provider_throttle", "30% of provider calls answered 429 with Retry-After: 1", true, func(a *app, rate float64) faults.Injector {
		return faults.ProviderFault{Faults: a.provFaults, Plan: faults.ProviderPlan{ThrottleRate: or(rate, 0.3), RetryAfter: time.Second, Seed: 1}}
	}, true},
	{"provider_error", "20% of provider calls answered 503", true, func(a *app, rate float64) faults.Injector {
		return faults.ProviderFault{Faults: a.provFaults, Plan: faults.ProviderPlan{ErrorRate: or(rate, 0.2), ErrorStatus: http.StatusServiceUnavailable, Seed: 2}}
	}, true},
	{"provider_latency", "provider prefill +600-800 ms, +45 ms per token", true, func(a *app, _ float64) faults.Injector {
		return faults.ProviderFault{Faults: a.provFaults, Plan: faults.ProviderPlan{PrefillDelay: 600 * time.Millisecond,
			Jitter: 200 * time.Millisecond, TokenDelay: 45 * time.Millisecond, Seed: 3}}
	}, false},
	{"slow_retrieval", "vector store +600-700 ms per search", false, func(a *app, _ float64) faults.Injector {
		return faults.RetrievalFault{Backend: a.retrFaults, Plan: faults.RetrievalPlan{Delay: 600 * time.Millisecond,
			Jitter: 100 * time.Millisecond, Seed: 4}}
	}, false},
}

// kernelFaults are faults/ injectors that act on the kernel (namespaces,
// nftables, cgroups); rag-service does not inject them.
var kernelFaults = []string{"network_dns", "dns_delay", "network_egress", "packet_loss", "partition",
	"cpu_throttle", "cpu_contention", "memory_pressure"}

func faultNames() string {
	var names []string
	for _, f := range appFaults {
		names = append(names, f.name)
	}
	return strings.Join(names, ", ")
}

// errKernelFault is returned for the kernel-level fault names.
var errKernelFault = errors.New("kernel-level fault")

// lookupFault returns the named application-level fault, or an error that
// explains why rag-service does not inject it.
func lookupFault(name string) (appFault, error) {
	i := slices.IndexFunc(appFaults, func(f appFault) bool { return f.name == name })
	if i >= 0 {
		return appFaults[i], nil
	}
	if slices.Contains(kernelFaults, name) {
		why := "it needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and runs in the incident lab, not in rag-service"
		if os.Geteuid() == 0 {
			why = "rag-service injects only application-level faults; kernel faults run in the incident lab (faults/), around a network namespace or cgroup of their own"
		}
		return appFault{}, fmt.Errorf("%w %q: %s; application-level faults: %s", errKernelFault, name, why, faultNames())
	}
	return appFault{}, fmt.Errorf("unknown fault %q; application-level faults: %s", name, faultNames())
}

// injectFault starts the named fault, replacing the active one.
func (a *app) injectFault(ctx context.Context, name string) error {
	return a.injectFaultRate(ctx, name, 0)
}

// injectFaultRate is injectFault with the share of calls a rated fault
// acts on (0: its default).
func (a *app) injectFaultRate(ctx context.Context, name string, rate float64) error {
	f, err := lookupFault(name)
	if err != nil {
		return err
	}
	plan := f.plan
	switch {
	case rate < 0 || rate > 1:
		return fmt.Errorf("fault %q: rate %v is not a share in (0, 1]", name, rate)
	case rate > 0 && !f.rated:
		return fmt.Errorf("fault %q takes no rate", name)
	case rate > 0:
		plan = fmt.Sprintf("%s; here %g%% of calls", plan, 100*rate)
	}
	if f.needsFake && a.up.Kind != "fake" {
		return fmt.Errorf("fault %q acts on the embedded fake provider, and the upstream is %s (%s)", name, a.up.Kind, a.up.BaseURL)
	}
	a.clearFault()
	undo, err := f.injector(a, rate).Inject(ctx)
	if err != nil {
		return fmt.Errorf("inject %s: %w", name, err)
	}
	a.faultMu.Lock()
	a.fault = activeFault{Name: name, Since: time.Now().UTC(), Plan: plan, undo: undo}
	a.faultMu.Unlock()
	a.log.Warn("fault injected", "fault", name, "plan", plan)
	return nil
}

// clearFault stops the active fault, if any.
func (a *app) clearFault() {
	a.faultMu.Lock()
	f := a.fault
	a.fault = activeFault{}
	a.faultMu.Unlock()
	if f.undo != nil {
		if err := f.undo(); err != nil {
			a.log.Error("undo fault", "fault", f.Name, "err", err)
		} else {
			a.log.Info("fault cleared", "fault", f.Name)
		}
	}
}

// faultAPI serves POST /api/fault {"name": "provider_throttle"} (inject;
// provider_throttle and provider_error take an optional "rate", the share
// of provider calls they act on) and DELETE /api/fault (clear).
func (a *app) faultAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodDelete {
		a.clearFault()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var in struct {
		Name string  `json:"name"`
		Rate float64 `json:"rate"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || in.Name == "" {
		http.Error(w, `want {"name": "`+faultNames()+`"}`, http.StatusBadRequest)
		return
	}
	if err := a.injectFaultRate(r.Context(), in.Name, in.Rate); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errKernelFault) {
			status = http.StatusForbidden
		}
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	a.faultMu.Lock()
	_ = json.NewEncoder(w).Encode(a.fault)
	a.faultMu.Unlock()
}
