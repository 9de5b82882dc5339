package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	slo "github.com/llmslo/slo"
	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/incident"
	"github.com/llmslo/slo/internal/providertest"
	"github.com/llmslo/slo/probes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Sample is one bad request of a run with its true label.
type Sample struct {
	// Obs is the evidence as excess over the run's healthy baselines (what
	// the tracker attributes).
	Obs attribution.Observation
	// Truth is the injected domain (Unknown outside any fault window and in
	// fault-free runs). In a multi-fault window it is the first fault's domain.
	Truth attribution.Domain
	// InFault reports the request started while a fault was active.
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
	// Kernel is the tracker's probe status line at the end of the run.
	Kernel string `json:"kernel"`
	// ForeignCores is how many CPUs other processes kept busy during the
	// run, on average; Repeats how many earlier attempts were discarded
	// because that exceeded busyCores.
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

// RunOnce runs one repetition of sc against env.
func RunOnce(ctx context.Context, env *Env, sc *Scenario, rep int, model *attribution.Model) (res RunResult, err error) {
	res = RunResult{Scenario: sc.Name, Rep: rep}
	svc := env.target()
	builders, reason := env.builders(sc, rep, svc)
	if reason != "" {
		res.Skipped = reason
		return res, nil
	}
	env.reset(sc.Workload)
	store := &recordStore{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr, err := env.newTracker(sc.Workload, tp, store, &res, model)
	if err != nil {
		return res, err
	}
	trClosed := false
	defer func() {
		if !trClosed {
			_ = tr.Close()
		}
	}()
	defer env.serveApp(tr, sc.Workload)()

	res.Start = time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	tl := &timeline{res: &res}
	for i, f := range sc.Faults {
		tl.wg.Add(1)
		go tl.play(runCtx, i, f, builders[i])
	}
	res.Requests = load(runCtx, env.AppURL, sc.Load.RPS, sc.Load.Duration.D(), 5*time.Second)
	cancel()
	tl.finish()
	env.current.Store(nil)
	res.Kernel = kernelLine(tr)
	trClosed = true
	_ = tr.Close()
	_ = tp.ForceFlush(context.Background())

	res.label(store.requests(), sc)
	return res, nil
}

// reset gives the shared workload the healthy behaviour w and clears the
// faults of the previous run.
func (e *Env) reset(w Workload) {
	e.Provider.SetPlan(providertest.Always(healthyResponse(w)))
	e.retrDelay.Store(int64(w.Retrieval.D()))
	e.ProvFault.Set(faults.ProviderPlan{})
	e.RetrFault.Set(faults.RetrievalPlan{})
}

// newTracker starts the run's tracker (the workload's TTFT objective, the
// lab's probes, its requests' records kept in store, its incidents recorded
// into res) and waits for its probes to load or fail, so every run sees the
// same signals.
func (e *Env) newTracker(w Workload, tp *sdktrace.TracerProvider, store *recordStore, res *RunResult, model *attribution.Model) (*slo.Tracker, error) {
	var incMu sync.Mutex
	sink := incident.SinkFunc(func(_ context.Context, inc incident.Incident) error {
		incMu.Lock()
		res.Incidents = append(res.Incidents, IncidentRec{At: inc.Time, Severity: inc.Severity, Domain: inc.PredictedFaultDomain})
		incMu.Unlock()
		return nil
	})
	pcfg := probes.Config{DNSPorts: []uint16{e.DNS.Addr().Port()}, CgroupPath: e.CPUCgroup, PollInterval: 200 * time.Millisecond}
	tr, err := slo.New(
		slo.WithService("lab"),
		slo.WithTracerProvider(tp),
		slo.WithRequestRecords(store.add),
		slo.WithObjectives(slo.TTFT(w.TTFTThreshold.D(), 0.99).Named("ttft")),
		slo.WithIncidentSink(sink),
		slo.WithAttributionModel(model),
		slo.WithProbes(pcfg),
		slo.WithErrorHandler(func(error) {}),
	)
	if err != nil {
		return nil, fmt.Errorf("lab: tracker: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		starting := false
		for _, s := range tr.KernelStatus() {
			starting = starting || s.Path == "starting"
		}
		if !starting {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return tr, nil
}

// serveApp makes the service's listener serve the workload w instrumented
// by tr, with its own provider and retrieval clients; stop undoes it.
func (e *Env) serveApp(tr *slo.Tracker, w Workload) (stop func()) {
	dialer := &net.Dialer{Resolver: e.DNS.Resolver(), Timeout: 3 * time.Second}
	provBase := &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true, ResponseHeaderTimeout: 10 * time.Second}
	retrBase := &http.Transport{MaxIdleConnsPerHost: 32}
	a := &app{
		prov:    &http.Client{Transport: tr.Transport(provBase, slo.WithProviderName("openai")), Timeout: 15 * time.Second},
		retr:    &http.Client{Transport: tr.Transport(retrBase, slo.Retrieval()), Timeout: 10 * time.Second},
		provURL: e.ProviderURL, retrURL: e.RetrievalURL,
		mem:     newBuffers(w.AllocMB, w.FreshMemory),
		work:    int(w.CPUWork.D().Milliseconds()) * e.workPerMs,
		retries: w.Retries,
	}
	var h http.Handler = tr.Instrument(a)
	e.current.Store(&h)
	return func() {
		e.current.Store(nil)
		retrBase.CloseIdleConnections()
		provBase.CloseIdleConnections()
	}
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

// label turns the run's requests into samples: the baselines learn from
// good requests outside the fault windows (as the tracker learns from good
// requests), each bad request becomes a sample labelled with the fault that
// was active when it started.
func (res *RunResult) label(reqs []Req, sc *Scenario) {
	var base attribution.Baseline
	faulty := !res.FaultAt.IsZero()
	var truth attribution.Domain
	if ds := sc.Domains(); len(ds) > 0 {
		truth = ds[0]
	}
	for _, r := range reqs {
		if !r.Judged {
			continue
		}
		in := faulty && !r.Start.Before(res.FaultAt) && !r.Start.After(res.FaultEnd)
		settling := faulty && r.Start.After(res.FaultEnd) && r.Start.Before(res.FaultEnd.Add(settle))
		if !in && !settling && r.TTFTMs > 0 {
			res.HealthyTTFT = append(res.HealthyTTFT, r.TTFTMs)
		}
		if r.Good {
			base.Observe(r.Obs)
			continue
		}
		res.Bad++
		if settling {
			continue
		}
		s := Sample{Obs: base.Excess(r.Obs), InFault: in}
		if in {
			s.Truth = truth
		}
		res.Samples = append(res.Samples, s)
	}
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
