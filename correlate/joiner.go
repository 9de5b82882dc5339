package correlate

import (
	"math"
	"net/netip"
	"sync"

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
	// NodeJoins and NodeEnriched count, among Joins and Enriched, the
	// joins of node-wide signals (CPU steal, PSI). Those have no owner to
	// join by, so svc_node is the best tier they can reach; a weak join of
	// theirs says nothing about how well events with an owner join.
	NodeJoins, NodeEnriched [NumTiers]uint64
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

	// onShare, when set (by Evaluate), is called for every apportioned
	// credit: a request's non-zero share of a process- or node-wide signal.
	onShare func(id RequestID, sig probes.Signal, tier Tier)
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
