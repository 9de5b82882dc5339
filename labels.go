package slo

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// DefaultLabelLimit is the number of distinct values a metric label whose
// values come from outside the process (model names read from request or
// response bodies) may take per Tracker before further values are recorded
// as [OtherLabelValue]; [WithLabelLimit] changes it (docs/design.md §15).
const DefaultLabelLimit = 1000

// OtherLabelValue is the value a label takes once it has reached its limit
// of distinct values.
const OtherLabelValue = "other"

// labelLimiter bounds the distinct values of one label: the first limit
// values pass, later ones are folded into OtherLabelValue. A value seen
// before costs a map read; only a new value takes the mutex.
type labelLimiter struct {
	label  string
	limit  int
	seen   sync.Map // string → struct{}
	mu     sync.Mutex
	n      int           // values in seen; guarded by mu
	folds  atomic.Int64  // values folded into OtherLabelValue
	report sync.Once     // the first fold is reported once
	onFold func(error)   // reports the first fold; nil means silent
	count  func(n int64) // counts a fold in the metrics; may be nil
}

func newLabelLimiter(label string, limit int, onFold func(error)) *labelLimiter {
	return &labelLimiter{label: label, limit: limit, onFold: onFold}
}

// fold returns v when it is one of the label's first limit distinct values
// (the empty value always passes: it means the label is absent), and
// OtherLabelValue otherwise, counting the fold.
func (l *labelLimiter) fold(v string) string {
	if v == "" || l == nil {
		return v
	}
	if _, ok := l.seen.Load(v); ok {
		return v
	}
	l.mu.Lock()
	if _, ok := l.seen.Load(v); ok {
		l.mu.Unlock()
		return v
	}
	if l.n < l.limit {
		l.seen.Store(v, struct{}{})
		l.n++
		l.mu.Unlock()
		return v
	}
	l.mu.Unlock()
	l.folds.Add(1)
	if l.count != nil {
		l.count(1)
	}
	l.report.Do(func() {
		if l.onFold != nil {
			l.onFold(fmt.Errorf("slo: label %s reached its limit of %d distinct values; further values are recorded as %q (WithLabelLimit)",
				l.label, l.limit, OtherLabelValue))
		}
	})
	return OtherLabelValue
}

// foldMemo folds a call's request and response model once, however many
// times its metrics are recorded, so that a fold is counted once per call.
type foldMemo struct {
	inModel, inResp, model, resp string
	done                         bool
}

// fold returns model and resp folded by l.
func (m *foldMemo) fold(l *labelLimiter, model, resp string) (string, string) {
	if m.done && m.inModel == model && m.inResp == resp {
		return m.model, m.resp
	}
	m.inModel, m.inResp, m.done = model, resp, true
	m.model = l.fold(model)
	m.resp = m.model
	if resp != model {
		m.resp = l.fold(resp)
	}
	return m.model, m.resp
}

// folded returns the number of values folded so far.
func (l *labelLimiter) folded() int64 {
	if l == nil {
		return 0
	}
	return l.folds.Load()
}
