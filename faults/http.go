package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ProviderPlan describes the faults of an upstream model provider. Its zero
// value injects nothing. Rates are shares of requests in [0, 1]; one draw per
// request picks at most one of throttle, error and reset (so their sum should
// not exceed 1; what exceeds is ignored, in that order).
type ProviderPlan struct {
	// ThrottleRate is the share of requests answered 429 Too Many Requests.
	ThrottleRate float64
	// RetryAfter, when positive, is sent with every 429 as a Retry-After
	// header in whole seconds (rounded up).
	RetryAfter time.Duration
	// ErrorRate is the share of requests answered ErrorStatus.
	ErrorRate float64
	// ErrorStatus is the status of injected errors; zero means 503.
	ErrorStatus int
	// ResetRate is the share of requests whose connection is reset without
	// an answer (hijacked and closed with SO_LINGER 0; on HTTP/2 the stream
	// is aborted).
	ResetRate float64
	// PrefillDelay is waited before the handler runs (slow time to first
	// token), plus a uniform random extra in [0, Jitter).
	PrefillDelay time.Duration
	// Jitter adds a uniform random [0, Jitter) to PrefillDelay.
	Jitter time.Duration
	// TokenDelay is waited before every Flush of the handler (slow decode of
	// a streamed answer). Handlers that never flush are not slowed.
	TokenDelay time.Duration
	// Seed seeds the per-request draws; the same seed and the same request
	// order give the same faults.
	Seed uint64
}

// ProviderStats counts what a [ProviderFaults] did.
type ProviderStats struct {
	Requests, Throttled, Errors, Resets, Delayed uint64
}

// ProviderFaults is HTTP middleware that makes a handler (the fake provider
// of the lab, or any upstream) behave like a failing provider. The zero value
// is ready and injects nothing; [ProviderFaults.Set] changes the plan at run
// time without locking the request path (only the random draw takes a short
// mutex). It needs no privilege.
type ProviderFaults struct {
	state atomic.Pointer[httpState]

	requests, throttled, errs, resets, delayed atomic.Uint64
}

type httpState struct {
	plan ProviderPlan
	mu   sync.Mutex
	rng  *rand.Rand
}

// Set replaces the plan (and restarts the random sequence from its seed).
func (f *ProviderFaults) Set(p ProviderPlan) {
	f.state.Store(&httpState{plan: p, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))})
}

// Plan returns the current plan.
func (f *ProviderFaults) Plan() ProviderPlan {
	if s := f.state.Load(); s != nil {
		return s.plan
	}
	return ProviderPlan{}
}

// Stats returns the counters so far.
func (f *ProviderFaults) Stats() ProviderStats {
	return ProviderStats{
		Requests:  f.requests.Load(),
		Throttled: f.throttled.Load(),
		Errors:    f.errs.Load(),
		Resets:    f.resets.Load(),
		Delayed:   f.delayed.Load(),
	}
}

type verdict int

const (
	pass verdict = iota
	throttle
	fail
	reset
)

// draw decides the fate of one request and its prefill jitter.
func (s *httpState) draw() (verdict, time.Duration) {
	p := &s.plan
	if p.ThrottleRate <= 0 && p.ErrorRate <= 0 && p.ResetRate <= 0 && p.Jitter <= 0 {
		return pass, 0
	}
	s.mu.Lock()
	u := s.rng.Float64()
	var jitter time.Duration
	if p.Jitter > 0 {
		jitter = time.Duration(s.rng.Int64N(int64(p.Jitter)))
	}
	s.mu.Unlock()
	switch {
	case u < p.ThrottleRate:
		return throttle, jitter
	case u < p.ThrottleRate+p.ErrorRate:
		return fail, jitter
	case u < p.ThrottleRate+p.ErrorRate+p.ResetRate:
		return reset, jitter
	}
	return pass, jitter
}

// Wrap returns h with the faults of the current plan applied per request.
func (f *ProviderFaults) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		s := f.state.Load()
		if s == nil {
			h.ServeHTTP(w, r)
			return
		}
		p := &s.plan
		v, jitter := s.draw()
		switch v {
		case throttle:
			f.throttled.Add(1)
			if p.RetryAfter > 0 {
				secs := (p.RetryAfter + time.Second - 1) / time.Second
				w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
			}
			writeJSONError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "injected fault: rate limited")
			return
		case fail:
			f.errs.Add(1)
			status := p.ErrorStatus
			if status == 0 {
				status = http.StatusServiceUnavailable
			}
			writeJSONError(w, status, "server_error", "injected fault: upstream error")
			return
		}
		if d := p.PrefillDelay + jitter; d > 0 {
			f.delayed.Add(1)
			if !sleepCtx(r.Context(), d) {
				return
			}
		}
		if v == reset {
			f.resets.Add(1)
			resetConn(w)
			return
		}
		if p.TokenDelay > 0 {
			w = &slowFlusher{ResponseWriter: w, ctx: r.Context(), delay: p.TokenDelay}
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSONError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":%q,"code":%d}}`+"\n", msg, typ, status)
}

// resetConn closes the client connection abruptly: an RST on HTTP/1, an
// aborted stream on HTTP/2.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // net/http aborts the stream silently
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// slowFlusher delays every Flush. It keeps Hijack and exposes the original
// writer through Unwrap (for http.ResponseController).
type slowFlusher struct {
	http.ResponseWriter
	ctx   context.Context
	delay time.Duration
}

func (s *slowFlusher) Flush() { _ = s.FlushError() }

func (s *slowFlusher) FlushError() error {
	if !sleepCtx(s.ctx, s.delay) {
		return s.ctx.Err()
	}
	return http.NewResponseController(s.ResponseWriter).Flush()
}

func (s *slowFlusher) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

func (s *slowFlusher) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ProviderFault switches a [ProviderFaults] to Plan; undo restores the
// previous plan. It needs no privilege.
type ProviderFault struct {
	// Faults is the middleware to change. Required.
	Faults *ProviderFaults
	// Plan is applied while the fault lasts.
	Plan ProviderPlan
}

// Inject applies the plan.
func (p ProviderFault) Inject(ctx context.Context) (undo func() error, err error) {
	if p.Faults == nil {
		return nil, errors.New("faults: provider fault needs a ProviderFaults")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	old := p.Faults.Plan()
	p.Faults.Set(p.Plan)
	var once sync.Once
	return func() error {
		once.Do(func() { p.Faults.Set(old) })
		return nil
	}, nil
}

// RetrievalPlan describes the faults of a retrieval backend (vector
// database, search API). Its zero value injects nothing.
type RetrievalPlan struct {
	// Delay is waited before the handler runs, plus a uniform random extra
	// in [0, Jitter).
	Delay, Jitter time.Duration
	// ErrorRate is the share of requests answered ErrorStatus (default 503).
	ErrorRate   float64
	ErrorStatus int
	// Seed seeds the per-request draws.
	Seed uint64
}

// SlowRetrieval is HTTP middleware that makes a retrieval backend slow or
// failing. The zero value is ready and injects nothing; Set changes the plan
// at run time. It needs no privilege.
type SlowRetrieval struct {
	f ProviderFaults
}

// Set replaces the plan.
func (s *SlowRetrieval) Set(p RetrievalPlan) {
	s.f.Set(ProviderPlan{PrefillDelay: p.Delay, Jitter: p.Jitter, ErrorRate: p.ErrorRate, ErrorStatus: p.ErrorStatus, Seed: p.Seed})
}

// Plan returns the current plan.
func (s *SlowRetrieval) Plan() RetrievalPlan {
	p := s.f.Plan()
	return RetrievalPlan{Delay: p.PrefillDelay, Jitter: p.Jitter, ErrorRate: p.ErrorRate, ErrorStatus: p.ErrorStatus, Seed: p.Seed}
}

// Stats returns the counters so far (Throttled and Resets stay 0).
func (s *SlowRetrieval) Stats() ProviderStats { return s.f.Stats() }

// Wrap returns h with the current plan applied per request.
func (s *SlowRetrieval) Wrap(h http.Handler) http.Handler { return s.f.Wrap(h) }

// RetrievalFault switches a [SlowRetrieval] to Plan; undo restores the
// previous plan. It needs no privilege.
type RetrievalFault struct {
	// Backend is the middleware to change. Required.
	Backend *SlowRetrieval
	// Plan is applied while the fault lasts.
	Plan RetrievalPlan
}

// Inject applies the plan.
func (r RetrievalFault) Inject(ctx context.Context) (undo func() error, err error) {
	if r.Backend == nil {
		return nil, errors.New("faults: retrieval fault needs a SlowRetrieval")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	old := r.Backend.Plan()
	r.Backend.Set(r.Plan)
	var once sync.Once
	return func() error {
		once.Do(func() { r.Backend.Set(old) })
		return nil
	}, nil
}
