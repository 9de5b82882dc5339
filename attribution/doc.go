// Package attribution turns a bad request's timings and evidence into ranked
// fault domains: which layer — DNS, the network, CPU contention, CFS
// throttling, memory reclaim, the upstream provider, the retrieval backend —
// most likely made it miss its objective, or "unknown" when the evidence is
// too weak to say.
//
// It has two parts. [Decompose] is a latency-budget decomposition: how many
// milliseconds of the request each domain explains, from the excess of each
// signal over its healthy baseline. [Model] is a naive-Bayes posterior over
// the domains, with likelihood tables fitted by [Fit] from labelled runs of
// the incident lab (never typed by hand) and stored as JSON with their
// provenance; without a fitted model, [Attribute] derives the posterior from
// the decomposition. A signal that was not observed is left out of the
// posterior (marginalised), never read as "normal". [DefaultModel] is the
// model the lab fitted last, embedded with its provenance.
//
// # Abstaining
//
// Unknown is a first-class answer. [FitCalibrated] fits a model and chooses,
// on data held out from its own training samples, a temperature that tempers
// the overconfidence of naive Bayes and an [Abstain] rule: a verdict
// abstains when its top domain's posterior is low (the evidence is weak) or
// when the request is unlike every request that domain was fitted on — its
// [Model.Surprise] under the domain is beyond what the domain's own held-out
// requests reach — or, with [Abstain].OwnEvidence, when the features that
// speak for that domain were watched and show no excess (throttling without
// CFS throttled time), so that a fault the model never saw comes out
// Unknown rather than confidently wrong.
//
// [NewObservation] is the one mapping from a request (its end-to-end time,
// its outbound [Calls] and its kernel [correlate.Summary]) to features; the
// kernel features are keyed by the probe signal that measures them
// ([ProbedFeatures]). The tracker computes it for every request and hands
// it, with the rest of the request's record, to the incident lab, so the lab
// evaluates exactly what the tracker attributes.
//
// [AttributeIncident] ranks an incident's domains from its bad requests: the
// top domain by the mean single-cause posterior, the runner-ups by explaining
// away (the probability that each is at fault too, given the top), so that
// two concurrent faults both surface.
//
// The package is pure and deterministic: no goroutines, no clocks, no I/O.
// Every function is safe for concurrent use; a [Model] is read-only after Fit
// or Unmarshal.
package attribution
