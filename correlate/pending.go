package correlate

// Pending events: network events with no exact match yet wait in a ring for
// a late registration (a connection registered after its first event), then
// settle at the lower tiers.

import (
	"time"

	"github.com/llmslo/slo/probes"
)

type pendingEnt struct {
	ev      probes.Event
	waiting bool
}

// pring is a ring of events waiting for a late exact registration.
type pring struct {
	buf              []pendingEnt
	head, tail, wait int
	settle           int64
}

func newPring(n int, settle time.Duration) pring {
	return pring{buf: make([]pendingEnt, n), settle: int64(settle)}
}

// pend keeps ev in r for a late exact registration.
func (j *Joiner) pend(r *pring, ev *probes.Event) {
	n := len(r.buf)
	p := &r.buf[r.head]
	if p.waiting {
		// The ring is full: settle the oldest entry now.
		p.waiting = false
		r.wait--
		if !j.joinLower(&p.ev) {
			j.stats.Unmatched++
		}
	}
	wasEmpty := r.wait == 0
	p.ev = *ev
	p.waiting = true
	r.wait++
	switch {
	case wasEmpty:
		r.tail = r.head
	case r.tail == r.head:
		r.tail = (r.head + 1) % n
	}
	r.head = (r.head + 1) % n
}

// resolvePending settles the waiting events whose settle time has passed.
func (j *Joiner) resolvePending() {
	j.resolve(&j.pendFast)
	j.resolve(&j.pendSyn)
}

// resolve settles waiting events of r older than its settle time, oldest
// first; it stops at the first waiting event that is too young (the ring is
// in arrival order, close to time order).
func (j *Joiner) resolve(r *pring) {
	n := len(r.buf)
	before := j.now - r.settle
	for r.wait > 0 {
		p := &r.buf[r.tail]
		if p.waiting {
			if p.ev.Mono > before {
				return
			}
			p.waiting = false
			r.wait--
			if !j.joinLower(&p.ev) {
				j.stats.Unmatched++
			}
		}
		r.tail = (r.tail + 1) % n
	}
}

// rescan retries the exact join of waiting events after a registration.
func (j *Joiner) rescan() {
	for _, r := range [2]*pring{&j.pendFast, &j.pendSyn} {
		if r.wait == 0 {
			continue
		}
		for i := range r.buf {
			p := &r.buf[i]
			if p.waiting && j.joinExact(&p.ev) {
				p.waiting = false
				r.wait--
			}
		}
	}
}
