package slo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/correlate"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// SignalStatus is the state of one kernel or runtime signal in the tracker.
type SignalStatus struct {
	// Signal is the signal name ("dns_latency", "tcp_retransmit", ...).
	Signal string `json:"signal"`
	// Path is how it is observed: "in_process" (probes loaded in this
	// process), "sidecar", "floor" (an unprivileged substitute, named in
	// Reason), "off", or "starting" while the probes load.
	Path string `json:"path"`
	// State is the probe state: "on", "degraded" or "off".
	State string `json:"state"`
	// Reason says why the signal is not fully on.
	Reason string `json:"reason"`
}

// kernelQueue is the subscription buffer between the probes and the joiner.
const kernelQueue = 4096

// kernelState joins kernel evidence (package probes, through package
// correlate) to requests. A nil *kernelState means "no kernel signals":
// every hook is then a no-op.
type kernelState struct {
	t     *Tracker
	j     *correlate.Joiner
	clock *correlate.Clock
	cfg   kernelConfig

	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	set      *probes.Set // nil until loaded, or when loading failed
	loading  bool
	startErr error

	running    atomic.Bool                // probes delivering
	live       atomic.Pointer[probes.Set] // the set while delivering
	tagErrors  atomic.Int64
	counter    metric.Int64Counter
	prom       *prometheus.CounterVec
	lastCounts joinCounts                       // the counts exportCounts last exported
	reqTiers   [correlate.NumTiers]atomic.Int64 // server requests by the best tier of their kernel evidence
	counterMu  sync.Mutex
}

// kernelReq is the kernel side of one request.
type kernelReq struct {
	id correlate.RequestID
	// sum is the request's kernel summary, set by kernelFinish (on the
	// handler's goroutine, before attribution runs); the zero Summary when
	// probes are off.
	sum correlate.Summary
	// calls gathers the connection evidence of the request's client calls
	// (each joined as a request of its own: kernelCallEnd), added to sum
	// at kernelFinish.
	mu    sync.Mutex
	calls correlate.Summary
}

// startKernel starts the probes and the correlation goroutine, or records why
// not in the tracker status. It runs once, at the end of New. The probes load
// in the background: New does not wait for them.
func (t *Tracker) startKernel() {
	kc := t.cfg.kernel
	if kc.probes.Logger == nil {
		kc.probes.Logger = t.cfg.logger // the path decision (floor, sidecar) is the user's to see
	}
	k := &kernelState{t: t, cfg: kc, clock: correlate.NewClock(), done: make(chan struct{})}
	k.j = correlate.New(kc.join)
	meter := t.cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version()), metric.WithSchemaURL(semconv.SchemaURL))
	var err error
	k.counter, err = meter.Int64Counter(semconv.MetricCorrelation,
		metric.WithDescription("Joins of kernel events to requests, by tier, whether they reached the enrichment threshold, and whether the event had an owner or was node-wide."))
	if err != nil {
		t.cfg.errorHandler(fmt.Errorf("slo: create correlation counter: %w", err))
	}
	if t.cfg.registerer != nil {
		k.prom = prometheus.NewCounterVec(prometheus.CounterOpts{Name: semconv.PromCorrelationTotal,
			Help: "Joins of kernel events to requests, by tier, whether they reached the enrichment threshold, and whether the event had an owner or was node-wide."},
			[]string{"tier", "enriched", "scope"})
		if err := t.cfg.registerer.Register(k.prom); err != nil {
			t.cfg.errorHandler(fmt.Errorf("slo: register %s: %w", semconv.PromCorrelationTotal, err))
			k.prom = nil
		}
	}
	t.kern = k
	if kc.off {
		close(k.done)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	k.loading = true
	go k.run(ctx)
}

// run loads the probes and feeds their events to the joiner until ctx ends.
func (k *kernelState) run(ctx context.Context) {
	defer close(k.done)
	set, err := probes.Start(ctx, k.cfg.probes)
	k.mu.Lock()
	k.loading = false
	k.set, k.startErr = set, err
	k.mu.Unlock()
	if err != nil {
		k.t.cfg.logger.Info("slo: kernel probes unavailable; spans carry httptrace evidence only", "error", err)
		return
	}
	defer set.Close()
	if ctx.Err() != nil {
		return
	}
	events, unsubscribe := set.Subscribe(kernelQueue)
	defer unsubscribe()
	k.running.Store(true)
	defer k.running.Store(false)
	k.live.Store(set)
	defer k.live.Store(nil)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	// Small batches: the joiner's lock is shared with request start and end.
	batch := make([]probes.Event, 0, 64)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			k.j.Flush(k.clock.Now())
			k.exportCounts()
		case ev, ok := <-events:
			if !ok {
				return
			}
			batch = append(batch[:0], ev)
		drain:
			for len(batch) < cap(batch) {
				select {
				case ev, ok := <-events:
					if !ok {
						break drain
					}
					batch = append(batch, ev)
				default:
					break drain
				}
			}
			k.j.AddBatch(batch)
		}
	}
}

// joinCounts are the joiner's join counts by tier, scope (owned 0, node 1)
// and enrichment (weak 0, enriched 1).
type joinCounts [correlate.NumTiers][2][2]uint64

func countJoins(st correlate.Stats) joinCounts {
	var c joinCounts
	for tier := range correlate.NumTiers {
		c[tier][1][1] = st.NodeEnriched[tier]
		c[tier][1][0] = st.NodeJoins[tier] - st.NodeEnriched[tier]
		c[tier][0][1] = st.Enriched[tier] - st.NodeEnriched[tier]
		c[tier][0][0] = st.Joins[tier] - st.Enriched[tier] - c[tier][1][0]
	}
	return c
}

// exportCounts adds the joins since the last call to the correlation counters.
func (k *kernelState) exportCounts() {
	now := countJoins(k.j.Stats())
	k.counterMu.Lock()
	defer k.counterMu.Unlock()
	for tier := correlate.Tier(1); tier < correlate.NumTiers; tier++ {
		for scope, name := range [2]string{semconv.ScopeOwned, semconv.ScopeNode} {
			for enr := range 2 {
				n := now[tier][scope][enr] - k.lastCounts[tier][scope][enr]
				if n == 0 {
					continue
				}
				if k.counter != nil {
					k.counter.Add(context.Background(), int64(n), metric.WithAttributes(
						semconv.SLOCorrelationTier.String(tier.String()), semconv.SLOCorrelationEnriched.Bool(enr == 1),
						semconv.SLOCorrelationScope.String(name)))
				}
				if k.prom != nil {
					k.prom.WithLabelValues(tier.String(), boolLabel(enr == 1), name).Add(float64(n))
				}
			}
		}
	}
	k.lastCounts = now
}

// stopKernel detaches the probes and stops the correlation goroutine. It runs
// once, from Close, before the background goroutine is waited for.
func (t *Tracker) stopKernel() {
	k := t.kern
	if k == nil {
		return
	}
	if k.cancel != nil {
		k.cancel()
	}
	<-k.done
	k.exportCounts()
	if k.prom != nil && t.cfg.registerer != nil {
		t.cfg.registerer.Unregister(k.prom)
	}
}

// kernelRequestStart registers rq as live (its interval starts now).
func (t *Tracker) kernelRequestStart(rq *Request) {
	k := t.kern
	if k == nil {
		return
	}
	rq.kern.id = k.j.Start(k.clock.Mono(rq.start), rq.span.SpanContext())
}

// kernelFinish ends rq's interval at end and keeps its kernel summary in
// rq.kern.sum (the zero Summary when there is no kernel side), with the
// connection evidence of its client calls.
func (t *Tracker) kernelFinish(rq *Request, end time.Time) {
	k := t.kern
	if k == nil {
		return
	}
	rq.kern.sum = k.j.End(rq.kern.id, k.clock.Mono(end))
	rq.kern.mu.Lock()
	rq.kern.sum.AddCall(&rq.kern.calls)
	rq.kern.mu.Unlock()
	if tier := rq.kern.sum.Tier; tier < correlate.NumTiers {
		k.reqTiers[tier].Add(1)
	}
}

// kernelCallStart registers client call c with the joiner as a request of
// its own, from its start: the connections, lookups and dials it makes are
// its, so the kernel events on them join it at the exact tier, whether or
// not a server request encloses it.
func (t *Tracker) kernelCallStart(c *call, sc trace.SpanContext) {
	k := t.kern
	if k == nil {
		return
	}
	c.kid = k.j.Start(k.clock.Mono(c.start), sc)
}

// kernelCallEnd ends call c's interval at end and returns its kernel
// summary; the connection evidence also goes to the enclosing server
// request, if any.
func (t *Tracker) kernelCallEnd(c *call, end time.Time) correlate.Summary {
	k := t.kern
	if k == nil || c.kid == 0 {
		return correlate.Summary{}
	}
	sum := k.j.End(c.kid, k.clock.Mono(end))
	if rq := c.parent; rq != nil {
		rq.kern.mu.Lock()
		rq.kern.calls.AddCall(&sum)
		rq.kern.mu.Unlock()
	}
	return sum
}

// kernelAttributes returns the llm.ebpf.* attributes of a request: the
// kernel summary, completed from the request's client calls (httptrace) for
// what the kernel did not show. path is where the running probes' kernel
// events came from (semconv.PathInProcess, PathSidecar or PathFloor), ""
// when no probes ran.
func kernelAttributes(sum *correlate.Summary, calls *attribution.Calls, path string, dst []attribute.KeyValue) []attribute.KeyValue {
	n := len(dst)
	dst = sum.AppendAttributes(dst)
	kernel := len(dst) > n
	var floor bool
	if sum.DNSLookups == 0 && calls.DNS > 0 {
		dst = append(dst, semconv.EBPFDNSLatencyMs.Float64(durMs(calls.DNS)))
		floor = true
	}
	if sum.Connects == 0 && calls.Connect > 0 {
		dst = append(dst, semconv.EBPFNetConnectLatencyMs.Float64(durMs(calls.Connect)))
		floor = true
	}
	if calls.TLS > 0 {
		dst = append(dst, semconv.EBPFTLSHandshakeMs.Float64(durMs(calls.TLS)))
		floor = true
	}
	if wait := calls.ProviderWait + calls.RetrievalWait; calls.N > 0 && wait > 0 {
		explained := sum.KernelTime() + calls.TLS
		if sum.DNSLookups == 0 {
			explained += calls.DNS
		}
		if sum.Connects == 0 {
			explained += calls.Connect
		}
		if explained > 0 {
			dst = append(dst, semconv.EBPFRetrievalKernelAttribMs.Float64(durMs(min(explained, wait))))
		}
	}
	switch {
	case kernel && (path == semconv.PathInProcess || path == semconv.PathSidecar):
		dst = append(dst, semconv.EBPFSignalPath.String(path))
	case kernel:
		// Runtime pollers only (Go scheduler latency, /proc): the floor.
		dst = append(dst, semconv.EBPFSignalPath.String(semconv.PathFloor))
	case floor:
		dst = append(dst, semconv.EBPFCorrelationConfidence.Float64(1),
			semconv.EBPFCorrelationTier.String(semconv.TierHTTPTrace),
			semconv.EBPFSignalPath.String(semconv.PathFloor))
	}
	return dst
}

// callKernelAttrs returns the llm.ebpf.* attributes of a client call from its
// own kernel summary (nil when it has none), with the signal path
// (in_process or sidecar, as on the request's span).
func (t *Tracker) callKernelAttrs(sum *correlate.Summary) []attribute.KeyValue {
	if sum.IsZero() {
		return nil
	}
	dst := sum.AppendAttributes(make([]attribute.KeyValue, 0, 8))
	if p := t.kern.path(); len(dst) > 0 && p != "" {
		dst = append(dst, semconv.EBPFSignalPath.String(p))
	}
	return dst
}

// KernelStatus reports, per kernel or runtime signal, the path in use and
// why a signal is not fully on.
func (t *Tracker) KernelStatus() []SignalStatus {
	if !t.usable() {
		return nil
	}
	k := t.kern
	out := make([]SignalStatus, 0, len(probes.AllSignals()))
	if k == nil {
		return out
	}
	v := k.view()
	for _, sig := range probes.AllSignals() {
		out = append(out, t.signalStatus(sig, v))
	}
	return out
}

// path returns where the running probes' kernel events come from now
// (probes.Path spells the semconv values), "" when no probes run.
func (k *kernelState) path() string {
	if k == nil {
		return ""
	}
	if s := k.live.Load(); s != nil {
		return s.Path().String()
	}
	return ""
}

// probesView is a snapshot of the probes' loading state.
type probesView struct {
	set      *probes.Set
	loading  bool
	startErr error
}

func (k *kernelState) view() probesView {
	k.mu.Lock()
	defer k.mu.Unlock()
	return probesView{set: k.set, loading: k.loading, startErr: k.startErr}
}

// signalStatus returns the status of sig, given the probes' state v.
func (t *Tracker) signalStatus(sig probes.Signal, v probesView) SignalStatus {
	k := t.kern
	st := SignalStatus{Signal: sig.String(), Path: "off", State: probes.Off.String()}
	switch {
	case k.cfg.off:
		st.Reason = "disabled by WithoutProbes"
	case t.closed.Load():
		st.Reason = "tracker closed"
	case v.loading:
		st.Path, st.Reason = "starting", "probes are loading"
	case v.set == nil:
		st.Reason = "probes unavailable"
		if v.startErr != nil {
			st.Reason = v.startErr.Error()
		}
	default:
		ps := v.set.StatusOf(sig)
		st.State, st.Reason = ps.State.String(), ps.Reason
		if ps.State != probes.Off {
			// in_process or sidecar: where this signal's events come from.
			st.Path = v.set.Path().String()
			if sig > probes.SyscallLatency {
				// /proc and cgroup pollers, runtime/metrics: no privilege.
				st.Path = semconv.PathFloor
			} else if v.set.ViaSidecar(sig) {
				st.Path = semconv.PathSidecar
			}
		}
	}
	if st.Path == "off" || st.Path == "starting" {
		switch sig {
		case probes.DNSLatency, probes.ConnectLatency:
			st.Path, st.Reason = semconv.PathFloor, joinReason(st.Reason, "client calls measure it with httptrace")
		case probes.RunqueueDelay:
			if !k.cfg.off {
				st.Reason = joinReason(st.Reason, "go_sched_latency (runtime/metrics) is the floor for scheduling delay")
			}
		}
	}
	return st
}

// kernelDropped counts events the probes could not hand to the correlation
// goroutine because its queue was full.
func (t *Tracker) kernelDropped() int64 {
	k := t.kern
	if k == nil {
		return 0
	}
	k.mu.Lock()
	set := k.set
	k.mu.Unlock()
	if set == nil {
		return 0
	}
	var n uint64
	for _, s := range set.Stats().Signals {
		n += s.Dropped
	}
	return int64(n)
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

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
	// ID is the call's registration with the joiner (kernelCallStart); 0
	// when there is none.
	ID correlate.RequestID
	// Span is the span context of the call (the client span, or the
	// server request's span when the call has none).
	Span trace.SpanContext
}

func (c *connInfo) conn() correlate.Conn {
	return correlate.Conn{Cookie: c.Cookie, Local: unmap(c.Local), Remote: unmap(c.Remote)}
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	if !ap.IsValid() {
		return ap
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// connAcquired registers c as owned by the call c.ID from now until
// connReleased, and tags the socket in the kernel with c.Span so kernel
// events on it carry the trace. It never blocks.
func (t *Tracker) connAcquired(c connInfo) {
	k := t.kern
	if k == nil {
		return
	}
	if c.ID != 0 {
		since := c.Since
		if since.IsZero() {
			since = time.Now()
		}
		k.j.Acquire(c.ID, c.conn(), k.clock.Mono(since))
	}
	if c.Cookie != 0 && c.Span.IsValid() && k.running.Load() {
		k.mu.Lock()
		set := k.set
		k.mu.Unlock()
		if set != nil {
			if err := set.TagConn(c.Cookie, c.Span.TraceID(), c.Span.SpanID()); err != nil && !errors.Is(err, probes.ErrNotSupported) {
				k.tagErrors.Add(1)
			}
		}
	}
}

// connReleased ends the ownership connAcquired registered (the body was
// read or closed, or the call failed). It never blocks.
func (t *Tracker) connReleased(c connInfo) {
	k := t.kern
	if k == nil {
		return
	}
	k.j.Release(c.conn(), k.clock.Now())
	if c.Cookie != 0 && k.running.Load() {
		k.mu.Lock()
		set := k.set
		k.mu.Unlock()
		if set != nil {
			_ = set.UntagConn(c.Cookie)
		}
	}
}

// kernelDNS reports a DNS lookup of host made by call id between start and
// end (httptrace DNSStart/DNSDone), so kernel DNS events for that name join
// the call. host may carry a port.
func (t *Tracker) kernelDNS(id correlate.RequestID, host string, start, end time.Time) {
	k := t.kern
	if k == nil || id == 0 {
		return
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	k.j.Lookup(id, host, k.clock.Mono(start), k.clock.Mono(end))
}

// kernelDial reports a TCP connect to remote made by call id between start
// and end (httptrace ConnectStart/ConnectDone), so kernel connect events,
// failed ones included, join the call.
func (t *Tracker) kernelDial(id correlate.RequestID, remote netip.AddrPort, start, end time.Time) {
	k := t.kern
	if k == nil || id == 0 {
		return
	}
	k.j.Dial(id, unmap(remote), k.clock.Mono(start), k.clock.Mono(end))
}

// kernelRetry reports a client-level retry toward remote (an attempt the SDK
// marked as a retry, or one answered 429 or 5xx: the transport reports each
// such attempt once, when it ends) to the retry-storm detector: with
// retransmits and failed connects, StormCount of them within StormWindow per
// destination set llm.ebpf.tcp.retry_storm on the requests using it.
func (t *Tracker) kernelRetry(remote netip.AddrPort) {
	k := t.kern
	if k == nil || !remote.IsValid() {
		return
	}
	k.j.Retry(unmap(remote), k.clock.Now())
}
