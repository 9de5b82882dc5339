// Package correlate joins kernel evidence ([probes.Event]) to the requests
// that suffered it, and keeps a per-request kernel [Summary] for spans and
// attribution.
//
// # Joining
//
// A [Joiner] knows the live requests (their monotonic intervals and span
// contexts), the connections each request owned and when (the connection
// registry: socket cookie and 4-tuple), the DNS lookups and TCP connects its
// outbound calls made, and a short history of both. Each event is joined by
// tier, highest first:
//
//   - [TierExact] (trace_id_exact, 1.00): the kernel stamped the event with
//     the request's span (through [probes.Set.TagConn]), or the event is on
//     a connection the request owned at that instant, or it is the DNS
//     lookup or TCP connect the request's call was waiting for at that
//     instant (same name or destination, inside the call's own interval).
//   - [TierPodPID] (pod_pid_100ms, 0.51): process-wide evidence of this
//     process (run-queue delay, direct reclaim, block I/O and syscall
//     outliers, CFS throttling, Go scheduler latency) overlapping the
//     request. It is apportioned by overlap, see below, so evidence just
//     outside the interval credits nothing.
//   - [TierPodConn] (pod_conn_250ms, 0.05): a network event on another
//     connection to a destination (address and port) the request used
//     within 250 ms.
//   - [TierSvcNode] (svc_node_500ms, 0.13): node-wide evidence (CPU steal,
//     PSI), or a network event toward a host the request used within
//     500 ms.
//
// An event on a registered connection that nobody owned at that instant
// (between calls, or closing after the last one) joins nobody: it is never
// guessed by tier. An event with no exact match waits briefly
// ([Config].Settle) for a late registration — the transport reports a
// lookup or a connection after the kernel saw it — and SYN retransmissions
// wait longer, since their connection is registered only once established.
// When several concurrent lookups of one name (or dials of one destination,
// for a failed connect) contain an exchange, only those whose interval fits
// it best join exactly.
//
// No event is joined outside the outer window (2 s) or outside a request's
// interval widened by its tier's window. An event joins at most
// [Config].MaxFanout requests (3), ranked by confidence, then by time gap;
// once an exact match exists the lower tiers are not consulted. Evidence
// below [Config].Threshold (0.50) is counted but does not enter the summary.
// A request's summary is taken at [Joiner.End]: evidence added after that
// is not in it (a saturated host can delay the ring buffer's reader past
// the end of a short request).
//
// Each tier's confidence is its precision — the share of its joins that
// were right — measured on labelled recordings of real kernel events
// (testdata/tiers.json: concurrent requests on their own threads and
// connections, so every event's owner is known), rounded to two decimals;
// docs/tiers.md has the table with its intervals and sample counts. By
// default only the exact and pod_pid tiers reach the summary: a guess by
// destination (pod_conn) or host and node (svc_node) was right for one
// join in twenty and one in eight there.
//
// Process-wide signals are apportioned, never copied: a thread stall
// (run-queue delay, reclaim, block I/O, syscall) is split between the
// requests live during it in proportion to their overlap with it; a
// process-wide period (CFS throttling) is credited to each request for the
// fraction of the period it overlapped; ratios (steal %, PSI, Go scheduler
// latency) are averaged over the request's interval. The ledger behind this
// has a fixed horizon ([Config].Buckets × [Config].Bucket, 41 s by default):
// a longer request is credited for its last horizon only.
//
// # Evaluation
//
// [Evaluate] replays a recorded [Dataset] — the Joiner inputs of a real run
// and the harness's ground truth of which request owned which connection —
// and reports precision and recall per tier. testdata/loss.json was recorded
// from 20 concurrent streaming requests, 5 of them over a link losing 30% of
// the client's packets; testdata/tiers.json is the workload behind the tier
// confidences (docs/tiers.md).
//
// # Clocks
//
// Events carry kernel CLOCK_MONOTONIC nanoseconds. A [Clock] converts Go
// [time.Time] values (which carry the same monotonic clock on Linux) to that
// time base without drift, and back to wall time.
//
// # Memory and cost
//
// Memory is bounded by [Config]: request slots, connection and destination
// records and the pending-event ring have fixed caps; registrations beyond
// them are refused and counted in [Stats]. Joining an event allocates
// nothing.
//
// # Concurrency
//
// A Joiner's methods are safe for concurrent use (one mutex). It starts no
// goroutine: the caller feeds it events and lifecycles.
//
// # Zero values
//
// The zero [Config] is the documented default. The zero [Summary] means "no
// kernel evidence". The zero [RequestID] is never issued; methods ignore it.
package correlate
