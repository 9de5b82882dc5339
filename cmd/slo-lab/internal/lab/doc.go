// Package lab implements the incident lab, the command cmd/slo-lab.
//
// It runs the reference workload over real sockets — the instrumented
// service as a process of its own in cgroups of its own ([ServeMain]), the
// fake provider, retrieval backend, DNS server and load generator in the
// lab's process — after calibrating the objectives' thresholds on the host;
// injects declarative fault scenarios with package faults; labels each bad
// request with the domains whose faults overlapped it; and scores
// fault-domain attribution: leaving one fault magnitude out (the headline),
// leaving one fault domain out (the model should abstain), cross-validating
// by repetition (application, kernel and both arms), and scoring a given
// model as is. Every run writes its record (runs.jsonl.gz), from which
// [RebuildDir] computes the same report again.
package lab
