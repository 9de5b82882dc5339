package correlate

import (
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/llmslo/slo/probes"
	"go.opentelemetry.io/otel/trace"
)

// RequestID names a request inside a [Joiner]. The zero value is never
// issued.
type RequestID uint64

func makeID(slot int, gen uint32) RequestID { return RequestID(uint64(gen)<<32 | uint64(slot+1)) }
func (id RequestID) slot() int              { return int(uint32(id)) - 1 }
func (id RequestID) gen() uint32            { return uint32(id >> 32) }

const forever = math.MaxInt64

// Conn describes a connection a request owns.
type Conn struct {
	// Cookie is the kernel socket cookie (SO_COOKIE); 0 when unknown.
	Cookie uint64
	// Local and Remote are the endpoints; they identify the connection
	// when Cookie is 0 and feed the destination index.
	Local, Remote netip.AddrPort
}

// Stats are a Joiner's cumulative counters and current sizes.
type Stats struct {
	// Events is the number of events offered.
	Events uint64
	// Joins counts event-to-request joins by tier (discrete joins, plus one
	// per request and apportioned signal with a non-zero share);
	// Enriched counts those at or above the threshold.
	Joins, Enriched [NumTiers]uint64
	// Unmatched counts events that joined no request; TooLate those older
	// than the outer window on arrival.
	Unmatched, TooLate uint64
	// Refused counts registrations refused because a cap was reached;
	// Evicted records dropped early to make room.
	Refused, Evicted uint64
	// Storms counts retry storms detected (per destination, each start).
	Storms uint64
	// Live is the number of live requests; Slots the request slots in use
	// (live plus lingering); Conns, Destinations, Hosts and Names the
	// registry records in use.
	Live, Slots, Conns, Destinations, Hosts, Names int
}

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

type ownKind uint8

const (
	ownConn ownKind = iota
	ownDial
	ownLookup
)

type ownership struct {
	req      RequestID
	from, to int64
	kind     ownKind
}

type connRec struct {
	cookie   uint64
	tuple    tupleKey
	hasTuple bool
	own      [4]ownership
	pos, n   uint8
	used     bool
}

// firstFrom is the start of the earliest ownership kept.
func (rec *connRec) firstFrom() int64 {
	f := int64(forever)
	for _, o := range rec.own[:rec.n] {
		f = min(f, o.from)
	}
	return f
}

type tupleKey struct{ local, remote netip.AddrPort }

type lingerEnt struct {
	id     RequestID
	freeAt int64
}

type pendingEnt struct {
	ev      probes.Event
	waiting bool
}

// Joiner joins kernel events to requests. Create one with [New]; the zero
// value is not usable. Its methods are safe for concurrent use.
type Joiner struct {
	mu  sync.Mutex
	cfg Config
	now int64 // the newest time seen

	reqs   slotPages
	free   []int32
	linger []lingerEnt // FIFO ring
	lhead  int
	lcount int
	traces map[trace.TraceID]RequestID
	live   int

	conns    []connRec
	connFree []int32
	byCookie map[uint64]int32
	byTuple  map[tupleKey]int32
	connHand int

	dests idx[netip.AddrPort]
	hosts idx[netip.Addr]
	names idx[string]

	// Events with no exact match yet wait in pendFast for Settle; SYN
	// retransmissions (the connection is registered only once it is
	// established, which backoff may delay by seconds) wait in pendSyn for
	// four outer windows.
	pendFast, pendSyn pring

	led ledger

	stats Stats
	cands candidates
}

// New returns a Joiner configured by cfg (zero fields take their defaults).
func New(cfg Config) *Joiner {
	cfg = cfg.withDefaults()
	j := &Joiner{
		cfg:      cfg,
		traces:   make(map[trace.TraceID]RequestID),
		byCookie: make(map[uint64]int32),
		byTuple:  make(map[tupleKey]int32),
		pendFast: newPring(cfg.Pending, cfg.Settle),
		pendSyn:  newPring(max(cfg.Pending/4, 16), 4*cfg.OuterWindow),
	}
	j.dests.init(cfg.MaxDestinations)
	j.hosts.init(cfg.MaxDestinations)
	j.names.init(cfg.MaxDestinations)
	j.led.init(cfg)
	return j
}

// Config returns the resolved configuration (defaults filled in).
func (j *Joiner) Config() Config { return j.cfg }

func (j *Joiner) tick(t int64) {
	if t > j.now {
		j.now = t
	}
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
	j.led.share(j, r)
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

// Acquire registers that request id owns connection c from mono on (until
// [Joiner.Release]).
func (j *Joiner) Acquire(id RequestID, c Conn, mono int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.req(id)
	if r == nil {
		return
	}
	j.tick(mono)
	ci := j.connFor(c, true)
	if ci < 0 {
		j.stats.Refused++
		return
	}
	rec := &j.conns[ci]
	// A new owner ends the previous ownership.
	if rec.n > 0 {
		last := &rec.own[(int(rec.pos)+len(rec.own)-1)%len(rec.own)]
		if last.to == forever {
			last.to = mono
		}
	}
	rec.own[rec.pos] = ownership{req: id, from: mono, to: forever, kind: ownConn}
	rec.pos = (rec.pos + 1) % uint8(len(rec.own))
	rec.n = min(rec.n+1, uint8(len(rec.own)))
	if c.Remote.IsValid() {
		j.dests.note(c.Remote, ownership{req: id, from: mono, to: forever, kind: ownConn}, j.now, j.cfg.OuterWindow, &j.stats)
		j.hosts.note(c.Remote.Addr(), ownership{req: id, from: mono, to: forever, kind: ownConn}, j.now, j.cfg.OuterWindow, &j.stats)
	}
	j.rescan()
}

// Release ends the current ownership of connection c at mono.
func (j *Joiner) Release(c Conn, mono int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tick(mono)
	ci := j.connFor(c, false)
	if ci < 0 {
		return
	}
	rec := &j.conns[ci]
	var owner RequestID
	for i := range rec.own[:rec.n] {
		if rec.own[i].to == forever {
			rec.own[i].to = mono
			owner = rec.own[i].req
		}
	}
	if owner != 0 && c.Remote.IsValid() {
		j.dests.release(c.Remote, owner, mono)
		j.hosts.release(c.Remote.Addr(), owner, mono)
	}
}

// connFor finds (or with create, makes) the record of c; -1 when none.
func (j *Joiner) connFor(c Conn, create bool) int {
	tk := tupleKey{c.Local, c.Remote}
	hasTuple := c.Local.IsValid() && c.Remote.IsValid()
	if c.Cookie != 0 {
		if i, ok := j.byCookie[c.Cookie]; ok {
			return int(i)
		}
	} else if hasTuple {
		if i, ok := j.byTuple[tk]; ok {
			return int(i)
		}
	}
	if !create || (c.Cookie == 0 && !hasTuple) {
		return -1
	}
	// Amortised sweep of stale records.
	for range 2 {
		j.sweepConn()
	}
	var i int
	switch {
	case len(j.connFree) > 0:
		i = int(j.connFree[len(j.connFree)-1])
		j.connFree = j.connFree[:len(j.connFree)-1]
	case len(j.conns) < j.cfg.MaxConns:
		j.conns = append(j.conns, connRec{})
		i = len(j.conns) - 1
	default:
		i = j.evictConn()
		if i < 0 {
			return -1
		}
	}
	j.conns[i] = connRec{cookie: c.Cookie, tuple: tk, hasTuple: hasTuple, used: true}
	if c.Cookie != 0 {
		j.byCookie[c.Cookie] = int32(i)
	}
	if hasTuple {
		j.byTuple[tk] = int32(i)
	}
	return i
}

// stale reports whether rec has no ownership within the outer window.
func (j *Joiner) staleConn(rec *connRec) bool {
	horizon := j.now - int64(j.cfg.OuterWindow)
	for _, o := range rec.own[:rec.n] {
		if o.to == forever {
			if r := j.req(o.req); r != nil && (r.state == stLive || r.end >= horizon) {
				return false
			}
			continue
		}
		if o.to >= horizon {
			return false
		}
	}
	return true
}

func (j *Joiner) dropConn(i int) {
	rec := &j.conns[i]
	if rec.cookie != 0 && j.byCookie[rec.cookie] == int32(i) {
		delete(j.byCookie, rec.cookie)
	}
	if rec.hasTuple && j.byTuple[rec.tuple] == int32(i) {
		delete(j.byTuple, rec.tuple)
	}
	*rec = connRec{}
}

func (j *Joiner) sweepConn() {
	if len(j.conns) == 0 {
		return
	}
	j.connHand = (j.connHand + 1) % len(j.conns)
	rec := &j.conns[j.connHand]
	if rec.used && j.staleConn(rec) {
		j.dropConn(j.connHand)
		j.connFree = append(j.connFree, int32(j.connHand))
	}
}

// evictConn frees a stale record, or the next one the hand meets after 64
// tries; it returns its index.
func (j *Joiner) evictConn() int {
	for range 64 {
		j.connHand = (j.connHand + 1) % len(j.conns)
		if rec := &j.conns[j.connHand]; rec.used && j.staleConn(rec) {
			j.dropConn(j.connHand)
			return j.connHand
		}
	}
	j.connHand = (j.connHand + 1) % len(j.conns)
	j.dropConn(j.connHand)
	j.stats.Evicted++
	return j.connHand
}

// Lookup registers a DNS lookup of host made for request id between from
// and to (httptrace DNSStart and DNSDone).
func (j *Joiner) Lookup(id RequestID, host string, from, to int64) {
	host = normName(host)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.req(id) == nil || host == "" {
		return
	}
	j.tick(to)
	j.names.note(host, ownership{req: id, from: from, to: to, kind: ownLookup}, j.now, j.cfg.OuterWindow, &j.stats)
	j.rescan()
}

// Dial registers a TCP connect to remote made for request id between from
// and to (httptrace ConnectStart and ConnectDone).
func (j *Joiner) Dial(id RequestID, remote netip.AddrPort, from, to int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.req(id) == nil || !remote.IsValid() {
		return
	}
	j.tick(to)
	j.dests.note(remote, ownership{req: id, from: from, to: to, kind: ownDial}, j.now, j.cfg.OuterWindow, &j.stats)
	j.rescan()
}

// Retry records a client-level retry toward remote at mono for the retry
// storm detector.
func (j *Joiner) Retry(remote netip.AddrPort, mono int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tick(mono)
	if i := j.dests.find(remote); i >= 0 {
		j.stormNote(&j.dests.recs[i], mono)
	}
}

func normName(s string) string {
	s = strings.TrimSuffix(s, ".")
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// Add joins one event.
func (j *Joiner) Add(ev *probes.Event) {
	j.mu.Lock()
	j.add(ev)
	j.mu.Unlock()
}

// AddBatch joins events in order under one lock acquisition.
func (j *Joiner) AddBatch(evs []probes.Event) {
	j.mu.Lock()
	for i := range evs {
		j.add(&evs[i])
	}
	j.mu.Unlock()
}

// Flush joins, at their lower tiers, the pending events that waited long
// enough for a late registration as of mono.
func (j *Joiner) Flush(mono int64) {
	j.mu.Lock()
	j.tick(mono)
	j.resolvePending()
	j.mu.Unlock()
}

// Stats returns the counters and sizes.
func (j *Joiner) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.stats
	s.Live = j.live
	s.Slots = j.reqs.n - len(j.free)
	s.Conns = len(j.conns) - len(j.connFree)
	s.Destinations, s.Hosts, s.Names = len(j.dests.byKey), len(j.hosts.byKey), len(j.names.byKey)
	return s
}

func (j *Joiner) add(ev *probes.Event) {
	j.stats.Events++
	j.tick(ev.Mono)
	if ev.Mono < j.now-int64(j.cfg.OuterWindow) {
		j.stats.TooLate++
		return
	}
	switch ev.Signal {
	case probes.TCPRetransmit, probes.ConnectLatency, probes.DNSLatency:
		if !j.joinExact(ev) {
			if ev.State == tcpSynSent && ev.Signal == probes.TCPRetransmit {
				j.pend(&j.pendSyn, ev)
			} else {
				j.pend(&j.pendFast, ev)
			}
		}
		if j.pendFast.wait+j.pendSyn.wait > 0 {
			j.resolvePending()
		}
	default:
		j.led.add(j, ev)
	}
}

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

// stormNote records a retry-storm-relevant event at t on d and reports
// whether d is in a storm at t.
func (j *Joiner) stormNote(d *idxRec[netip.AddrPort], t int64) bool {
	n := j.cfg.StormCount
	if cap(d.storm) < n {
		d.storm = make([]int64, n)
	}
	d.storm = d.storm[:n]
	d.storm[d.sp] = t
	d.sp = (d.sp + 1) % n
	d.sn = min(d.sn+1, n)
	if d.sn == n {
		oldest := d.storm[d.sp] // the entry after the newest
		if t-oldest <= int64(j.cfg.StormWindow) {
			if d.stormUntil < oldest {
				j.stats.Storms++
			}
			d.stormUntil = t + int64(j.cfg.StormWindow)
		}
	}
	return t <= d.stormUntil && d.stormUntil != 0
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
