package probes

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Set is a running group of signals about one process. Its methods are safe
// for concurrent use. Close releases every kernel object and stops the
// pollers; it is idempotent.
type Set struct {
	cfg    Config
	target uint32
	hub    hub

	mu     sync.Mutex
	status [numSignals]SignalStatus

	enabled  [numSignals]atomic.Bool
	counters [numSignals]sigCounters
	limiters [numSignals]*rate.Limiter

	decodeErrors atomic.Uint64
	readerBusy   atomic.Int64
	overheadBits atomic.Uint64

	kern kernel         // nil without BPF
	side *sidecarClient // nil without a sidecar (sidecar_client.go)

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

type sigCounters struct {
	events, dropped, rateLimited, shed atomic.Uint64
}

// kernel is the BPF side of a Set: bpfKernel (kernel_bpf.go) on amd64 and arm64,
// none elsewhere (kernel_noarch.go).
type kernel interface {
	tagConn(cookie uint64, traceID [16]byte, spanID [8]byte) error
	untagConn(cookie uint64) error
	histogram(sig Signal, tgid uint32) (Histogram, error)
	setAttached(sig Signal, on bool) error
	runTime(sig Signal) time.Duration
	lost(sig Signal) uint64
	close() error
}

func newSet(cfg Config, target uint32) *Set {
	s := &Set{cfg: cfg, target: target}
	for i := range s.status {
		s.status[i] = SignalStatus{Signal: Signal(i), State: Off, Reason: "not requested"}
	}
	for sig, lim := range cfg.RateLimit {
		if !sig.valid() {
			continue
		}
		burst := int(math.Ceil(float64(lim)))
		if burst < 1 || lim == rate.Inf {
			burst = 1
		}
		s.limiters[sig] = rate.NewLimiter(lim, burst)
	}
	return s
}

func (s *Set) setStatus(sig Signal, st State, reason string) {
	s.mu.Lock()
	s.status[sig] = SignalStatus{Signal: sig, State: st, Reason: reason}
	s.mu.Unlock()
	s.enabled[sig].Store(st != Off)
}

// emit counts ev, applies the rate limit and delivers it.
func (s *Set) emit(ev *Event) {
	sig := ev.Signal
	if !sig.valid() || !s.enabled[sig].Load() {
		return
	}
	c := &s.counters[sig]
	c.events.Add(1)
	if lim := s.limiters[sig]; lim != nil && !lim.Allow() {
		c.rateLimited.Add(1)
		return
	}
	if d := s.hub.publish(ev); d > 0 {
		c.dropped.Add(d)
	}
}

// Subscribe returns a channel receiving every event from now on, buffered
// to n (at least 1), and a function that detaches and closes it. A
// subscriber that falls behind loses events (counted in [SignalStats]
// Dropped); it never slows the probes down. The channel is closed by the
// cancel function or by [Set.Close].
func (s *Set) Subscribe(n int) (<-chan Event, func()) {
	sub, _ := s.hub.subscribe(n)
	var once sync.Once
	return sub.ch, func() { once.Do(func() { s.hub.unsubscribe(sub) }) }
}

// Status reports every signal's state, in numeric order.
func (s *Set) Status() []SignalStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SignalStatus, 0, numSignals-1)
	for _, st := range s.status[1:] {
		out = append(out, st)
	}
	return out
}

// StatusOf reports the state of one signal.
func (s *Set) StatusOf(sig Signal) SignalStatus {
	if !sig.valid() {
		return SignalStatus{Signal: sig, State: Off, Reason: "unknown signal"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status[sig]
}

// Stats returns the self-metrics: per-signal event, drop, rate-limit, loss
// and shed counters and the overhead guard's last measurement.
func (s *Set) Stats() Stats {
	st := Stats{
		DecodeErrors: s.decodeErrors.Load(),
		ReaderBusy:   time.Duration(s.readerBusy.Load()),
		Overhead:     math.Float64frombits(s.overheadBits.Load()),
	}
	for _, sig := range AllSignals() {
		c := &s.counters[sig]
		ss := SignalStats{
			Signal:      sig,
			State:       s.StatusOf(sig).State,
			Events:      c.events.Load(),
			Dropped:     c.dropped.Load(),
			RateLimited: c.rateLimited.Load(),
			Shed:        c.shed.Load(),
		}
		if s.kern != nil && sig.kernel() && !s.closed.Load() {
			ss.Lost = s.kern.lost(sig)
			ss.BPFRunTime = s.kern.runTime(sig)
		}
		st.Signals = append(st.Signals, ss)
	}
	return st
}

// TagConn stamps kernel events on the socket with this cookie (getsockopt
// SO_COOKIE) with a request's trace and span ids, in the kernel. It
// returns [ErrNotSupported] when no network probe is loaded.
func (s *Set) TagConn(cookie uint64, traceID [16]byte, spanID [8]byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.kern == nil {
		return ErrNotSupported
	}
	return s.kern.tagConn(cookie, traceID, spanID)
}

// UntagConn removes the tag TagConn set; removing an absent tag is not an
// error.
func (s *Set) UntagConn(cookie uint64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.kern == nil {
		return ErrNotSupported
	}
	return s.kern.untagConn(cookie)
}

// Histogram returns the in-kernel latency histogram of sig (RunqueueDelay,
// MemReclaim, BlockIO or SyscallLatency) for the target process, counting
// every sample since Start, not only the outliers delivered as events.
func (s *Set) Histogram(sig Signal) (Histogram, error) {
	if s.closed.Load() {
		return Histogram{}, ErrClosed
	}
	switch sig {
	case RunqueueDelay, MemReclaim, BlockIO, SyscallLatency:
	default:
		return Histogram{}, fmt.Errorf("probes: %s has no histogram", sig)
	}
	if s.kern == nil || s.StatusOf(sig).State == Off {
		return Histogram{}, fmt.Errorf("probes: %s is off: %w", sig, ErrNotSupported)
	}
	return s.kern.histogram(sig, s.target)
}

// Close detaches every program, closes the ring buffer and every
// subscriber channel, and stops the pollers. It is idempotent.
func (s *Set) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.cancel != nil {
			s.cancel()
		}
		if s.kern != nil {
			s.closeErr = s.kern.close()
		}
		s.wg.Wait()
		s.hub.close()
	})
	return s.closeErr
}

// Histogram is a log2 latency histogram.
type Histogram struct {
	// Buckets[i] counts samples in [2^i, 2^(i+1)) nanoseconds.
	Buckets [64]uint64
	// Count is the number of samples.
	Count uint64
	// Sum is the sum of the samples.
	Sum time.Duration
}

// Mean returns the mean sample, 0 without samples.
func (h Histogram) Mean() time.Duration {
	if h.Count == 0 {
		return 0
	}
	return h.Sum / time.Duration(h.Count)
}

// Quantile returns the upper bound of the bucket holding the q-quantile
// (0 < q ≤ 1), 0 without samples.
func (h Histogram) Quantile(q float64) time.Duration {
	var total uint64
	for _, b := range h.Buckets {
		total += b
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, b := range h.Buckets {
		seen += b
		if seen >= rank {
			if i >= 62 {
				return time.Duration(math.MaxInt64)
			}
			return time.Duration(uint64(1) << (i + 1))
		}
	}
	return time.Duration(math.MaxInt64)
}

// Sub returns h minus an earlier snapshot of the same histogram.
func (h Histogram) Sub(earlier Histogram) Histogram {
	out := Histogram{Count: h.Count - earlier.Count, Sum: h.Sum - earlier.Sum}
	for i := range h.Buckets {
		out.Buckets[i] = h.Buckets[i] - earlier.Buckets[i]
	}
	return out
}
