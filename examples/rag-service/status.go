package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/llmslo/slo"
	"github.com/llmslo/slo/incident"
	"github.com/prometheus/client_golang/prometheus"
)

// Histograms shown on the status page, by short name.
var statusHistograms = map[string]string{
	"ttft": "gen_ai_server_time_to_first_token_seconds",
	"tpot": "gen_ai_server_time_per_output_token_seconds",
	"e2e":  "gen_ai_server_request_duration_seconds",
}

// hist is a histogram merged over all its label sets: cumulative counts per
// upper bound (the last bound is +Inf).
type hist struct {
	bounds []float64
	cum    []uint64
}

func (h hist) count() uint64 {
	if len(h.cum) == 0 {
		return 0
	}
	return h.cum[len(h.cum)-1]
}

// sub returns h − old (the observations made in between).
func (h hist) sub(old hist) hist {
	if len(old.cum) != len(h.cum) {
		return h
	}
	out := hist{bounds: h.bounds, cum: make([]uint64, len(h.cum))}
	for i := range h.cum {
		if h.cum[i] >= old.cum[i] {
			out.cum[i] = h.cum[i] - old.cum[i]
		}
	}
	return out
}

// quantile estimates the q-quantile the way PromQL's histogram_quantile does:
// linear interpolation inside the bucket; the highest finite bound when it
// falls in the +Inf bucket. NaN without observations.
func (h hist) quantile(q float64) float64 {
	n := h.count()
	if n == 0 {
		return math.NaN()
	}
	rank := q * float64(n)
	for i, c := range h.cum {
		if float64(c) < rank {
			continue
		}
		if math.IsInf(h.bounds[i], 1) {
			if i == 0 {
				return math.NaN()
			}
			return h.bounds[i-1]
		}
		lo, prev := 0.0, uint64(0)
		if i > 0 {
			lo, prev = h.bounds[i-1], h.cum[i-1]
		}
		if c == prev {
			return h.bounds[i]
		}
		return lo + (h.bounds[i]-lo)*(rank-float64(prev))/float64(c-prev)
	}
	return h.bounds[len(h.bounds)-1]
}

// latencyWindow keeps snapshots of the tracker's latency histograms so that
// the status page shows percentiles over the last minute, not since start.
type latencyWindow struct {
	g     prometheus.Gatherer
	mu    sync.Mutex
	snaps []snapshot // oldest first, at most 6 minutes
}

type snapshot struct {
	at time.Time
	h  map[string]hist
}

func newLatencyWindow(g prometheus.Gatherer) *latencyWindow { return &latencyWindow{g: g} }

func (l *latencyWindow) run(stop <-chan struct{}, every time.Duration) {
	l.record()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			l.record()
		}
	}
}

func (l *latencyWindow) record() {
	s := l.take()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snaps = append(l.snaps, s)
	for len(l.snaps) > 1 && s.at.Sub(l.snaps[0].at) > 6*time.Minute {
		l.snaps = l.snaps[1:]
	}
}

// take gathers the registry and merges every status histogram over its labels.
func (l *latencyWindow) take() snapshot {
	s := snapshot{at: time.Now(), h: map[string]hist{}}
	mfs, _ := l.g.Gather()
	for short, name := range statusHistograms {
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			var h hist
			for _, m := range mf.GetMetric() {
				ph := m.GetHistogram()
				if ph == nil {
					continue
				}
				if h.bounds == nil {
					for _, b := range ph.GetBucket() {
						h.bounds = append(h.bounds, b.GetUpperBound())
					}
					h.bounds = append(h.bounds, math.Inf(1))
					h.cum = make([]uint64, len(h.bounds))
				}
				if len(ph.GetBucket())+1 != len(h.cum) {
					continue
				}
				for i, b := range ph.GetBucket() {
					h.cum[i] += b.GetCumulativeCount()
				}
				h.cum[len(h.cum)-1] += ph.GetSampleCount()
			}
			s.h[short] = h
		}
	}
	return s
}

// Percentiles are latency percentiles in milliseconds (null when no data).
type Percentiles struct {
	Count uint64   `json:"count"`
	P50   *float64 `json:"p50_ms"`
	P90   *float64 `json:"p90_ms"`
	P99   *float64 `json:"p99_ms"`
}

// LatencyStatus is the live latency section of the status.
type LatencyStatus struct {
	WindowSeconds float64     `json:"window_seconds"`
	TTFT          Percentiles `json:"ttft"`
	TPOT          Percentiles `json:"tpot"`
	E2E           Percentiles `json:"e2e"`
}

// summary returns percentiles over the last window (or since the oldest
// snapshot, when the service is younger).
func (l *latencyWindow) summary(window time.Duration) LatencyStatus {
	cur := l.take()
	l.mu.Lock()
	var base snapshot
	for i := len(l.snaps) - 1; i >= 0; i-- {
		base = l.snaps[i]
		if cur.at.Sub(l.snaps[i].at) >= window {
			break
		}
	}
	l.mu.Unlock()
	out := LatencyStatus{}
	if !base.at.IsZero() {
		out.WindowSeconds = math.Round(cur.at.Sub(base.at).Seconds())
	}
	pct := func(short string) Percentiles {
		h := cur.h[short]
		if b, ok := base.h[short]; ok {
			h = h.sub(b)
		}
		p := Percentiles{Count: h.count()}
		ms := func(q float64) *float64 {
			v := h.quantile(q)
			if math.IsNaN(v) {
				return nil
			}
			v = math.Round(v*1e4) / 10 // ms with one decimal
			return &v
		}
		p.P50, p.P90, p.P99 = ms(0.5), ms(0.9), ms(0.99)
		return p
	}
	out.TTFT, out.TPOT, out.E2E = pct("ttft"), pct("tpot"), pct("e2e")
	return out
}

// ObjectiveStatus is one objective's live budget.
type ObjectiveStatus struct {
	Name   string  `json:"name"`
	Target float64 `json:"target"`
	Good   int64   `json:"good"`
	Total  int64   `json:"total"`
	// BudgetRemaining is clamped to [0, 1]; BudgetRemainingRaw is not
	// (negative when overspent), BudgetExhausted says it is spent.
	BudgetRemaining    float64 `json:"budget_remaining"`
	BudgetRemainingRaw float64 `json:"budget_remaining_raw"`
	BudgetExhausted    bool    `json:"budget_exhausted"`
	// BudgetCoverage is the share of the budget period observed.
	BudgetCoverage float64            `json:"budget_coverage"`
	BurnRates      map[string]float64 `json:"burn_rates"`
	// Coverage is the share of each burn-rate window observed.
	Coverage map[string]float64 `json:"coverage"`
	// Origin is where the windows' history comes from: cold, restored,
	// seeded or restored+seeded.
	Origin   string   `json:"origin"`
	Alerting []string `json:"alerting"`
	// Waiting lists the rules that cannot hold yet, and why.
	Waiting []string `json:"waiting"`
}

// ProbeStatus is the kernel-probe section: a summary and the tracker's
// per-signal status (slo.Tracker.KernelStatus).
type ProbeStatus struct {
	State   string             `json:"state"` // "on", "partial", "starting" or "off"
	Detail  string             `json:"detail"`
	Signals []slo.SignalStatus `json:"signals"`
}

func probeStatus(sigs []slo.SignalStatus) ProbeStatus {
	p := ProbeStatus{Signals: sigs}
	var on, starting int
	for _, s := range sigs {
		switch {
		case s.Path == "starting":
			starting++
		case s.State == "on" || s.State == "degraded":
			on++
		}
	}
	switch {
	case len(sigs) == 0:
		p.State, p.Detail = "off", "the tracker runs without kernel probes; attribution uses application signals only"
	case starting > 0:
		p.State, p.Detail = "starting", "kernel probes are loading"
	case on == len(sigs):
		p.State, p.Detail = "on", fmt.Sprintf("all %d kernel signals on", on)
	case on > 0:
		p.State, p.Detail = "partial", fmt.Sprintf("%d of %d kernel signals on; see the reasons below", on, len(sigs))
	default:
		p.State, p.Detail = "off", "no kernel signal available (eBPF needs root or CAP_BPF+CAP_PERFMON); attribution uses application signals and unprivileged floors"
	}
	if p.Signals == nil {
		p.Signals = []slo.SignalStatus{}
	}
	return p
}

// Status is the JSON document of GET /api/status; the page at / renders it.
type Status struct {
	Service   string              `json:"service"`
	Version   string              `json:"version"`
	Now       time.Time           `json:"now"`
	Uptime    float64             `json:"uptime_seconds"`
	Upstream  upstream            `json:"upstream"`
	Retrieval map[string]any      `json:"retrieval"`
	OTLP      bool                `json:"otlp_export"`
	Tracker   slo.Status          `json:"tracker"`
	Latency   LatencyStatus       `json:"latency"`
	Objs      []ObjectiveStatus   `json:"objectives"`
	Probes    ProbeStatus         `json:"probes"`
	Fault     activeFault         `json:"fault"`
	Load      loadSnapshot        `json:"load"`
	Incidents []incident.Incident `json:"incidents"` // newest first
}

func (a *app) status() Status {
	st := a.tracker.Status()
	sigs := st.Signals
	st.Signals = nil // listed once, under probes
	s := Status{
		Service:   serviceName,
		Version:   slo.Version(),
		Now:       time.Now().UTC(),
		Uptime:    math.Round(time.Since(a.start).Seconds()),
		Upstream:  a.up,
		Retrieval: map[string]any{"url": a.storeURL, "documents": a.storeDocs, "top_k": 3},
		OTLP:      a.tel != nil && a.tel.otlp,
		Tracker:   st,
		Latency:   a.lat.summary(time.Minute),
		Probes:    probeStatus(sigs),
		Load:      a.load.snapshot(),
		Incidents: a.tracker.Incidents(),
	}
	slices.Reverse(s.Incidents)
	if s.Incidents == nil {
		s.Incidents = []incident.Incident{}
	}
	a.faultMu.Lock()
	s.Fault = a.fault
	a.faultMu.Unlock()
	for _, b := range a.tracker.Budget() {
		s.Objs = append(s.Objs, objectiveStatus(b))
	}
	return s
}

func objectiveStatus(b slo.BudgetStatus) ObjectiveStatus {
	o := ObjectiveStatus{Name: b.Objective, Target: b.Target, Good: b.Good, Total: b.Total,
		BudgetRemaining: b.Remaining, BudgetRemainingRaw: b.RemainingRaw, BudgetExhausted: b.Exhausted,
		BudgetCoverage: b.Coverage, BurnRates: map[string]float64{}, Coverage: map[string]float64{},
		Origin: b.Origin, Alerting: b.Alerting, Waiting: []string{}}
	if o.Alerting == nil {
		o.Alerting = []string{}
	}
	for _, w := range b.BurnRates {
		o.BurnRates[w.Window] = w.Rate
		o.Coverage[w.Window] = w.Coverage
	}
	for _, r := range b.Rules {
		if r.Detail != "" && !r.Holding {
			o.Waiting = append(o.Waiting, r.Rule+": "+r.Detail)
		}
	}
	return o
}

func (a *app) statusJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(a.status())
}
