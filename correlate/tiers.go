package correlate

// The confidence tiers: the exact join (a connection, trace id, DNS lookup
// or failed dial names the request) and the lower, windowed tiers, with the
// candidate list that keeps the best MaxFanout requests per event.

import (
	"strings"
	"time"

	"github.com/llmslo/slo/probes"
	"go.opentelemetry.io/otel/trace"
)

// joinExact joins ev to the requests it names exactly; it reports whether
// there was one.
func (j *Joiner) joinExact(ev *probes.Event) bool {
	c := &j.cands
	c.reset(j.cfg.MaxFanout)
	t := ev.Mono
	switch ev.Signal {
	case probes.DNSLatency:
		j.nameCands(ev, TierExact, 0)
		// Concurrent lookups of one name all contain the exchange: keep
		// the lookups whose start and end fit it best (the resolver sends
		// right after DNSStart and DNSDone follows the answer at once).
		c.pruneFit(dnsFit)
	default:
		ci := -1
		if ev.Cookie != 0 {
			if i, ok := j.byCookie[ev.Cookie]; ok {
				ci = int(i)
			}
		}
		if ci < 0 && ev.Local.IsValid() {
			// The 4-tuple names the connection only when one side does not
			// know the cookie; two cookies on one tuple are two sockets.
			if i, ok := j.byTuple[tupleKey{ev.Local, ev.Remote}]; ok && (ev.Cookie == 0 || j.conns[i].cookie == 0) {
				ci = int(i)
			}
		}
		if ci >= 0 {
			rec := &j.conns[ci]
			for _, o := range rec.own[:rec.n] {
				if o.from <= t && t <= o.to {
					j.offer(o.req, TierExact, 0, t)
				}
			}
			if c.n == 0 && rec.n > 0 && t >= rec.firstFrom() && !ev.HasTrace {
				// A registered connection nobody owned at t (between
				// calls, or closing after its last one): the event is
				// known to belong to no request; never guess by tier.
				j.stats.Unmatched++
				return true
			}
		}
		if c.n == 0 && ev.HasTrace {
			if id, ok := j.traces[trace.TraceID(ev.TraceID)]; ok {
				j.offer(id, TierExact, 0, t)
			}
		}
		if c.n == 0 && ev.Signal == probes.ConnectLatency && ev.Failed {
			// A failed connect never gets a connection registered: join the
			// dial to that destination whose interval fits it best. (A
			// successful one waits for its cookie: concurrent dials to one
			// destination are ambiguous.)
			if i := j.dests.find(ev.Remote); i >= 0 {
				start := t - int64(ev.Duration)
				for _, o := range j.dests.recs[i].own {
					if o.req != 0 && o.kind == ownDial && o.from-slack <= start && t <= o.to+slack {
						j.offer(o.req, TierExact, abs(o.from-start)+abs(o.to-t), t)
					}
				}
				c.pruneFit(dnsFit)
			}
		}
	}
	if c.n == 0 {
		return false
	}
	j.apply(ev)
	return true
}

// dnsFit is how much worse than the best fit a lookup (or dial) may fit a
// DNS exchange (or failed connect) and still join it exactly.
const dnsFit = int64(250 * time.Microsecond)

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// tcpSynSent is the TCP state of a connect in progress.
const tcpSynSent = 2

// slack tolerates the kernel timestamping a connect or DNS answer a little
// outside the interval user space measured around it.
const slack = int64(2 * time.Millisecond)

// nameCands offers the requests that looked up ev's name (or a name it
// extends with a search domain) within window w at tier.
func (j *Joiner) nameCands(ev *probes.Event, tier Tier, w int64) {
	name := ev.DNS.Name
	qstart, qend := ev.Mono-int64(ev.Duration), ev.Mono
	for {
		if i := j.names.find(name); i >= 0 {
			for _, o := range j.names.recs[i].own {
				if o.req == 0 {
					continue
				}
				if tier == TierExact {
					if o.from-slack <= qstart && qend <= o.to+slack {
						j.offer(o.req, tier, abs(o.from-qstart)+abs(o.to-qend), ev.Mono)
					}
				} else if gap := gapTo(qstart, qend, o.from, o.to); gap <= w {
					j.offer(o.req, tier, gap, ev.Mono)
				}
			}
		}
		dot := strings.LastIndexByte(name, '.')
		if dot <= 0 {
			return
		}
		name = name[:dot]
	}
}

// gapTo is the distance between [a,b] and [c,d]; 0 when they overlap.
func gapTo(a, b, c, d int64) int64 {
	switch {
	case b < c:
		return c - b
	case d < a:
		return a - d
	}
	return 0
}

// offer adds a candidate if its request's interval, widened by the tier's
// window, contains t.
func (j *Joiner) offer(id RequestID, tier Tier, gap int64, t int64) {
	r := j.req(id)
	if r == nil {
		return
	}
	w := int64(j.cfg.Window[tier])
	if t < r.start-w || (r.end != forever && t > r.end+w) {
		return
	}
	j.cands.offer(id, tier, gap)
}

// apply credits ev to the chosen candidates.
func (j *Joiner) apply(ev *probes.Event) {
	c := &j.cands
	storm := false
	if ev.Signal == probes.TCPRetransmit || (ev.Signal == probes.ConnectLatency && ev.Failed) {
		if i := j.dests.find(ev.Remote); i >= 0 {
			storm = j.stormNote(&j.dests.recs[i], ev.Mono)
		}
	}
	for k := 0; k < c.n; k++ {
		cd := c.c[k]
		if j.cfg.Observe != nil {
			j.cfg.Observe(ev, cd.id, cd.tier)
		}
		j.stats.Joins[cd.tier]++
		r := j.req(cd.id)
		conf := j.cfg.Confidence[cd.tier]
		if conf < j.cfg.Threshold {
			if r != nil && r.state == stLive {
				r.sum.Weak++
			}
			continue
		}
		j.stats.Enriched[cd.tier]++
		if r == nil || r.state != stLive {
			continue
		}
		s := &r.sum
		s.Joins[cd.tier]++
		if cd.tier > s.Tier {
			s.Tier, s.Confidence = cd.tier, conf
		}
		switch ev.Signal {
		case probes.TCPRetransmit:
			s.Retransmits += int(max(ev.Count, 1))
			if storm {
				s.RetryStorm = true
			}
		case probes.ConnectLatency:
			if ev.Failed {
				s.ConnectErrors++
				if storm {
					s.RetryStorm = true
				}
			} else {
				s.Connects++
				s.ConnectLatency += ev.Duration
			}
		case probes.DNSLatency:
			s.DNSLookups++
			if ev.DNS.Rcode != 0 {
				s.DNSFailures++
			}
			sp := span{ev.Mono - int64(ev.Duration), ev.Mono}
			if r.ndns < len(r.dns) {
				r.dns[r.ndns] = sp
				r.ndns++
			} else {
				last := &r.dns[len(r.dns)-1]
				last.from, last.to = min(last.from, sp.from), max(last.to, sp.to)
			}
		}
	}
}

// joinLower joins ev at the lower tiers; it reports whether it joined.
func (j *Joiner) joinLower(ev *probes.Event) bool {
	c := &j.cands
	c.reset(j.cfg.MaxFanout)
	t := ev.Mono
	switch ev.Signal {
	case probes.DNSLatency:
		j.nameCands(ev, TierPodConn, int64(j.cfg.Window[TierPodConn]))
	default:
		if !ev.Remote.IsValid() {
			break
		}
		wc := int64(j.cfg.Window[TierPodConn])
		if i := j.dests.find(ev.Remote); i >= 0 {
			for _, o := range j.dests.recs[i].own {
				if o.req != 0 {
					if g := gapTo(t, t, o.from, o.to); g <= wc {
						j.offer(o.req, TierPodConn, g, t)
					}
				}
			}
		}
		ws := int64(j.cfg.Window[TierSvcNode])
		if i := j.hosts.find(ev.Remote.Addr()); i >= 0 {
			for _, o := range j.hosts.recs[i].own {
				if o.req != 0 {
					if g := gapTo(t, t, o.from, o.to); g <= ws {
						j.offer(o.req, TierSvcNode, g, t)
					}
				}
			}
		}
	}
	if c.n == 0 {
		return false
	}
	j.apply(ev)
	return true
}

// candidate is one request an event may join.
type candidate struct {
	id   RequestID
	tier Tier
	gap  int64
}

// candidates keeps the best k candidates by tier, then gap.
type candidates struct {
	c [maxFanout]candidate
	n int
	k int
}

func (c *candidates) reset(k int) { c.n, c.k = 0, k }

// pruneFit keeps the candidates whose gap is within tol of the best.
func (c *candidates) pruneFit(tol int64) {
	if c.n < 2 {
		return
	}
	limit := c.c[0].gap + tol
	for k := 1; k < c.n; k++ {
		if c.c[k].gap > limit {
			c.n = k
			return
		}
	}
}

func better(a, b candidate) bool {
	if a.tier != b.tier {
		return a.tier > b.tier
	}
	return a.gap < b.gap
}

func (c *candidates) offer(id RequestID, tier Tier, gap int64) {
	nc := candidate{id, tier, gap}
	for i := 0; i < c.n; i++ {
		if c.c[i].id == id {
			if !better(nc, c.c[i]) {
				return
			}
			// remove and re-insert
			copy(c.c[i:c.n-1], c.c[i+1:c.n])
			c.n--
			break
		}
	}
	pos := c.n
	for pos > 0 && better(nc, c.c[pos-1]) {
		pos--
	}
	if pos >= c.k {
		return
	}
	if c.n < c.k {
		c.n++
	}
	copy(c.c[pos+1:c.n], c.c[pos:c.n-1])
	c.c[pos] = nc
}
