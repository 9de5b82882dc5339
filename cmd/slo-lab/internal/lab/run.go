package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	slo "github.com/llmslo/slo"
	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/providertest"
)

// Sample is one bad request of a run with its true label.
type Sample struct {
	// Obs is the evidence as excess over the run's healthy baselines (what
	// the tracker attributes).
	Obs attribution.Observation
	// Truth is the domain of the fault that was in effect while the request
	// was in flight (Unknown when none was); with several, the first in the
	// scenario's order, and Truths holds them all.
	Truth  attribution.Domain
	Truths []attribution.Domain
	// InFault reports that a fault was in effect while the request was in
	// flight.
	InFault bool
}

// Window is an interval during which fault Fault (its index in the
// scenario) was in effect: from its injection to its undo.
type Window struct {
	Fault int       `json:"fault"`
	At    time.Time `json:"at"`
	End   time.Time `json:"end"`
}

// IncidentRec is an incident the run's tracker raised.
type IncidentRec struct {
	At       time.Time `json:"at"`
	Severity string    `json:"severity"`
	Domain   string    `json:"predicted_fault_domain"`
	// Objective names the objective (detection runs, several objectives).
	Objective string `json:"objective,omitempty"`
}

// RunResult is the outcome of one repetition of a scenario.
type RunResult struct {
	Scenario string `json:"scenario"`
	Rep      int    `json:"rep"`
	// Skipped is set (with the reason) when the run could not inject its
	// faults here (no privilege, no namespace).
	Skipped  string    `json:"skipped,omitempty"`
	Start    time.Time `json:"start"`    // load start
	FaultAt  time.Time `json:"fault_at"` // the first fault's actual injection; zero when none
	FaultEnd time.Time `json:"fault_end"`
	Requests int       `json:"requests"`
	Bad      int       `json:"bad"`
	// Windows are the intervals during which each fault was in effect
	// (one per injection: a burst or a ramp has several).
	Windows   []Window      `json:"windows,omitempty"`
	Samples   []Sample      `json:"samples"`
	Incidents []IncidentRec `json:"incidents"`
	Errors    []string      `json:"errors,omitempty"`
	// TTFTs of the judged requests outside the fault windows, ms.
	HealthyTTFT []float64 `json:"healthy_ttft_ms"`
	// Healthy counts the judged requests no fault overlapped, HealthyBad
	// those of them that missed an objective; Rejected says why the run is
	// not scored (too many healthy requests missed).
	Healthy    int    `json:"healthy"`
	HealthyBad int    `json:"healthy_bad"`
	Rejected   string `json:"rejected,omitempty"`
	// Kernel is the tracker's probe status line at the end of the run.
	Kernel string `json:"kernel"`
	// ForeignCores is how many CPUs other processes kept busy during the
	// run, on average; Repeats how many earlier attempts were discarded
	// because that exceeded busyCores or they were rejected.
	ForeignCores float64 `json:"foreign_cores"`
	Repeats      int     `json:"repeats"`
}

// FirstPage returns the first page incident at or after from, and whether
// there is one.
func (r *RunResult) FirstPage(from time.Time) (IncidentRec, bool) {
	for _, in := range r.Incidents {
		if in.Severity == "page" && !in.At.Before(from) {
			return in, true
		}
	}
	return IncidentRec{}, false
}

// settle is the time after a fault ends during which requests are neither
// labelled with the fault nor counted as healthy.
const settle = time.Second

// warmUp is how long the lab sends healthy requests to a new service
// before a run starts: its connections, heap and baselines are warm, as in
// a service that has been running (they are not reported).
const warmUp = time.Second

// RunOnce runs one repetition of sc against env: a new service process
// with the objectives' thresholds cal gives, warmed up, then the load and
// the faults' timeline.
func RunOnce(ctx context.Context, env *Env, sc *Scenario, rep int, cal Thresholds) (res RunResult, err error) {
	res = RunResult{Scenario: sc.Name, Rep: rep}
	svc, err := env.startService(ctx, env.serviceConfig(sc.Workload, cal))
	if err != nil {
		return res, err
	}
	defer svc.kill()
	builders, reason := env.builders(sc, rep, env.target(svc.pid()))
	if reason != "" {
		res.Skipped = reason
		return res, nil
	}
	env.reset(sc.Workload)
	load(ctx, svc.url, sc.Load.RPS, warmUp, 5*time.Second)
	if res.Start, err = svc.begin(); err != nil {
		return res, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	tl := &timeline{res: &res}
	for i, f := range sc.Faults {
		tl.wg.Add(1)
		go tl.play(runCtx, i, f, builders[i])
	}
	res.Requests = load(runCtx, svc.url, sc.Load.RPS, sc.Load.Duration.D(), 5*time.Second)
	cancel()
	tl.finish()
	out, err := svc.stop(ctx)
	if err != nil {
		return res, err
	}
	res.Kernel, res.Incidents = out.Kernel, out.Incidents
	res.label(out.Requests, sc)
	return res, nil
}

// serviceConfig is the configuration of a service running workload w with
// thresholds cal.
func (e *Env) serviceConfig(w Workload, cal Thresholds) serviceConfig {
	cfg := serviceConfig{Workload: w, TTFT: cal.TTFT, TPOT: cal.TPOT, ProviderURL: e.ProviderURL,
		RetrievalURL: e.RetrievalURL, DNS: e.DNS.Addr().String(), WorkPerMs: e.workPerMs}
	if e.cgroups != nil {
		cfg.CPUCgroup = e.cgroups.dirs["cpu"]
	}
	return cfg
}

// reset gives the shared workload the healthy behaviour w and clears the
// faults of the previous run.
func (e *Env) reset(w Workload) {
	e.Provider.SetPlan(providertest.Always(healthyResponse(w)))
	e.retrDelay.Store(int64(w.Retrieval.D()))
	e.ProvFault.Set(faults.ProviderPlan{})
	e.RetrFault.Set(faults.RetrievalPlan{})
}

// timeline plays a run's faults: each step of each fault injected at its
// start and undone at its end, relative to res.Start; it records into res
// every window a fault was in effect, when the first took effect, when the
// last ended, and what failed.
type timeline struct {
	res   *RunResult
	wg    sync.WaitGroup
	mu    sync.Mutex
	undos []func() error
}

// play injects the steps of fault i (f, built by b) one after the other
// and undoes each at its end (or when ctx ends); the caller has added it
// to wg.
func (tl *timeline) play(ctx context.Context, i int, f Fault, b builder) {
	defer tl.wg.Done()
	for _, st := range f.steps() {
		if !sleepUntil(ctx, tl.res.Start.Add(st.from)) {
			return
		}
		undo, err := b(st.f).Inject(ctx)
		at := time.Now()
		if !tl.injected(f, undo, err, at) {
			continue
		}
		sleepUntil(ctx, tl.res.Start.Add(st.to))
		tl.undone(i, f, at, undo())
	}
}

func (tl *timeline) injected(f Fault, undo func() error, err error, at time.Time) bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	res := tl.res
	if err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("inject %s: %v", f.Kind, err))
		return false
	}
	if res.FaultAt.IsZero() || at.Before(res.FaultAt) {
		res.FaultAt = at
	}
	tl.undos = append(tl.undos, undo)
	return true
}

// undone records the window [at, now] of fault i and any undo error.
func (tl *timeline) undone(i int, f Fault, at time.Time, err error) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	res := tl.res
	if err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("undo %s: %v", f.Kind, err))
	}
	end := time.Now()
	res.Windows = append(res.Windows, Window{Fault: i, At: at, End: end})
	if end.After(res.FaultEnd) {
		res.FaultEnd = end
	}
}

// finish waits for every fault to end and undoes each once more (undos are
// idempotent: normally already undone).
func (tl *timeline) finish() {
	tl.wg.Wait()
	for _, u := range tl.undos {
		if err := u(); err != nil {
			tl.res.Errors = append(tl.res.Errors, "undo: "+err.Error())
		}
	}
	slices.SortStableFunc(tl.res.Windows, func(a, b Window) int { return a.At.Compare(b.At) })
}

func kernelLine(tr *slo.Tracker) string {
	var parts []string
	for _, s := range tr.KernelStatus() {
		parts = append(parts, s.Signal+"="+s.Path+"/"+s.State)
	}
	return strings.Join(parts, " ")
}

// label turns the run's requests into samples. A request's truth is the
// set of domains whose faults were in effect at any time while it was in
// flight (a request in flight when a fault began counts too); requests that
// start within settle of a fault's end are left out (neither labelled nor
// healthy). The baselines learn from good requests, as the tracker's do;
// every bad request becomes a sample. Healthy requests (no fault overlapped
// them) give the run's healthy TTFTs and the share of them that missed an
// objective: above MaxHealthyBad the run is rejected (unless its TTFT
// objective is tight on purpose).
func (res *RunResult) label(reqs []Req, sc *Scenario) {
	var base attribution.Baseline
	healthy, healthyBad := 0, 0
	for _, r := range reqs {
		if !r.Judged {
			continue
		}
		truths, settling := res.overlap(r, sc)
		if len(truths) == 0 && !settling {
			healthy++
			if !r.Good {
				healthyBad++
			}
			if r.TTFTMs > 0 {
				res.HealthyTTFT = append(res.HealthyTTFT, r.TTFTMs)
			}
		}
		if r.Good {
			base.Observe(r.Obs)
			continue
		}
		res.Bad++
		if settling {
			continue
		}
		s := Sample{Obs: base.Excess(r.Obs), InFault: len(truths) > 0}
		if len(truths) > 0 {
			s.Truth = truths[0]
		}
		if len(truths) > 1 {
			s.Truths = truths
		}
		res.Samples = append(res.Samples, s)
	}
	res.Healthy, res.HealthyBad = healthy, healthyBad
	if healthy > 0 && float64(healthyBad) > MaxHealthyBad*float64(healthy) && !sc.Workload.TightTTFT {
		res.Rejected = fmt.Sprintf("%d of %d healthy requests missed an objective (> %.0f %%)", healthyBad, healthy, 100*MaxHealthyBad)
	}
}

// overlap returns the domains (in timeline order) of the faults in effect
// while r was in flight, and whether r started while the effects of a
// fault that had ended may linger (within settle of its end).
func (res *RunResult) overlap(r Req, sc *Scenario) (truths []attribution.Domain, settling bool) {
	for _, w := range res.Windows {
		if w.Fault < 0 || w.Fault >= len(sc.Faults) {
			continue
		}
		switch {
		case !w.At.After(r.End) && w.End.After(r.Start):
			if d := sc.Faults[w.Fault].Domain(); !slices.Contains(truths, d) {
				truths = append(truths, d)
			}
		case !r.Start.Before(w.End) && r.Start.Before(w.End.Add(settle)):
			settling = true
		}
	}
	order := sc.Domains()
	slices.SortFunc(truths, func(a, b attribution.Domain) int { return slices.Index(order, a) - slices.Index(order, b) })
	return truths, settling && len(truths) == 0
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
