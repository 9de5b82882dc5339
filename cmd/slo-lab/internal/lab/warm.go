package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	slo "github.com/llmslo/slo"
	"github.com/llmslo/slo/internal/burn"
)

// warmHistory is the steady-state history a warm tracker starts with: the
// longest alert window (3d), so that every window of every rule is covered.
const warmHistory = 72 * time.Hour

// detectTargets are the targets of the detection runs' two TTFT objectives.
var detectTargets = []float64{0.99, 0.999}

// DetectRun is one warm-start detection run.
type DetectRun struct {
	Scenario string    `json:"scenario"`
	Rep      int       `json:"rep"`
	Skipped  string    `json:"skipped,omitempty"`
	Start    time.Time `json:"start"`
	FaultAt  time.Time `json:"fault_at"` // zero in a fault-free run
	FaultEnd time.Time `json:"fault_end"`
	End      time.Time `json:"end"`
	Requests int       `json:"requests"`
	// Threshold is the TTFT objectives' threshold.
	Threshold Duration `json:"ttft_threshold"`
	// Objectives are the results per objective, in detectTargets order.
	Objectives []DetectObjective `json:"objectives"`
	Errors     []string          `json:"errors,omitempty"`
}

// DetectObjective is what one objective of a detection run did.
type DetectObjective struct {
	Target float64 `json:"target"`
	// Judged and Bad count the requests judged during the fault.
	Judged int `json:"judged_in_fault"`
	Bad    int `json:"bad_in_fault"`
	// Arithmetic is the first instant at which a page rule held over the
	// exact windows (steady-state history plus the run's judged requests);
	// zero when it never did during the run.
	Arithmetic time.Time `json:"arithmetic"`
	// Page is the first page at or after the fault start; zero for none.
	Page time.Time `json:"page"`
	// Pages counts every page of the run (before the fault too).
	Pages int `json:"pages"`
}

// writeWarmState writes a state file, as slo.WithStateFile writes it, whose
// objectives hold warmHistory of steady-state history ending at end: rps
// requests a second, all good, in every window (internal/burn's Seed, one
// bucket at a time), no rule holding.
func writeWarmState(path string, objs []slo.Objective, rps float64, end time.Time) error {
	from := end.Add(-warmHistory)
	st := burn.State{SavedAt: end, Period: burn.DefaultPeriod}
	ws := []time.Duration{burn.DefaultPeriod}
	for _, w := range burn.StandardWindows() {
		ws = append(ws, w.Dur)
	}
	for _, o := range objs {
		s, err := burn.NewSeries(o.Target(), 0)
		if err != nil {
			return err
		}
		s.Start(from)
		for _, w := range ws {
			g, _ := s.Grid(end, w)
			counts := make([]burn.Count, g.N)
			for i := range counts {
				lo, hi := maxTime(g.End(i).Add(-g.Width), from), minTime(g.End(i), end)
				if hi.After(lo) {
					n := int64(math.Round(rps * hi.Sub(lo).Seconds()))
					counts[i] = burn.Count{Good: n, Total: n}
				}
			}
			if err := s.Seed(end, w, counts, from); err != nil {
				return err
			}
		}
		al, err := burn.NewAlerter(s, nil, burn.DefaultGate())
		if err != nil {
			return err
		}
		st.Entries = append(st.Entries, burn.Capture(o.Name(), s, al, end))
	}
	b, err := st.AppendBinary(nil)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// DetectOnce runs repetition rep of sc from a warm start: a service whose
// tracker judges a TTFT objective (threshold th.TTFT) at 99 % and one at
// 99.9 %, restored from a state file holding three days of steady-state
// history (at the scenario's request rate, all good) written just before;
// the scenario's first fault from its start until every objective that can
// page within maxFault paged (see stopWhenPaged), or maxFault. A fault-free
// run lasts maxFault, at most 3 minutes.
func DetectOnce(ctx context.Context, env *Env, sc *Scenario, rep int, th Thresholds, maxFault time.Duration) (DetectRun, error) {
	res := DetectRun{Scenario: sc.Name, Rep: rep, Threshold: th.TTFT}
	dir, err := os.MkdirTemp("", "slo-lab-warm-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	cfg := env.serviceConfig(sc.Workload, th)
	cfg.Warm = &warmConfig{StateFile: filepath.Join(dir, "slo.state")}
	objs := detectObjectives(th.TTFT.D())
	hist := history{rate: sc.Load.RPS, to: time.Now()}
	hist.from = hist.to.Add(-warmHistory)
	if err := writeWarmState(cfg.Warm.StateFile, objs, sc.Load.RPS, hist.to); err != nil {
		return res, fmt.Errorf("lab: warm state: %w", err)
	}
	svc, err := env.startService(ctx, cfg)
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
	if _, err := svc.begin(); err != nil { // the scenario's time before its fault is the warm-up
		return res, err
	}
	rr := playDetect(ctx, svc, sc, builders, objs, maxFault, &res)
	out, err := svc.stop(ctx)
	if err != nil {
		return res, err
	}
	res.End = time.Now()
	res.FaultAt, res.FaultEnd, res.Errors = rr.FaultAt, rr.FaultEnd, rr.Errors
	if len(sc.Faults) > 0 && res.FaultAt.IsZero() { // not a fault-free run either
		res.Skipped = "the fault was not injected"
	}
	res.judge(out.Requests, out.Incidents, hist, objs)
	return res.wallClock(), nil
}

// playDetect drives the load of a detection run against svc and plays the
// scenario's first fault (built by builders[0]) from its start for at most
// maxFault, ending the run 2 s after every objective that can page has
// paged; it returns the fault's timeline.
func playDetect(ctx context.Context, svc *serviceProc, sc *Scenario, builders []builder, objs []slo.Objective, maxFault time.Duration, res *DetectRun) *RunResult {
	res.Start = time.Now()
	rr := &RunResult{Start: res.Start}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	length := min(maxFault, 3*time.Minute)
	tl := &timeline{res: rr}
	if len(sc.Faults) > 0 {
		f := sc.Faults[0]
		f.End = Duration(f.Start.D() + maxFault)
		length = f.End.D() + 2*time.Second
		tl.wg.Add(1)
		go tl.play(runCtx, 0, f, builders[0])
		go stopWhenPaged(runCtx, cancel, svc, objs, maxFault, tl)
	}
	res.Requests = load(runCtx, svc.url, sc.Load.RPS, length, 5*time.Second)
	cancel()
	tl.finish()
	return rr
}

// stopWhenPaged cancels the run 2 s after every objective that can page
// within maxFault has paged since the fault started (the service says which
// did, see detectHandler). From 10 s into the fault, an objective counts as
// unable to when its fast rule's closed-form arithmetic, 1h × (1 − target)
// × 14.4 / f with f the bad share of the requests judged so far in the
// fault, exceeds maxFault.
func stopWhenPaged(ctx context.Context, cancel context.CancelFunc, svc *serviceProc, objs []slo.Objective, maxFault time.Duration, tl *timeline) {
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	base := strings.TrimSuffix(svc.url, "/v1/chat/completions")
	for ; ctx.Err() == nil; sleepUntil(ctx, time.Now().Add(500*time.Millisecond)) {
		tl.mu.Lock()
		at := tl.res.FaultAt
		tl.mu.Unlock()
		if at.IsZero() {
			continue
		}
		p, err := progress(ctx, client, base, at)
		if err != nil {
			continue // the run ends at maxFault anyway
		}
		share := -1.0 // not known for the first 10 s
		if time.Since(at) >= 10*time.Second && p.Judged > 0 {
			share = float64(p.Bad) / float64(p.Judged)
		}
		waiting := false
		for _, o := range objs {
			can := share < 0
			if share > 0 {
				can = closedForm(o.Target(), share) <= maxFault.Seconds()
			}
			waiting = waiting || (!slices.Contains(p.Paged, o.Name()) && can)
		}
		if !waiting {
			sleepUntil(ctx, time.Now().Add(2*time.Second))
			cancel()
			return
		}
	}
}

// progress asks the service at base for its progress since at.
func progress(ctx context.Context, client *http.Client, base string, at time.Time) (detectProgress, error) {
	var p detectProgress
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+detectPath+"?since="+url.QueryEscape(at.Format(time.RFC3339Nano)), nil)
	if err != nil {
		return p, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return p, fmt.Errorf("lab: %s: %s", detectPath, resp.Status)
	}
	return p, json.NewDecoder(resp.Body).Decode(&p)
}

// closedForm is the fast page rule's arithmetic for a constant bad share f
// over steady traffic, s: 1h × (1 − target) × 14.4 / f.
func closedForm(target, f float64) float64 {
	return time.Hour.Seconds() * burn.ErrorBudget(target) * burn.DefaultRules()[0].Factor / f
}

// judge fills the run's objectives (objs, in detectTargets order): the
// requests judged during the fault, the first page (of incs), and when
// the page rules' arithmetic first held over hist and the run's requests.
func (r *DetectRun) judge(reqs []Req, incs []IncidentRec, hist history, objs []slo.Objective) {
	var judged []Req
	for _, q := range reqs {
		if q.Judged {
			judged = append(judged, q)
		}
	}
	slices.SortStableFunc(judged, func(a, b Req) int { return a.End.Compare(b.End) })
	for _, obj := range objs {
		o := DetectObjective{Target: obj.Target()}
		for _, in := range incs {
			if in.Objective != obj.Name() || in.Severity != "page" {
				continue
			}
			o.Pages++
			if !r.FaultAt.IsZero() && !in.At.Before(r.FaultAt) && (o.Page.IsZero() || in.At.Before(o.Page)) {
				o.Page = in.At
			}
		}
		if !r.FaultAt.IsZero() {
			for _, q := range judged {
				if !q.End.Before(r.FaultAt) && !q.End.After(r.FaultEnd) {
					o.Judged++
					if !q.Good {
						o.Bad++
					}
				}
			}
			o.Arithmetic = pageArithmetic(o.Target, hist, judged, r.FaultAt, r.End)
		}
		r.Objectives = append(r.Objectives, o)
	}
}

// wallClock drops the monotonic readings (see RunResult.wallClock).
func (r DetectRun) wallClock() DetectRun {
	r.Start, r.FaultAt, r.FaultEnd, r.End = r.Start.Round(0), r.FaultAt.Round(0), r.FaultEnd.Round(0), r.End.Round(0)
	for i := range r.Objectives {
		o := &r.Objectives[i]
		o.Arithmetic, o.Page = o.Arithmetic.Round(0), o.Page.Round(0)
	}
	return r
}
