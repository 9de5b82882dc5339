package slo

import (
	"go.opentelemetry.io/otel/attribute"
)

// kernelState joins kernel evidence (package probes, through package
// correlate) to requests. The zero value, and a nil *kernelState, mean "no
// kernel signals": every hook below is then a no-op.
type kernelState struct{}

// startKernel starts the probes and the correlation goroutine, or records why
// not in the tracker status. It runs once, at the end of New.
func (t *Tracker) startKernel() {}

// stopKernel detaches the probes and stops the correlation goroutine. It runs
// once, from Close, before the background goroutine is waited for.
func (t *Tracker) stopKernel() {}

// kernelRequestStart registers rq as live (its interval starts now).
func (t *Tracker) kernelRequestStart(rq *Request) {}

// kernelFinish ends rq's interval and returns the llm.ebpf.* attributes of its
// kernel summary, to be added to its span. s holds the request's SLIs.
func (t *Tracker) kernelFinish(rq *Request, s *sli) []attribute.KeyValue { return nil }
