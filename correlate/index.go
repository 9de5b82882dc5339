package correlate

import "time"

// idxRec is the recent ownership history of one key (a destination, a host
// or a DNS name), plus retry-storm state for destinations.
type idxRec[K comparable] struct {
	key  K
	own  [8]ownership
	pos  int
	last int64
	used bool

	storm      []int64
	sp, sn     int
	stormUntil int64
}

// idx is a bounded map from keys to recent ownerships, evicting with a
// clock hand.
type idx[K comparable] struct {
	byKey map[K]int32
	recs  []idxRec[K]
	max   int
	hand  int
}

func (x *idx[K]) init(max int) {
	x.byKey = make(map[K]int32)
	x.max = max
}

func (x *idx[K]) find(k K) int {
	if i, ok := x.byKey[k]; ok {
		return int(i)
	}
	return -1
}

// note adds an ownership of k, creating or recycling a record.
func (x *idx[K]) note(k K, o ownership, now int64, window time.Duration, st *Stats) {
	i := x.find(k)
	if i < 0 {
		if len(x.recs) < x.max {
			x.recs = append(x.recs, idxRec[K]{})
			i = len(x.recs) - 1
		} else {
			i = x.evict(now, window, st)
		}
		r := &x.recs[i]
		storm := r.storm[:0]
		*r = idxRec[K]{key: k, used: true, storm: storm}
		x.byKey[k] = int32(i)
	}
	r := &x.recs[i]
	r.own[r.pos] = o
	r.pos = (r.pos + 1) % len(r.own)
	r.last = max(r.last, o.from)
}

// release ends the open ownership of req on k at t.
func (x *idx[K]) release(k K, req RequestID, t int64) {
	i := x.find(k)
	if i < 0 {
		return
	}
	r := &x.recs[i]
	for n := range r.own {
		if r.own[n].req == req && r.own[n].to == forever {
			r.own[n].to = t
		}
	}
	r.last = max(r.last, t)
}

// evict frees the record the hand finds idle longest among the next few,
// and returns its index.
func (x *idx[K]) evict(now int64, window time.Duration, st *Stats) int {
	best, bestLast := -1, int64(forever)
	for range 8 {
		x.hand = (x.hand + 1) % len(x.recs)
		r := &x.recs[x.hand]
		last := r.last
		for _, o := range r.own {
			if o.to == forever && o.req != 0 {
				last = now // still owned
			}
		}
		if last < bestLast {
			best, bestLast = x.hand, last
		}
		if last < now-int64(window) {
			break
		}
	}
	if bestLast >= now-int64(window) {
		st.Evicted++
	}
	delete(x.byKey, x.recs[best].key)
	return best
}
