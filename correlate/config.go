package correlate

import (
	"time"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/semconv"
)

// Tier is the strength of a join between an event and a request.
type Tier uint8

// The tiers, weakest first (docs/design.md §6).
const (
	// TierNone means no join.
	TierNone Tier = iota
	// TierSvcNode is svc_node_500ms (0.13): node-wide evidence, or a host
	// the request used, within 500 ms.
	TierSvcNode
	// TierPodConn is pod_conn_250ms (0.05): a destination the request used
	// within 250 ms.
	TierPodConn
	// TierPodPID is pod_pid_100ms (0.51): evidence about this process within
	// 100 ms of the request.
	TierPodPID
	// TierExact is trace_id_exact (1.00): the event names the request's span
	// or its own connection, lookup or connect at that instant.
	TierExact

	// NumTiers is one past the largest Tier.
	NumTiers = 5
)

// String returns the tier's semconv name ("trace_id_exact", ...), "none"
// for TierNone.
func (t Tier) String() string {
	switch t {
	case TierExact:
		return semconv.TierTraceIDExact
	case TierPodPID:
		return semconv.TierPodPID100ms
	case TierPodConn:
		return semconv.TierPodConn250ms
	case TierSvcNode:
		return semconv.TierSvcNode500ms
	}
	return "none"
}

// Config tunes a [Joiner]. The zero value is the default documented on each
// field.
type Config struct {
	// Confidence of each tier, indexed by Tier; a zero entry takes the
	// default (1.00, 0.51, 0.05, 0.13): each tier's precision measured on
	// labelled recordings (docs/tiers.md).
	Confidence [NumTiers]float64
	// Window of each tier: how far outside a request's interval an event may
	// lie and still join at that tier; a zero entry takes the default
	// (exact 0, pod_pid 100 ms, pod_conn 250 ms, svc_node 500 ms).
	Window [NumTiers]time.Duration
	// OuterWindow bounds every join: an event older than this when it
	// arrives (against the newest time the Joiner has seen) is dropped, and
	// history is kept this long. 0 means 2 s.
	OuterWindow time.Duration
	// Threshold is the confidence an event's join needs to enter a
	// request's Summary; 0 means 0.50 (joins right at least as often as
	// wrong: exact and pod_pid by default), a negative value admits
	// everything.
	Threshold float64
	// MaxFanout is the largest number of requests one event joins; 0 means 3.
	MaxFanout int

	// MaxRequests caps live plus recently ended requests; 0 means 65536.
	MaxRequests int
	// MaxConns caps the connection registry; 0 means 65536.
	MaxConns int
	// MaxDestinations caps the destination (address:port) and host records;
	// 0 means 8192.
	MaxDestinations int
	// Pending is the size of the ring of recent network and DNS events
	// not yet joined exactly (they wait Settle for a late registration);
	// 0 means 1024. A second ring of a quarter that size (at least 16)
	// holds SYN retransmissions, which wait four outer windows: their
	// connection is registered only once established.
	Pending int
	// Settle is how long an event with no exact match waits for a late
	// registration before it is joined at a lower tier; 0 means 20 ms.
	Settle time.Duration

	// StormCount and StormWindow define a retry storm: at least StormCount
	// retransmits, failed connects or client retries toward one destination
	// within StormWindow. 0 means 10 and 1 s.
	StormCount  int
	StormWindow time.Duration

	// Bucket and Buckets size the ledger of process-wide signals; 0 means
	// 10 ms and 4096 (a 41 s horizon).
	Bucket  time.Duration
	Buckets int
	// PollInterval is the period assumed for the first event of a polled
	// signal (later ones use the gap since the previous); 0 means 1 s.
	PollInterval time.Duration

	// Observe, when set, is called (under the Joiner's lock; it must not
	// call the Joiner) for every discrete join of an event to a request,
	// whatever its confidence. The evaluator and tests use it.
	Observe func(ev *probes.Event, req RequestID, tier Tier)
}

// defaultConfidence is the precision of each tier measured on the
// recordings in testdata (docs/tiers.md), rounded to two decimals;
// TestTierConfidenceMeasured fails when they disagree.
var defaultConfidence = [NumTiers]float64{0, 0.13, 0.05, 0.51, 1.00}
var defaultWindow = [NumTiers]time.Duration{0, 500 * time.Millisecond, 250 * time.Millisecond, 100 * time.Millisecond, 0}

// withDefaults resolves zero fields.
func (c Config) withDefaults() Config {
	for i := 1; i < NumTiers; i++ {
		if c.Confidence[i] <= 0 {
			c.Confidence[i] = defaultConfidence[i]
		}
		if c.Window[i] <= 0 {
			c.Window[i] = defaultWindow[i]
		}
	}
	if c.OuterWindow <= 0 {
		c.OuterWindow = 2 * time.Second
	}
	for i := range c.Window {
		c.Window[i] = min(c.Window[i], c.OuterWindow)
	}
	switch {
	case c.Threshold == 0:
		c.Threshold = 0.50
	case c.Threshold < 0:
		c.Threshold = 0
	}
	if c.MaxFanout <= 0 {
		c.MaxFanout = 3
	}
	c.MaxFanout = min(c.MaxFanout, maxFanout)
	if c.MaxRequests <= 0 {
		c.MaxRequests = 65536
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 65536
	}
	if c.MaxDestinations <= 0 {
		c.MaxDestinations = 8192
	}
	if c.Pending <= 0 {
		c.Pending = 1024
	}
	if c.Settle <= 0 {
		c.Settle = 20 * time.Millisecond
	}
	if c.StormCount <= 0 {
		c.StormCount = 10
	}
	if c.StormWindow <= 0 {
		c.StormWindow = time.Second
	}
	if c.Bucket <= 0 {
		c.Bucket = 10 * time.Millisecond
	}
	if c.Buckets <= 0 {
		c.Buckets = 4096
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	return c
}

// maxFanout bounds MaxFanout (the candidate array is fixed-size).
const maxFanout = 16
