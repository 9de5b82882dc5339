// Package slo measures how fast tokens reach the user of an LLM-serving Go
// process and, when a service-level objective is missed, which layer of the
// machine is to blame.
package slo
