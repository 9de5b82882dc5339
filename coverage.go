package slo

import (
	"github.com/llmslo/slo/internal/burn"
)

// stateConfig is the part of the configuration about the state of the
// burn-rate windows: what a rule needs besides its burn rates (coverage,
// minimum requests), the state file and the fleet seed. Its zero value is
// the default.
type stateConfig struct {
	minCoverage    float64
	minCoverageSet bool // minCoverage was given; else burn.DefaultMinCoverage
	minEvents      int  // 0: each rule's own minimum (burn.Rule.MinEvents)
	partial        bool

	file stateFileConfig // statefile.go
	seed *PrometheusSeed // seed.go; nil without seeding
}

// gate returns the alert gate the configuration asks for.
func (c *stateConfig) gate() burn.Gate {
	g := burn.DefaultGate()
	if c.minCoverageSet {
		g.MinCoverage = c.minCoverage
	}
	if c.minEvents > 0 {
		g.MinEvents = int64(c.minEvents)
	}
	g.Partial = c.partial
	return g
}

// WithMinCoverage sets the share of each window of an alert rule that the
// tracker must have observed before the rule may hold: live since the
// tracker started, or from history restored ([WithStateFile]) or seeded
// ([WithPrometheusSeed]). A rule with a window covered less is not decided:
// it keeps the state it had (no alert, for a tracker that just started), and
// [BudgetStatus.Rules] says why. The default is 0.5, half of each window
// (docs/slo-state.md gives the reasons); 0 turns the requirement off, so a
// tracker a few seconds old can page on the requests of those seconds.
// Values outside [0, 1] are ignored.
func WithMinCoverage(share float64) Option {
	return optionFunc(func(c *config) {
		if share >= 0 && share <= 1 {
			c.state.minCoverage, c.state.minCoverageSet = share, true
		}
	})
}

// WithMinEvents sets the number of requests the long window of an alert
// rule must hold for the rule to hold, for every rule. By default each rule
// asks for the fewest requests with which one bad request alone cannot make
// it hold: ⌈1/(factor × (1 − target))⌉, 7, 17 and 100 for a 99 % objective
// (the 1h, 6h and 3d rules), 70, 167 and 1000 at 99.9 %. 1 asks for nothing
// beyond the burn rates; n <= 0 restores the default. [RulesOptions.MinEvents]
// writes the same condition into the Prometheus rules.
func WithMinEvents(n int) Option {
	return optionFunc(func(c *config) { c.state.minEvents = max(n, 0) })
}

// WithPartialCoverage lets an alert rule hold on a window covered less than
// [WithMinCoverage] asks, at a stricter threshold: the window's burn rate
// times its coverage must exceed the rule's factor, so that the bad requests
// already observed spend at least the share of the error budget the rule
// stands for (2 % of a 30-day budget for the 1h page) even if the unobserved
// rest of the window spent nothing. A total outage on a 99 % objective then
// pages 8.64 minutes after the tracker starts (100 × t/1h > 14.4), on a
// 99.9 % objective once the 1h window holds 70 requests. The default is off.
func WithPartialCoverage(on bool) Option {
	return optionFunc(func(c *config) { c.state.partial = on })
}
