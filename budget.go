package slo

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/llmslo/slo/internal/burn"
)

// The origins of an objective's window state ([BudgetStatus.Origin]).
const (
	// OriginCold: the windows hold only what this tracker observed.
	OriginCold = "cold"
	// OriginRestored: the windows were restored from the state file
	// ([WithStateFile]) and go on with this tracker's requests.
	OriginRestored = "restored"
	// OriginSeeded: the long windows were seeded from the fleet's metrics
	// ([WithPrometheusSeed]).
	OriginSeeded = "seeded"
	// OriginRestoredSeeded: both.
	OriginRestoredSeeded = "restored+seeded"
)

// BudgetStatus is the live error-budget state of one objective.
type BudgetStatus struct {
	Objective string `json:"objective"`
	// Tenant is the tenant the objective is narrowed to
	// ([Objective.ForTenant]); empty when it judges every tenant.
	Tenant string  `json:"tenant,omitempty"`
	Target float64 `json:"target"`
	Good   int64   `json:"good"`  // judged good over the budget period
	Total  int64   `json:"total"` // judged over the budget period
	// Remaining is the share of the error budget left over the budget
	// period, 1 − bad/((1−target)·total) clamped to [0, 1]: 1 when nothing
	// was judged, 0 once the budget is spent (Exhausted).
	Remaining float64 `json:"remaining"`
	// RemainingRaw is the same without the clamp: −18.1 means the bad
	// requests are 19.1 times the budget of the requests judged. The
	// Prometheus metric llm_slo_error_budget_remaining reports it.
	RemainingRaw float64 `json:"remaining_raw"`
	// Exhausted reports that the bad requests reach or exceed the budget
	// of the requests judged (RemainingRaw <= 0).
	Exhausted bool `json:"exhausted"`
	// Coverage is the share of the budget period the figures cover (see
	// [BurnRate.Coverage]): a budget over 40 seconds of a 30-day period is
	// a budget over 40 seconds.
	Coverage float64 `json:"coverage"`
	// BurnRates are the burn rates over the standard windows (5m to 3d),
	// each with its coverage and counts.
	BurnRates []BurnRate `json:"burn_rates"`
	// Alerting lists the rules whose condition held at the last
	// evaluation, as incidents name them ("6h>6 and 30m>6").
	Alerting []string `json:"alerting"`
	// Rules gives every alert rule's state at the last evaluation, and why
	// a rule that cannot hold yet does not.
	Rules []RuleStatus `json:"rules"`
	// Origin says where the windows' history comes from: OriginCold,
	// OriginRestored, OriginSeeded or OriginRestoredSeeded.
	Origin string `json:"origin"`
}

// BurnRate is the burn rate of an objective over one window.
type BurnRate struct {
	Window string  `json:"window"`    // "5m", "30m", "1h", "6h", "1d", "3d"
	Rate   float64 `json:"burn_rate"` // (bad/total)/(1−target); 0 without traffic
	// Coverage is the share of the window the tracker has observed (live,
	// restored or seeded history), from 0 to 1: a rate over a window
	// covered 0.01 describes 1 % of that window (docs/slo-state.md).
	Coverage float64 `json:"coverage"`
	Good     int64   `json:"good"`  // requests in the window judged good
	Total    int64   `json:"total"` // requests in the window judged
}

// RuleStatus is the state of one alert rule of an objective.
type RuleStatus struct {
	Rule     string `json:"rule"`     // e.g. "1h>14.4 and 5m>14.4"
	Severity string `json:"severity"` // "page" or "ticket"
	// Holding reports that the rule held at the last evaluation.
	Holding bool `json:"holding"`
	// Verdict is the last evaluation's: "holds", "clear", "uncovered" (a
	// window is observed less than [WithMinCoverage] asks: the rule keeps
	// its state) or "too few requests" (fewer than [WithMinEvents] asks).
	Verdict string `json:"verdict"`
	// Detail says what an uncovered or too-few rule waits for, e.g.
	// "1h window 2% observed, needs 50%"; empty otherwise.
	Detail string `json:"detail"`
}

// Budget returns the live error budget, burn rates and rule states of
// every objective.
func (t *Tracker) Budget() []BudgetStatus {
	if !t.usable() {
		return nil
	}
	now := t.cfg.now()
	gate := t.cfg.state.gate()
	out := make([]BudgetStatus, 0, len(t.objs))
	for _, o := range t.objs {
		o.mu.Lock()
		b := o.budget(now, t.cfg.budgetPeriod, gate)
		o.mu.Unlock()
		out = append(out, b)
	}
	return out
}

// budget computes o's status at now; the caller holds o.mu.
func (o *objState) budget(now time.Time, period time.Duration, gate burn.Gate) BudgetStatus {
	p := o.series.Stat(now, period)
	b := BudgetStatus{Objective: o.name, Tenant: o.obj.Tenant(), Target: o.obj.target, Good: p.Good, Total: p.Total,
		RemainingRaw: o.series.BudgetRemaining(now), Coverage: p.Coverage, Origin: o.origin()}
	b.Remaining = math.Max(0, math.Min(1, b.RemainingRaw))
	b.Exhausted = p.Total > p.Good && b.RemainingRaw <= 0
	for _, w := range burn.StandardWindows() {
		st := o.series.Stat(now, w.Dur)
		b.BurnRates = append(b.BurnRates, BurnRate{Window: w.Name, Rate: st.Rate, Coverage: st.Coverage, Good: st.Good, Total: st.Total})
	}
	held := map[burn.Rule]bool{}
	for r := range o.alerts.Holding() {
		b.Alerting = append(b.Alerting, r.String())
		held[r] = true
	}
	// The details describe the windows at the evaluation the verdicts come from.
	at := o.alerts.Evaluated()
	for r, v := range o.alerts.Verdicts() {
		rs := RuleStatus{Rule: r.String(), Severity: r.Severity.String(), Holding: held[r], Verdict: v.String()}
		switch v {
		case burn.Uncovered:
			for _, w := range []time.Duration{r.Long, r.Short} {
				if c := o.series.Coverage(at, w); c < gate.MinCoverage {
					rs.Detail = fmt.Sprintf("%s window %s observed, needs %s", burn.WindowName(w), sharePercent(c), sharePercent(gate.MinCoverage))
					break
				}
			}
		case burn.TooFew:
			_, n := o.series.Counts(at, r.Long)
			rs.Detail = fmt.Sprintf("%s window holds %d requests, needs %d", burn.WindowName(r.Long), n, gate.MinEventsOf(r, o.obj.target))
		}
		b.Rules = append(b.Rules, rs)
	}
	return b
}

// origin names where o's window history comes from; the caller holds o.mu.
func (o *objState) origin() string {
	switch {
	case o.restored && o.seeded:
		return OriginRestoredSeeded
	case o.restored:
		return OriginRestored
	case o.seeded:
		return OriginSeeded
	}
	return OriginCold
}

// sharePercent formats a share in [0, 1] with two significant digits: "1.1%",
// "50%", "<0.01%".
func sharePercent(f float64) string {
	p := 100 * f
	switch {
	case p >= 10:
		return strconv.FormatFloat(p, 'f', 0, 64) + "%"
	case p > 0 && p < 0.01:
		return "<0.01%"
	}
	return strconv.FormatFloat(p, 'g', 2, 64) + "%"
}
