package burn

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Severity ranks alerts; a higher value is more urgent.
type Severity uint8

// The severities, in increasing urgency.
const (
	// None means no alert condition holds.
	None Severity = iota
	// Ticket asks for attention within working hours.
	Ticket
	// Page asks for attention now.
	Page
)

// String returns "none", "ticket" or "page".
func (v Severity) String() string {
	switch v {
	case None:
		return "none"
	case Ticket:
		return "ticket"
	case Page:
		return "page"
	default:
		return "severity(" + strconv.Itoa(int(v)) + ")"
	}
}

// Rule is one multi-window burn-rate condition: it holds when the burn rates
// over both the Long and the Short window exceed Factor.
type Rule struct {
	// Severity of the alert the rule raises; a rule with None never holds.
	Severity Severity
	// Long is the window that makes the alert significant (e.g. 1h).
	Long time.Duration
	// Short is the window that makes the alert reset quickly once the
	// burning stops (e.g. 5m); conventionally Long/12.
	Short time.Duration
	// Factor is the burn-rate threshold both windows must exceed.
	Factor float64
}

// String returns the rule's condition in the short form incidents and
// budgets name it by, "<long>><factor> and <short>><factor>", e.g.
// "6h>6 and 30m>6".
func (r Rule) String() string {
	f := strconv.FormatFloat(r.Factor, 'g', -1, 64)
	return WindowName(r.Long) + ">" + f + " and " + WindowName(r.Short) + ">" + f
}

// DefaultRules returns, in a new slice, the standard multi-window,
// multi-burn-rate rules for a 30-day budget (docs/design.md §8), most severe
// first: two page rules, a fast one on 1h and 5m and a slower one on 6h and
// 30m, and a ticket rule on 3d and 6h. These values are the only place the
// thresholds are written: the tracker evaluates them and the Prometheus rule
// generator writes them out.
func DefaultRules() []Rule {
	return []Rule{
		{Severity: Page, Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4},
		{Severity: Page, Long: 6 * time.Hour, Short: 30 * time.Minute, Factor: 6},
		{Severity: Ticket, Long: 72 * time.Hour, Short: 6 * time.Hour, Factor: 1},
	}
}

// errInvalidRule is wrapped by the errors validateRules returns.
var errInvalidRule = errors.New("invalid burn-rate rule")

// validateRules reports the first rule that cannot work: a severity other
// than Ticket or Page, a non-positive Short, a Long shorter than Short, or a
// Factor that is not a positive finite number.
func validateRules(rules []Rule) error {
	for i, r := range rules {
		var why string
		switch {
		case r.Severity != Ticket && r.Severity != Page:
			why = "severity " + r.Severity.String()
		case r.Short <= 0:
			why = "short window " + r.Short.String()
		case r.Long < r.Short:
			why = "long window " + r.Long.String() + " shorter than short window " + r.Short.String()
		case !(r.Factor > 0) || math.IsInf(r.Factor, 1):
			why = "factor " + strconv.FormatFloat(r.Factor, 'g', -1, 64)
		default:
			continue
		}
		return fmt.Errorf("burn: rule %d: %s: %w", i, why, errInvalidRule)
	}
	return nil
}

// Alert is a rule evaluated at one instant, with the window figures it was
// decided on. The zero value (Severity None) means no rule holds.
type Alert struct {
	// Severity is the rule's severity, or None.
	Severity Severity
	// Rule is the rule that holds.
	Rule Rule
	// Long and Short are the counts and burn rates over Rule.Long and
	// Rule.Short.
	Long, Short WindowStat
}
