package lab

import (
	"sort"
	"time"

	"github.com/llmslo/slo/internal/burn"
)

// history is the steady-state history of a warm tracker: rate requests a
// second, all good, over [from, to).
type history struct {
	rate     float64
	from, to time.Time
}

// arithmeticStep is the resolution of the arithmetic's clock.
const arithmeticStep = 20 * time.Millisecond

// pageArithmetic returns the first instant in [from, until] at which a page
// rule of burn.DefaultRules holds for an objective of target over exact
// windows [t−w, t] of h and reqs (sorted by end time): both windows' bad share
// over factor × (1 − target), the long window holding the rule's minimum of
// requests. It checks every arithmeticStep and at every request's end; the
// zero time when no page rule held.
func pageArithmetic(target float64, h history, reqs []Req, from, until time.Time) time.Time {
	ends := make([]time.Time, len(reqs))
	badBefore := make([]int, len(reqs)+1) // bad requests among reqs[:i]
	for i, q := range reqs {
		ends[i] = q.End
		badBefore[i+1] = badBefore[i]
		if !q.Good {
			badBefore[i+1]++
		}
	}
	count := func(lo, hi time.Time) (bad, total float64) {
		i := sort.Search(len(ends), func(k int) bool { return ends[k].After(lo) })
		j := sort.Search(len(ends), func(k int) bool { return ends[k].After(hi) })
		hl, hh := maxTime(lo, h.from), minTime(hi, h.to)
		good := 0.0
		if hh.After(hl) {
			good = h.rate * hh.Sub(hl).Seconds()
		}
		b := float64(badBefore[j] - badBefore[i])
		return b, good + float64(j-i)
	}
	budget := burn.ErrorBudget(target)
	holds := func(t time.Time) bool {
		for _, r := range burn.DefaultRules() {
			if r.Severity != burn.Page {
				continue
			}
			lb, lt := count(t.Add(-r.Long), t)
			sb, st := count(t.Add(-r.Short), t)
			if lt >= float64(r.MinEvents(target)) && lb > r.Factor*budget*lt && sb > r.Factor*budget*st {
				return true
			}
		}
		return false
	}
	next := 0
	for t := from; !t.After(until); t = t.Add(arithmeticStep) {
		for next < len(ends) && ends[next].Before(t) { // a request's end between two steps
			if e := ends[next]; !e.Before(from) && holds(e) {
				return e
			}
			next++
		}
		if holds(t) {
			return t
		}
	}
	return time.Time{}
}
