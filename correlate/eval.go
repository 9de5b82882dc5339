package correlate

import (
	"fmt"
	"math"
	"net/netip"

	"github.com/llmslo/slo/probes"
	"go.opentelemetry.io/otel/trace"
)

// Dataset is a recorded run for the evaluator: the inputs a Joiner saw, in
// arrival order, with requests named by labels, and the ground truth — which
// events belong to which requests — known to the harness that made them.
type Dataset struct {
	// Name describes the run.
	Name string `json:"name"`
	// Ops are the Joiner inputs in the order they happened.
	Ops []Op `json:"ops"`
	// Truth lists every (event, request) pair that belongs together. An
	// event absent from Truth belongs to no request of the run. For a
	// signal the Joiner apportions (run-queue delay, reclaim, block I/O,
	// syscall latency, CFS throttling, Go scheduler latency, steal, PSI),
	// a pair says that the request truly suffered that signal, so the
	// request's share of it is a correct join.
	Truth []Pair `json:"truth"`
}

// OpKind names a Joiner input.
type OpKind string

// The inputs of a Joiner.
const (
	OpStart   OpKind = "start"
	OpEnd     OpKind = "end"
	OpAcquire OpKind = "acquire"
	OpRelease OpKind = "release"
	OpLookup  OpKind = "lookup"
	OpDial    OpKind = "dial"
	OpEvent   OpKind = "event"
)

// Op is one recorded Joiner input.
type Op struct {
	Kind OpKind `json:"kind"`
	// Req is the request's label (start, end, acquire, lookup, dial).
	Req int `json:"req,omitempty"`
	// Mono is the time of start, end, acquire and release; From and To the
	// interval of lookup and dial.
	Mono int64 `json:"mono,omitempty"`
	From int64 `json:"from,omitempty"`
	To   int64 `json:"to,omitempty"`
	// Conn is the connection of acquire and release.
	Cookie uint64         `json:"cookie,omitempty"`
	Local  netip.AddrPort `json:"local,omitzero"`
	Remote netip.AddrPort `json:"remote,omitzero"`
	// Host is the looked-up name.
	Host string `json:"host,omitempty"`
	// Event is the event of an event op.
	Event *probes.Event `json:"event,omitempty"`
}

// Pair says that the event of Ops[Event] belongs to request Req.
type Pair struct {
	Event int `json:"event"`
	Req   int `json:"req"`
}

// TierResult counts the joins of one tier.
type TierResult struct {
	// Joins made at this tier, and how many of them are in the truth. An
	// apportioned signal counts one join per request with a non-zero
	// share of it.
	Joins, Correct int
}

// Precision is Correct / Joins (1 when nothing was joined).
func (tr TierResult) Precision() float64 {
	if tr.Joins == 0 {
		return 1
	}
	return float64(tr.Correct) / float64(tr.Joins)
}

// Interval is the Wilson score interval of the precision at 95 %
// confidence ([0, 1] when nothing was joined).
func (tr TierResult) Interval() (lo, hi float64) {
	return wilson(tr.Correct, tr.Joins, 1.959963984540054)
}

// wilson is the Wilson score interval of k successes in n trials at normal
// quantile z.
func wilson(k, n int, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	nf, p := float64(n), float64(k)/float64(n)
	z2 := z * z
	mid := (p + z2/(2*nf)) / (1 + z2/nf)
	half := z / (1 + z2/nf) * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return max(mid-half, 0), min(mid+half, 1)
}

// Result is the evaluation of a Joiner on a Dataset.
type Result struct {
	// Tiers holds the joins per tier; BySignal the same per tier and
	// signal (nil maps for tiers without joins).
	Tiers    [NumTiers]TierResult
	BySignal [NumTiers]map[probes.Signal]TierResult
	// Joins and Correct count joins at or above the threshold; Truth the
	// true pairs and Found those joined at or above the threshold.
	Joins, Correct, Truth, Found int
	// Wrong lists joins at or above the threshold that are not in the
	// truth, Missed true pairs not joined (at most 50 each). A wrong
	// apportioned credit has a negative Event: -1 − its signal.
	Wrong, Missed []Pair
}

// Precision is Correct / Joins (1 when nothing was joined).
func (r Result) Precision() float64 {
	if r.Joins == 0 {
		return 1
	}
	return float64(r.Correct) / float64(r.Joins)
}

// Recall is Found / Truth (1 when there is no truth).
func (r Result) Recall() float64 {
	if r.Truth == 0 {
		return 1
	}
	return float64(r.Found) / float64(r.Truth)
}

// TierPrecision is the precision of the joins made at tier t.
func (r Result) TierPrecision(t Tier) float64 { return r.Tiers[t].Precision() }

// Evaluate replays ds into a new Joiner configured by cfg (its Observe is
// replaced) and compares its joins with the truth.
func Evaluate(ds *Dataset, cfg Config) (Result, error) {
	e := &evaluation{truth: make(map[evalKey]bool, len(ds.Truth)), ids: map[int]RequestID{},
		labels: map[RequestID]int{}, found: map[evalKey]bool{}, cur: -1}
	keys := make([]evalKey, len(ds.Truth))
	for i, p := range ds.Truth {
		if p.Event < 0 || p.Event >= len(ds.Ops) || ds.Ops[p.Event].Kind != OpEvent || ds.Ops[p.Event].Event == nil {
			return Result{}, fmt.Errorf("correlate: truth pair %+v names no event op", p)
		}
		keys[i] = truthKey(ds, p)
		e.truth[keys[i]] = true
	}
	e.res.Truth = len(e.truth)
	cfg.Observe = e.observe
	e.j = New(cfg)
	e.j.onShare = e.observeShare
	for i := range ds.Ops {
		if err := e.replay(i, &ds.Ops[i]); err != nil {
			return Result{}, err
		}
	}
	e.j.Flush(e.j.now + int64(e.j.cfg.OuterWindow))
	e.res.Found = len(e.found)
	missed := map[evalKey]bool{}
	for i, p := range ds.Truth {
		if k := keys[i]; !e.found[k] && !missed[k] && len(e.res.Missed) < 50 {
			missed[k] = true
			e.res.Missed = append(e.res.Missed, p)
		}
	}
	return e.res, nil
}

// evalKey is one (event op, request label) pair; for an apportioned signal
// ev is shareEv(signal): the request's share of it is one join.
type evalKey struct{ ev, req int }

// shareEv is the evalKey.ev of the apportioned signal sig (negative, so it
// names no op).
func shareEv(sig probes.Signal) int { return -1 - int(sig) }

// apportioned reports whether the Joiner apportions sig (ledger.share)
// rather than joining its events one by one.
func apportioned(sig probes.Signal) bool {
	switch sig {
	case probes.TCPRetransmit, probes.ConnectLatency, probes.DNSLatency:
		return false
	}
	return true
}

// truthKey is the evalKey of a truth pair.
func truthKey(ds *Dataset, p Pair) evalKey {
	if sig := ds.Ops[p.Event].Event.Signal; apportioned(sig) {
		return evalKey{shareEv(sig), p.Req}
	}
	return evalKey{p.Event, p.Req}
}

// evaluation is the state of one [Evaluate] run.
type evaluation struct {
	j      *Joiner
	truth  map[evalKey]bool
	ids    map[int]RequestID
	labels map[RequestID]int
	found  map[evalKey]bool
	cur    int // the event op being added
	res    Result
}

// observe scores one join against the truth (the Joiner's Observe hook).
func (e *evaluation) observe(ev *probes.Event, id RequestID, tier Tier) {
	// Events are copied into the pending ring, so match by content.
	evIdx := e.cur
	if ev.TID != 0 {
		evIdx = int(ev.TID) - 1
	}
	if label, ok := e.labels[id]; ok {
		e.score(evalKey{evIdx, label}, ev.Signal, tier)
	}
}

// observeShare scores one apportioned credit (the Joiner's onShare hook).
func (e *evaluation) observeShare(id RequestID, sig probes.Signal, tier Tier) {
	if label, ok := e.labels[id]; ok {
		e.score(evalKey{shareEv(sig), label}, sig, tier)
	}
}

// score counts one join of k, of signal sig, at tier.
func (e *evaluation) score(k evalKey, sig probes.Signal, tier Tier) {
	if e.res.BySignal[tier] == nil {
		e.res.BySignal[tier] = map[probes.Signal]TierResult{}
	}
	bs := e.res.BySignal[tier][sig]
	e.res.Tiers[tier].Joins++
	bs.Joins++
	if e.truth[k] {
		e.res.Tiers[tier].Correct++
		bs.Correct++
	}
	e.res.BySignal[tier][sig] = bs
	if e.j.cfg.Confidence[tier] >= e.j.cfg.Threshold {
		e.res.Joins++
		if e.truth[k] {
			e.res.Correct++
			e.found[k] = true
		} else if len(e.res.Wrong) < 50 {
			e.res.Wrong = append(e.res.Wrong, Pair{Event: k.ev, Req: k.req})
		}
	}
}

// replay feeds op i to the Joiner.
func (e *evaluation) replay(i int, op *Op) error {
	j, ids := e.j, e.ids
	switch op.Kind {
	case OpStart:
		id := j.Start(op.Mono, trace.SpanContext{})
		ids[op.Req], e.labels[id] = id, op.Req
	case OpEnd:
		j.End(ids[op.Req], op.Mono)
	case OpAcquire:
		j.Acquire(ids[op.Req], Conn{Cookie: op.Cookie, Local: op.Local, Remote: op.Remote}, op.Mono)
	case OpRelease:
		j.Release(Conn{Cookie: op.Cookie, Local: op.Local, Remote: op.Remote}, op.Mono)
	case OpLookup:
		j.Lookup(ids[op.Req], op.Host, op.From, op.To)
	case OpDial:
		j.Dial(ids[op.Req], op.Remote, op.From, op.To)
	case OpEvent:
		if op.Event == nil {
			return fmt.Errorf("correlate: op %d: event op without an event", i)
		}
		ev := *op.Event
		// The thread id is not used for joining: carry the op index
		// through the pending ring in it.
		ev.TID = uint32(i + 1)
		e.cur = i
		j.Add(&ev)
	default:
		return fmt.Errorf("correlate: op %d: unknown kind %q", i, op.Kind)
	}
	return nil
}
