// Package burn is the alert engine: it keeps SLO error budgets and decides
// multi-window, multi-burn-rate alerts, in memory, without a metrics
// backend. The tracker evaluates its rules in process and the Prometheus rule
// generator writes the same rules out, so the two cannot drift.
//
// A [Series] holds the good/total request counts of one series (an
// objective today) in fixed-size rings of time buckets, one ring per standard
// window (5m, 30m, 1h, 6h, 1d, 3d) plus the budget period (30d by default).
// [Series.Stat], [Series.BurnRate] and [Series.BudgetRemaining] read them.
// A [Rule] is one condition on a long and a short window; [DefaultRules] is
// the standard set (two page rules and a ticket rule, docs/design.md §8), the
// one place its thresholds are written. An [Alerter] evaluates rules over a
// Series and fires once when the alert level rises, re-arming as soon as it
// falls. A [Gate] adds what a rule needs besides burn rates: windows
// observed enough, and enough requests in the long window.
//
// # Coverage
//
// A window's coverage is the share of its span the series has observed:
// live since [Series.Start] (a tracker starts its series when it starts),
// plus history restored from a saved [State] or seeded from a metrics
// backend ([Series.Seed]). Time in between, while no process observed, is
// not covered. A series that has run for 40 seconds covers 40/300 of its 5m
// window and 40/3600 of its 1h window: its burn rates describe 40 seconds,
// whatever window they are reported for. [DefaultGate] lets a rule decide
// only when each of its windows is at least half covered
// ([DefaultMinCoverage]) and its long window holds enough requests that a
// single bad one cannot make it hold ([Rule.MinEvents]); until then the
// rule keeps the state it had. [Gate.Partial] lets a partly covered window
// count when its burn rate times its coverage exceeds the factor. The
// choices are argued in docs/slo-state.md.
//
// # Saved state
//
// [Capture] takes the state of a series and its alerter, [State] encodes a
// list of them (versioned, checksummed), [DecodeState] reads it back and
// [Entry.Restore] puts it into a fresh series and alerter. [Series.Grid] and
// [Series.Seed] fill a window from counts taken elsewhere.
//
// # Definitions
//
// The burn rate over a window is the fraction of bad requests divided by the
// error budget fraction: (bad/total)/(1-target). A burn rate of 1 spends the
// budget exactly over the period; a burn rate of b spends it in period/b. The
// budget remaining over the period is 1 - bad/((1-target)*total): 1 when
// nothing is spent (or nothing was measured), 0 when the budget is
// exhausted, negative when overspent.
//
// # Approximation
//
// Each window of duration w is cut into 60 buckets of width ⌈w/60⌉ (5 s for
// 5m, 1 min for 1h, 12 h for 30d), aligned on the series' start.
// [Series.Counts] covers the buckets from the one holding t back to the one
// holding t-w: every event in [t-w, t] is counted, plus possibly events up to
// one bucket width (w/60) older. [Series.Stat], [Series.BurnRate] and
// [Series.BudgetRemaining] count that oldest bucket in proportion to its
// part inside [t-w, t]: exact when its requests are spread evenly over it
// (steady traffic), and otherwise off by less than that one bucket's
// requests. So a rule holds when its arithmetic over [t-w, t] says so, not a
// bucket later (at 99 %, a total outage reaches 14.4 over 1h after 8.64
// minutes whatever the phase of the buckets; counting the whole oldest bucket
// would add up to 1/60 of that). A query for a duration that is not a
// configured window is answered from the next larger window's ring with that
// ring's granularity, and a duration longer than the longest window is
// clamped to it.
//
// Memory is O(windows × 61 buckets), about 10 KiB per Series, independent of
// the request rate. [Series.Add] is O(windows); queries at or after the
// newest event are O(1) amortised (running sums per ring), at worst O(30).
//
// # Time
//
// Nothing in this package reads the clock: every method takes the time. Time
// is measured from the series' start (its first Add, unless started
// before) with [time.Time.Sub], so times carrying a
// monotonic reading (from [time.Now]) are immune to wall-clock steps. Events
// may arrive out of order: an event older than a ring's span (61 buckets
// behind the newest event seen) is dropped from that ring only, which loses
// nothing, because it lies outside every window that ring answers for queries
// at or after the newest event. An event far in the future advances the
// windows and expires older buckets, so pass times from one clock.
//
// # Concurrency
//
// A Series and an Alerter are not safe for concurrent use; the caller holds
// a lock. Neither allocates after construction nor starts goroutines. A
// caller keeping several series (per objective, or per objective and
// tenant) keeps one Series and one Alerter per key.
//
// # Errors
//
// The constructors fail on invalid targets, periods, rules or gates;
// [Series.Seed], [Entry.Restore] and [DecodeState] fail on input that does
// not fit, changing nothing. Methods never panic: an empty window yields a
// burn rate of 0 and a rule never holds on a window without traffic.
package burn
