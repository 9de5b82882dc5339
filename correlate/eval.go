package correlate

import (
	"fmt"
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
	// event absent from Truth belongs to no request of the run.
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
	// Joins made at this tier, and how many of them are in the truth.
	Joins, Correct int
}

// Result is the evaluation of a Joiner on a Dataset.
type Result struct {
	// Tiers holds the joins per tier.
	Tiers [NumTiers]TierResult
	// Joins and Correct count joins at or above the threshold; Truth the
	// true pairs and Found those joined at or above the threshold.
	Joins, Correct, Truth, Found int
	// Wrong lists joins at or above the threshold that are not in the
	// truth, Missed true pairs not joined (at most 50 each).
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
func (r Result) TierPrecision(t Tier) float64 {
	tr := r.Tiers[t]
	if tr.Joins == 0 {
		return 1
	}
	return float64(tr.Correct) / float64(tr.Joins)
}

// Evaluate replays ds into a new Joiner configured by cfg (its Observe is
// replaced) and compares its joins with the truth.
func Evaluate(ds *Dataset, cfg Config) (Result, error) {
	e := &evaluation{truth: make(map[evalKey]bool, len(ds.Truth)), ids: map[int]RequestID{},
		labels: map[RequestID]int{}, found: map[evalKey]bool{}, cur: -1}
	for _, p := range ds.Truth {
		if p.Event < 0 || p.Event >= len(ds.Ops) || ds.Ops[p.Event].Kind != OpEvent {
			return Result{}, fmt.Errorf("correlate: truth pair %+v names no event op", p)
		}
		e.truth[evalKey{p.Event, p.Req}] = true
	}
	e.res.Truth = len(e.truth)
	cfg.Observe = e.observe
	e.j = New(cfg)
	for i := range ds.Ops {
		if err := e.replay(i, &ds.Ops[i]); err != nil {
			return Result{}, err
		}
	}
	e.j.Flush(e.j.now + int64(e.j.cfg.OuterWindow))
	e.res.Found = len(e.found)
	for _, p := range ds.Truth {
		if !e.found[evalKey{p.Event, p.Req}] && len(e.res.Missed) < 50 {
			e.res.Missed = append(e.res.Missed, p)
		}
	}
	return e.res, nil
}

// evalKey is one (event op, request label) pair.
type evalKey struct{ ev, req int }

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
	label, ok := e.labels[id]
	if !ok {
		return
	}
	k := evalKey{evIdx, label}
	e.res.Tiers[tier].Joins++
	if e.truth[k] {
		e.res.Tiers[tier].Correct++
	}
	if e.j.cfg.Confidence[tier] >= e.j.cfg.Threshold {
		e.res.Joins++
		if e.truth[k] {
			e.res.Correct++
			e.found[k] = true
		} else if len(e.res.Wrong) < 50 {
			e.res.Wrong = append(e.res.Wrong, Pair{Event: evIdx, Req: label})
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
