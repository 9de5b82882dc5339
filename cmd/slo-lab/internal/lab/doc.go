// Package lab implements the incident lab, the command cmd/slo-lab: it runs
// the reference workload in-process over real sockets, injects declarative
// fault scenarios with package faults, collects the labelled evidence of bad
// requests and the tracker's incidents, and scores fault-domain attribution
// (application, kernel and both arms) with cross-validation by repetition.
package lab
