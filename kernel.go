package slo

import (
	"context"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
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

// connInfo describes a client connection while a call owns it. The transport
// fills it from the connection (SO_COOKIE, 4-tuple) when the call acquires it
// (httptrace GotConn) and passes the same value to connReleased when done.
type connInfo struct {
	// Cookie is the kernel socket cookie (getsockopt SO_COOKIE); 0 when
	// unknown (then Local/Remote identify the connection).
	Cookie uint64
	// Local and Remote are the connection's endpoints.
	Local, Remote netip.AddrPort
	// Host is the host name the call dialled ("" when unknown).
	Host string
	// Since is when the call started acquiring the connection (httptrace
	// GetConn); zero means "now". A connect that completes after Since is
	// the call's own.
	Since time.Time
	// Req is the server request the call is made for; nil outside an
	// instrumented request.
	Req *Request
	// Span is the span context of the call (the client span, or the
	// server request's span when the call has none).
	Span trace.SpanContext
}

// connAcquired registers c as owned by c.Req from now until connReleased,
// and tags the socket in the kernel with c.Span so kernel events on it carry
// the trace. It never blocks. ctx is the call's context.
func (t *Tracker) connAcquired(ctx context.Context, c connInfo) {}

// connReleased ends the ownership connAcquired registered (the body was
// read or closed, or the call failed). It never blocks.
func (t *Tracker) connReleased(c connInfo) {}

// kernelDNS reports a DNS lookup of host made by rq's call between start and
// end (httptrace DNSStart/DNSDone), so kernel DNS events for that name join rq.
func (t *Tracker) kernelDNS(rq *Request, host string, start, end time.Time) {}

// kernelDial reports a TCP connect to remote made by rq's call between start
// and end (httptrace ConnectStart/ConnectDone), so kernel connect events,
// failed ones included, join rq.
func (t *Tracker) kernelDial(rq *Request, remote netip.AddrPort, start, end time.Time, failed bool) {}
