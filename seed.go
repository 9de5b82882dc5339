package slo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmslo/slo/internal/burn"
	"github.com/llmslo/slo/internal/promapi"
)

// Defaults of [PrometheusSeed].
const (
	// DefaultSeedTimeout bounds one seeding, all its queries included.
	DefaultSeedTimeout = 10 * time.Second
	// DefaultSeedMaxPoints bounds the points one seeding reads: an objective
	// needs 2 series × 61 buckets for each of its 4 long windows, 488 points.
	DefaultSeedMaxPoints = 20_000
)

// seedFloor is the shortest window seeded: the long windows (6h, 1d, 3d and
// the budget period) come from the fleet, the short ones fill with the
// process's own requests.
const seedFloor = 6 * time.Hour

// PrometheusSeed configures seeding the long windows from the fleet's
// metrics ([WithPrometheusSeed]).
type PrometheusSeed struct {
	// URL is the base URL of a Prometheus-compatible query API (Prometheus,
	// Thanos Query, Cortex or Mimir with its prefix, VictoriaMetrics):
	// /api/v1/query_range and /api/v1/query are appended. Required.
	URL string
	// Selector holds extra label matchers added to every selector of
	// llm_slo_requests_total, as [RulesOptions.Selector]: the service's
	// replicas, e.g. `job="rag-service",namespace="prod"`. Empty means
	// every series of the objective's name.
	Selector string
	// Timeout bounds one seeding; 0 means [DefaultSeedTimeout].
	Timeout time.Duration
	// MaxPoints bounds the points one seeding reads; 0 means
	// [DefaultSeedMaxPoints]. Each response is also bounded to 8 MiB.
	MaxPoints int
	// Client sends the queries; nil means a client over
	// http.DefaultTransport.
	Client *http.Client
}

// SeedStatus is the state of seeding from the fleet.
type SeedStatus struct {
	// State is "" without seeding, else "pending", "seeded" or "failed".
	State string `json:"state"`
	// At is when the last seeding ended; Error why it failed.
	At    time.Time `json:"at"`
	Error string    `json:"error"`
	// Windows are the windows seeded ("6h", "1d", "3d", "30d"); Points the
	// points read.
	Windows []string `json:"windows"`
	Points  int      `json:"points"`
}

// WithPrometheusSeed seeds the long windows of every objective (6h, 1d, 3d
// and the budget period) from the fleet's history when the tracker starts,
// in the background, and again on [Tracker.Seed]: it reads
// llm_slo_requests_total{objective,good} of the service's replicas from a
// Prometheus-compatible query API, as increases over each bucket of each
// window (query_range at the window's bucket width, plus the partial newest
// bucket), and puts the fleet's counts in place of the windows' own. A new
// replica then joins with the fleet's long-window burn rates and budget,
// while its short windows (5m, 30m, 1h) fill with its own requests.
// Seeding is bounded in time ([PrometheusSeed.Timeout]) and memory
// ([PrometheusSeed.MaxPoints]); while it runs, and when it fails
// ([Status].State.Seed says why, and one log line), the coverage rules
// apply ([WithMinCoverage]). The counts are the fleet's within the window's
// bucket approximation and Prometheus's extrapolation of increase() at the
// bucket edges (docs/slo-state.md). New fails when the selector holds
// braces; a zero URL is ignored.
func WithPrometheusSeed(p PrometheusSeed) Option {
	return optionFunc(func(c *config) {
		if p.URL != "" {
			c.state.seed = &p
		}
	})
}

// Seed seeds the long windows from the fleet now ([WithPrometheusSeed]),
// within ctx and the configured timeout, and returns why it failed. It
// fails when the tracker has no seeding configured (or is nil). Seeding replaces the
// windows' buckets up to now with the fleet's; requests recorded afterwards
// add to them.
func (t *Tracker) Seed(ctx context.Context) error {
	if !t.usable() {
		return errors.New("slo: seed: the tracker is nil or zero")
	}
	p := t.cfg.state.seed
	if p == nil {
		return errors.New("slo: seed: no WithPrometheusSeed option")
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultSeedTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t.st.update(func(s *StateStatus) { s.Seed.State = "pending" })
	points, windows, err := t.seed(ctx, p)
	now := t.cfg.now()
	t.st.update(func(s *StateStatus) {
		s.Seed = SeedStatus{State: "seeded", At: now, Windows: windows, Points: points}
		if err != nil {
			s.Seed.State, s.Seed.Error = "failed", err.Error()
		}
	})
	if err != nil {
		t.cfg.logger.Warn("slo: seeding from Prometheus failed; the long windows fill with this process's requests",
			"url", p.URL, "error", err.Error())
		return fmt.Errorf("slo: seed: %w", err)
	}
	t.cfg.logger.Info("slo: long windows seeded from Prometheus", "url", p.URL, "windows", strings.Join(windows, ","), "points", points)
	return nil
}

// seedPlan is the history of one window of one objective, read before any
// window changes.
type seedPlan struct {
	o      *objState
	w      time.Duration
	g      burn.Grid
	counts []burn.Count
	first  int // the oldest bucket with data; len(counts) for none
}

// seedGroup is the plans read with one query: one window, one grid (the
// objectives share one grid unless a restored state brought another epoch).
type seedGroup struct {
	w     time.Duration
	start int64 // the grid's start, Unix ns
}

// seed reads every long window of every objective, then seeds them all.
func (t *Tracker) seed(ctx context.Context, p *PrometheusSeed) (points int, windows []string, err error) {
	budget := p.MaxPoints
	if budget <= 0 {
		budget = DefaultSeedMaxPoints
	}
	api := &promapi.Client{URL: p.URL, HTTP: p.Client}
	now := t.cfg.now()
	groups := map[seedGroup][]*seedPlan{}
	var order []seedGroup
	for _, w := range seedWindows(t.cfg.budgetPeriod) {
		for _, o := range t.objs {
			o.mu.Lock()
			g, ok := o.series.Grid(now, w)
			o.mu.Unlock()
			if !ok {
				return points, nil, fmt.Errorf("no %v window", w)
			}
			k := seedGroup{w, g.Start.UnixNano()}
			if groups[k] == nil {
				order = append(order, k)
			}
			groups[k] = append(groups[k], &seedPlan{o: o, w: w, g: g, counts: make([]burn.Count, g.N), first: g.N})
		}
		windows = append(windows, burn.WindowName(w))
	}
	for _, k := range order {
		n, err := fetchWindow(ctx, api, p.Selector, now, groups[k], budget-points)
		if points += n; err != nil {
			return points, nil, err
		}
	}
	for _, k := range order {
		for _, pl := range groups[k] {
			if pl.first >= len(pl.counts) {
				continue // no history of this objective in this window
			}
			pl.o.mu.Lock()
			err := pl.o.series.Seed(now, pl.w, pl.counts, pl.g.Start.Add(time.Duration(pl.first)*pl.g.Width))
			pl.o.seeded = pl.o.seeded || err == nil
			pl.o.mu.Unlock()
			if err != nil {
				return points, nil, err
			}
		}
	}
	return points, windows, nil
}

// seedWindows returns the windows seeded: the standard ones from 6h and the
// budget period.
func seedWindows(period time.Duration) []time.Duration {
	var ws []time.Duration
	for _, w := range burn.StandardWindows() {
		if w.Dur >= seedFloor {
			ws = append(ws, w.Dur)
		}
	}
	if period >= seedFloor && !slices.Contains(ws, period) {
		ws = append(ws, period)
	}
	return ws
}

// fetchWindow reads the buckets of the group's grid for its objectives:
// the complete buckets with one range query, the partial newest one with an
// instant query at now. It returns the points read.
func fetchWindow(ctx context.Context, api *promapi.Client, sel string, now time.Time, group []*seedPlan, budget int) (int, error) {
	g := group[0].g
	byName := map[string]*seedPlan{}
	names := make([]string, len(group))
	for i, pl := range group {
		byName[pl.o.name], names[i] = pl, pl.o.name
	}
	expr := func(width time.Duration) string {
		return fmt.Sprintf("sum by (objective, good) (increase(%s[%dms]))", seedSelector(names, sel), width.Milliseconds())
	}
	api.MaxPoints = max(budget, 1)
	series, err := api.QueryRange(ctx, expr(g.Width), g.End(0), g.End(g.N-2), g.Width)
	if err != nil {
		return 0, err
	}
	n := addPoints(series, byName, func(at time.Time) int { return int(math.Round(float64(at.Sub(g.Start))/float64(g.Width))) - 1 })
	last := g.Start.Add(time.Duration(g.N-1) * g.Width)
	if partial := now.Sub(last); partial >= time.Millisecond {
		api.MaxPoints = max(budget-n, 1)
		series, err := api.Query(ctx, expr(partial), now)
		if err != nil {
			return n, err
		}
		n += addPoints(series, byName, func(time.Time) int { return g.N - 1 })
	}
	return n, nil
}

// addPoints adds the increases of series to the buckets of their objective
// and returns the points read; bucket maps a point's time to its bucket.
func addPoints(series []promapi.Series, byName map[string]*seedPlan, bucket func(time.Time) int) int {
	n := 0
	for _, s := range series {
		pl := byName[s.Labels["objective"]]
		good := s.Labels["good"] == "true"
		n += len(s.Points)
		if pl == nil || (!good && s.Labels["good"] != "false") {
			continue
		}
		for _, p := range s.Points {
			i := bucket(p.T)
			if i < 0 || i >= len(pl.counts) || !(p.V >= 0) || math.IsInf(p.V, 1) {
				continue
			}
			v := int64(math.Round(min(p.V, 1<<40)))
			pl.counts[i].Total += v
			if good {
				pl.counts[i].Good += v
			}
			pl.first = min(pl.first, i)
		}
	}
	return n
}

// seedSelector is the selector of llm_slo_requests_total for the named
// objectives and the user's matchers.
func seedSelector(names []string, sel string) string {
	m := "objective=" + promQuote(names[0])
	if len(names) > 1 {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = regexp.QuoteMeta(n)
		}
		m = "objective=~" + strconv.Quote(strings.Join(quoted, "|"))
	}
	if sel != "" {
		m += "," + sel
	}
	return "llm_slo_requests_total{" + m + "}"
}
