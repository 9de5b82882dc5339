package correlate

// Request slots: the live and lingering requests a Joiner knows, recycled
// through a free list and a FIFO of ended requests kept for OuterWindow.

import (
	"time"

	"go.opentelemetry.io/otel/trace"
)

type reqState uint8

const (
	stFree reqState = iota
	stLive
	stEnded
)

type span struct{ from, to int64 }

type reqSlot struct {
	gen        uint32
	state      reqState
	start, end int64
	traceID    trace.TraceID
	sum        Summary
	dns        [8]span
	ndns       int
}

type lingerEnt struct {
	id     RequestID
	freeAt int64
}

// Start registers a live request starting at mono (CLOCK_MONOTONIC ns) with
// span context sc (may be invalid) and returns its id, or 0 when
// [Config].MaxRequests requests are live.
func (j *Joiner) Start(mono int64, sc trace.SpanContext) RequestID {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tick(mono)
	j.expireLinger(j.now, false)
	var slot int
	switch {
	case len(j.free) > 0:
		slot = int(j.free[len(j.free)-1])
		j.free = j.free[:len(j.free)-1]
	case j.reqs.n < j.cfg.MaxRequests:
		slot = j.reqs.grow()
	default:
		if !j.expireLinger(j.now, true) {
			j.stats.Refused++
			return 0
		}
		slot = int(j.free[len(j.free)-1])
		j.free = j.free[:len(j.free)-1]
	}
	r := j.reqs.at(slot)
	gen := r.gen + 1
	if gen == 0 {
		gen = 1
	}
	*r = reqSlot{gen: gen, state: stLive, start: mono, end: forever}
	id := makeID(slot, gen)
	if sc.HasTraceID() {
		r.traceID = sc.TraceID()
		j.traces[r.traceID] = id
	}
	j.led.advance(mono)
	j.led.live++
	j.live++
	return id
}

// expireLinger frees lingering slots whose time is up; with force it frees
// the oldest one regardless and reports whether it could.
func (j *Joiner) expireLinger(now int64, force bool) bool {
	for j.lcount > 0 {
		e := j.linger[j.lhead]
		if !force && e.freeAt > now {
			return false
		}
		j.lhead = (j.lhead + 1) % len(j.linger)
		j.lcount--
		s := e.id.slot()
		r := j.reqs.at(s)
		if r.gen != e.id.gen() || r.state != stEnded {
			continue
		}
		if j.traces[r.traceID] == e.id {
			delete(j.traces, r.traceID)
		}
		r.state = stFree
		j.free = append(j.free, int32(s))
		if force {
			j.stats.Evicted++
			return true
		}
	}
	return false
}

func (j *Joiner) req(id RequestID) *reqSlot {
	s := id.slot()
	if id == 0 || s < 0 || s >= j.reqs.n {
		return nil
	}
	r := j.reqs.at(s)
	if r.gen != id.gen() || r.state == stFree {
		return nil
	}
	return r
}

// End ends request id at mono and returns its Summary. Later events within
// the request's interval are still joined (and counted) but no longer
// change what End returned. End of an unknown or ended id returns the zero
// Summary.
func (j *Joiner) End(id RequestID, mono int64) Summary {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.req(id)
	if r == nil || r.state != stLive {
		return Summary{}
	}
	j.tick(mono)
	j.resolvePending()
	if mono < r.start {
		mono = r.start
	}
	j.led.advance(mono)
	j.led.live--
	j.live--
	r.end = mono
	r.state = stEnded
	j.led.share(j, id, r)
	r.sum.DNS = unionLen(r.dns[:r.ndns])
	if len(j.linger) < j.cfg.MaxRequests {
		j.growLinger()
	}
	j.linger[(j.lhead+j.lcount)%len(j.linger)] = lingerEnt{id: id, freeAt: mono + int64(j.cfg.OuterWindow)}
	j.lcount++
	return r.sum
}

func (j *Joiner) growLinger() {
	if j.lcount < len(j.linger) {
		return
	}
	n := max(64, 2*len(j.linger))
	n = min(n, j.cfg.MaxRequests)
	nl := make([]lingerEnt, n)
	for i := 0; i < j.lcount; i++ {
		nl[i] = j.linger[(j.lhead+i)%len(j.linger)]
	}
	j.linger, j.lhead = nl, 0
}

// unionLen is the total length of the union of spans (sorted in place).
func unionLen(s []span) time.Duration {
	// insertion sort: at most 8 spans
	for i := 1; i < len(s); i++ {
		for k := i; k > 0 && s[k].from < s[k-1].from; k-- {
			s[k], s[k-1] = s[k-1], s[k]
		}
	}
	var total, curFrom, curTo int64
	for i, sp := range s {
		if i == 0 || sp.from > curTo {
			total += curTo - curFrom
			curFrom, curTo = sp.from, sp.to
			continue
		}
		curTo = max(curTo, sp.to)
	}
	total += curTo - curFrom
	return time.Duration(total)
}

// slotPageSize is the number of request slots allocated at a time.
const slotPageSize = 1024

// slotPages holds request slots in fixed pages, so that growing never copies
// or re-zeroes the slots already in use (a flat slice of up to MaxRequests
// slots would, at every doubling).
type slotPages struct {
	pages [][]reqSlot
	n     int
}

// grow adds one zero slot and returns its index.
func (p *slotPages) grow() int {
	if p.n%slotPageSize == 0 {
		p.pages = append(p.pages, make([]reqSlot, slotPageSize))
	}
	p.n++
	return p.n - 1
}

// at returns slot i, which must be < n.
func (p *slotPages) at(i int) *reqSlot { return &p.pages[i/slotPageSize][i%slotPageSize] }
