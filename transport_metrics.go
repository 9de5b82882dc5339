package slo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptrace"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"
	"go.opentelemetry.io/otel/trace"
)

// clientState is the client side's part of a Tracker: its instruments,
// created on first use, and a pool of request-body peek buffers. The zero
// value is ready to use.
type clientState struct {
	once  sync.Once
	ins   *clientInstruments
	peek  sync.Pool
	attrs memo[clientAttrKey, *clientAttrs]
}

// clientState returns the tracker's client state, creating its instruments
// on first use.
func (t *Tracker) clientState() *clientState {
	return &t.client
}

// clientInstruments returns the client-side instruments, created on first use.
func (t *Tracker) clientInstruments() *clientInstruments {
	cs := &t.client
	cs.once.Do(func() {
		meter := t.cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version()), metric.WithSchemaURL(semconv.SchemaURL))
		ins, err := newClientInstruments(meter, t.cfg.semconv)
		if err != nil {
			t.cfg.errorHandler(fmt.Errorf("slo: create client instruments: %w", err))
		}
		if t.cfg.registerer != nil && !t.closed.Load() {
			p, err := newClientProm(t.cfg.registerer, t.cfg.semconv)
			if err != nil {
				t.cfg.errorHandler(fmt.Errorf("slo: %w", err))
			}
			ins.prom = p
		}
		cs.ins = ins
	})
	return cs.ins
}

// closeClient unregisters the client-side Prometheus collectors; Close calls it.
func (t *Tracker) closeClient() {
	cs := &t.client
	cs.once.Do(func() { cs.ins = &clientInstruments{} }) // no instruments after Close
	if cs.ins != nil && cs.ins.prom != nil {
		cs.ins.prom.unregister()
	}
}

func (cs *clientState) getPeekBuf() *[maxPeek]byte {
	if b, ok := cs.peek.Get().(*[maxPeek]byte); ok {
		return b
	}
	return new([maxPeek]byte)
}

func (cs *clientState) putPeekBuf(b *[maxPeek]byte) { cs.peek.Put(b) }

// clientInstruments are the OpenTelemetry instruments of the client side:
// those of the v1.41.0 GenAI conventions (zero unless asked for) and, when
// asked for, inf, those of the latest ones. Every field may be a no-op
// instrument; the zero value records nothing.
type clientInstruments struct {
	inf       *inferenceInstruments
	v141      bool // the v1.41.0 inference metrics are asked for
	duration  genaiconv.ClientOperationDuration
	ttfc      genaiconv.ClientOperationTimeToFirstChunk
	tpoc      genaiconv.ClientOperationTimePerOutputChunk
	tokens    genaiconv.ClientTokenUsage
	dns       metric.Float64Histogram
	connect   metric.Float64Histogram
	tls       metric.Float64Histogram
	ttfb      metric.Float64Histogram
	retrieval metric.Float64Histogram
	retries   metric.Int64Counter
	prom      *clientProm
	ok        bool
}

// bucketsNet are the boundaries of the network-phase histograms (DNS,
// connect, TLS), in seconds.
var bucketsNet = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func newClientInstruments(m metric.Meter, sc Semconv) (*clientInstruments, error) {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	o := &clientInstruments{}
	var err error
	// gen_ai.client.operation.duration stays in the latest conventions for
	// calls that are not inference (embeddings).
	o.duration, err = genaiconv.NewClientOperationDuration(m, metric.WithExplicitBucketBoundaries(bucketsDuration...))
	add(err)
	if o.v141 = sc&SemconvV141 != 0; o.v141 {
		o.ttfc, err = genaiconv.NewClientOperationTimeToFirstChunk(m, metric.WithExplicitBucketBoundaries(bucketsTTFT...))
		add(err)
		o.tpoc, err = genaiconv.NewClientOperationTimePerOutputChunk(m, metric.WithExplicitBucketBoundaries(bucketsTPOT...))
		add(err)
		o.tokens, err = genaiconv.NewClientTokenUsage(m, metric.WithExplicitBucketBoundaries(bucketsTokens...))
		add(err)
	}
	if sc&SemconvLatest != 0 {
		o.inf, err = newInferenceInstruments(m)
		if err != nil {
			add(errSemconvInstruments(err))
		}
	}
	hist := func(name, desc string, b []float64) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(b...))
		add(err)
		return h
	}
	o.dns = hist(semconv.MetricClientDNS, "DNS resolution time of an outbound call (httptrace).", bucketsNet)
	o.connect = hist(semconv.MetricClientConnect, "TCP connect time of an outbound call (httptrace).", bucketsNet)
	o.tls = hist(semconv.MetricClientTLS, "TLS handshake time of an outbound call (httptrace).", bucketsNet)
	o.ttfb = hist(semconv.MetricClientTTFB, "Time from the start of an outbound call to the first response byte.", bucketsTTFT)
	o.retrieval = hist(semconv.MetricClientRetrieval, "Duration of a call to a retrieval backend.", bucketsDuration)
	o.retries, err = m.Int64Counter(semconv.MetricClientRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("Outbound attempts the SDK marked as retries, by provider."))
	add(err)
	o.ok = len(errs) == 0
	return o, errors.Join(errs...)
}

// clientProm mirrors the client instruments for a Prometheus registry.
type clientProm struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector
	duration   *prometheus.HistogramVec
	ttfc       *prometheus.HistogramVec
	tpoc       *prometheus.HistogramVec
	tokens     *prometheus.HistogramVec
	dns        *prometheus.HistogramVec
	connect    *prometheus.HistogramVec
	tls        *prometheus.HistogramVec
	ttfb       *prometheus.HistogramVec
	retrieval  *prometheus.HistogramVec
	retries    *prometheus.CounterVec
	inf        *inferenceProm // the latest conventions' metrics, when asked for
	v141       bool           // the v1.41.0 inference metrics are registered
}

func newClientProm(reg prometheus.Registerer, sc Semconv) (*clientProm, error) {
	p := &clientProm{reg: reg}
	h := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		p.collectors = append(p.collectors, v)
		return v
	}
	base := promBaseLabels // operation, provider, request model
	with := func(extra ...string) []string { return append(append([]string(nil), base...), extra...) }
	p.duration = h("gen_ai_client_operation_duration_seconds", "GenAI client operation duration.", bucketsDuration, with("error_type")...)
	if p.v141 = sc&SemconvV141 != 0; p.v141 {
		p.ttfc = h("gen_ai_client_operation_time_to_first_chunk_seconds", "Time from the start of a streaming call to its first output chunk.", bucketsTTFT, base...)
		p.tpoc = h("gen_ai_client_operation_time_per_output_chunk_seconds", "Time between consecutive output chunks of a streaming call.", bucketsTPOT, base...)
		p.tokens = h("gen_ai_client_token_usage_tokens", "Tokens used per call, as reported by the provider.", bucketsTokens, with("gen_ai_token_type")...)
	}
	if sc&SemconvLatest != 0 {
		p.addInferenceProm()
	}
	p.dns = h("llm_slo_client_dns_duration_seconds", "DNS resolution time of an outbound call.", bucketsNet, "server_address")
	p.connect = h("llm_slo_client_connect_duration_seconds", "TCP connect time of an outbound call.", bucketsNet, "server_address")
	p.tls = h("llm_slo_client_tls_duration_seconds", "TLS handshake time of an outbound call.", bucketsNet, "server_address")
	p.ttfb = h("llm_slo_client_time_to_first_byte_seconds", "Time from the start of an outbound call to the first response byte.", bucketsTTFT, "gen_ai_provider_name", "server_address")
	p.retrieval = h("llm_slo_client_retrieval_duration_seconds", "Duration of a call to a retrieval backend.", bucketsDuration, "server_address", "error_type")
	p.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_slo_client_retries_total",
		Help: "Outbound attempts the SDK marked as retries, by provider."}, []string{"gen_ai_provider_name"})
	p.collectors = append(p.collectors, p.retries)
	for i, c := range p.collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range p.collectors[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("register client prometheus collector: %w", err)
		}
	}
	return p, nil
}

func (p *clientProm) unregister() {
	for _, c := range p.collectors {
		p.reg.Unregister(c)
	}
}

// chunkRecorder records gen_ai.client.operation.time_per_output_chunk for
// each output chunk after the first, without allocating: its attribute set
// and Prometheus child are resolved once per call, at the first gap.
type chunkRecorder struct {
	e *clientAttrs
}

func (r *chunkRecorder) record(c *call, gap time.Duration) {
	if c.ins == nil {
		return
	}
	if r.e == nil {
		resp := ""
		if c.obs != nil {
			resp = c.obs.Model()
		}
		r.e = c.attrs(resp, "")
	}
	v := gap.Seconds()
	if h := c.ins.tpoc.Float64Histogram; h != nil {
		h.Record(c.ctx, v, r.e.base...)
	}
	if r.e.pTPOC != nil {
		r.e.pTPOC.Observe(v)
	}
	if inf := c.ins.inf; inf != nil && isInference(c.operation) {
		if inf.tpoc != nil {
			inf.tpoc.Record(c.ctx, v, r.e.base...)
		}
		if r.e.inf != nil && r.e.inf.pTPOC != nil {
			r.e.inf.pTPOC.Observe(v)
		}
	}
}

// clientAttrKey identifies the attribute sets of a call's metrics.
type clientAttrKey struct {
	op, prov, model, resp string
	addr                  string
	port                  int
	errType               string
	retrieval             bool
}

// clientAttrs are the precomputed measurement options and Prometheus
// children of one clientAttrKey.
type clientAttrs struct {
	base, dur, in, out, ttfb, net, retrieval []metric.RecordOption
	retries                                  []metric.AddOption

	pDur, pTTFC, pTPOC, pIn, pOut, pTTFB, pDNS, pConn, pTLS, pRetrieval prometheus.Observer
	pRetries                                                            prometheus.Counter

	inf *inferenceAttrs // the latest conventions' sets; nil for a call that is not inference
}

// clientAttrCacheMax bounds the cached attribute sets; beyond it they are
// built per call.
const clientAttrCacheMax = 1024

// attrs returns the attribute sets of the call, from the tracker's cache.
func (c *call) attrs(resp, errType string) *clientAttrs {
	model := c.model
	if model == "" {
		model = resp
	}
	model, resp = c.folds.fold(c.t.models, model, resp)
	k := clientAttrKey{op: c.operation, prov: c.provider, model: model, resp: resp, addr: c.serverAddr,
		port: c.serverPort, errType: errType, retrieval: c.retrieval}
	return c.t.client.attrs.get(nil, clientAttrCacheMax, k, func() *clientAttrs { return newClientAttrs(k, c.ins) })
}

func newClientAttrs(k clientAttrKey, ins *clientInstruments) *clientAttrs {
	p := ins.prom
	set := func(kv ...attribute.KeyValue) []metric.RecordOption {
		return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
	}
	addr := semconv.ServerAddress.String(k.addr)
	e := &clientAttrs{net: set(addr)}
	if k.retrieval {
		e.retrieval = set(addr, semconv.ErrorType.String(k.errType))
		if k.errType == "" {
			e.retrieval = e.net
		}
		if p != nil {
			e.pRetrieval = p.retrieval.WithLabelValues(k.addr, k.errType)
			e.pDNS, e.pConn, e.pTLS = p.dns.WithLabelValues(k.addr), p.connect.WithLabelValues(k.addr), p.tls.WithLabelValues(k.addr)
		}
		return e
	}
	base := []attribute.KeyValue{semconv.GenAIOperationName.String(k.op), semconv.GenAIProviderName.String(k.prov)}
	if k.model != "" {
		base = append(base, semconv.GenAIRequestModel.String(k.model))
	}
	if k.resp != "" {
		base = append(base, semconv.GenAIResponseModel.String(k.resp))
	}
	if k.addr != "" {
		base = append(base, addr)
	}
	if k.port > 0 {
		base = append(base, semconv.ServerPort.Int(k.port))
	}
	with := func(extra ...attribute.KeyValue) []metric.RecordOption {
		return set(append(append([]attribute.KeyValue(nil), base...), extra...)...)
	}
	e.base, e.dur = with(), with()
	if k.errType != "" {
		e.dur = with(semconv.ErrorType.String(k.errType))
	}
	e.in = with(semconv.GenAITokenType.String("input"))
	e.out = with(semconv.GenAITokenType.String("output"))
	prov := semconv.GenAIProviderName.String(k.prov)
	e.ttfb = set(prov, addr)
	e.retries = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(prov))}
	if ins.inf != nil && isInference(k.op) {
		var ip *inferenceProm
		if p != nil {
			ip = p.inf
		}
		e.inf = newInferenceAttrs(k, base, ip)
	}
	if p != nil {
		if p.v141 || !isInference(k.op) {
			e.pDur = p.duration.WithLabelValues(k.op, k.prov, k.model, k.errType)
		}
		if p.v141 {
			e.pTTFC = p.ttfc.WithLabelValues(k.op, k.prov, k.model)
			e.pTPOC = p.tpoc.WithLabelValues(k.op, k.prov, k.model)
			e.pIn = p.tokens.WithLabelValues(k.op, k.prov, k.model, "input")
			e.pOut = p.tokens.WithLabelValues(k.op, k.prov, k.model, "output")
		}
		e.pTTFB = p.ttfb.WithLabelValues(k.prov, k.addr)
		e.pDNS, e.pConn, e.pTLS = p.dns.WithLabelValues(k.addr), p.connect.WithLabelValues(k.addr), p.tls.WithLabelValues(k.addr)
		e.pRetries = p.retries.WithLabelValues(k.prov)
	}
	return e
}

// record records the metrics of a finished call.
func (c *call) record(r *callResult) {
	ins := c.ins
	if ins == nil || !ins.ok && ins.prom == nil {
		return
	}
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	e := c.attrs(r.respModel, r.errorType)
	if r.hasDNS {
		recordHist(ctx, ins.dns, r.dns, e.net, e.pDNS)
	}
	if r.hasConnect {
		recordHist(ctx, ins.connect, r.connect, e.net, e.pConn)
	}
	if r.hasTLS {
		recordHist(ctx, ins.tls, r.tls, e.net, e.pTLS)
	}
	if c.retrieval {
		recordHist(ctx, ins.retrieval, r.e2e, e.retrieval, e.pRetrieval)
		return
	}
	if e.inf != nil {
		c.recordInference(ctx, r, e)
	}
	if ins.v141 || !isInference(c.operation) {
		recordHist(ctx, ins.duration.Float64Histogram, r.e2e, e.dur, e.pDur)
	}
	if r.hasTTFT {
		recordHist(ctx, ins.ttfc.Float64Histogram, r.ttft, e.base, e.pTTFC)
	}
	if r.hasTTFB {
		recordHist(ctx, ins.ttfb, r.ttfb, e.ttfb, e.pTTFB)
	}
	if h := ins.tokens.Int64Histogram; h != nil {
		if r.inTokens >= 0 {
			h.Record(ctx, r.inTokens, e.in...)
		}
		if r.reportedOut >= 0 {
			h.Record(ctx, r.reportedOut, e.out...)
		}
	}
	if e.pIn != nil && r.inTokens >= 0 {
		e.pIn.Observe(float64(r.inTokens))
	}
	if e.pOut != nil && r.reportedOut >= 0 {
		e.pOut.Observe(float64(r.reportedOut))
	}
	if c.retryCount > 0 {
		if ins.retries != nil {
			ins.retries.Add(ctx, 1, e.retries...)
		}
		if e.pRetries != nil {
			e.pRetries.Inc()
		}
	}
}

func recordHist(ctx context.Context, h metric.Float64Histogram, d time.Duration, opts []metric.RecordOption, p prometheus.Observer) {
	v := d.Seconds()
	if h != nil {
		h.Record(ctx, v, opts...)
	}
	if p != nil {
		p.Observe(v)
	}
}

// since returns the nanoseconds from the call's start, at least 1.
func (c *call) since() int64 { return max(int64(time.Since(c.start)), 1) }

// clientTrace returns the httptrace hooks of the call. They may run on the
// transport's dialing goroutines, so they only touch atomics.
func (c *call) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { c.dnsStart.CompareAndSwap(0, c.since()) },
		DNSDone: func(httptrace.DNSDoneInfo) {
			c.dnsDone.Store(c.since())
			if s := c.dnsStart.Load(); s > 0 {
				c.t.kernelDNS(c.kid, c.serverAddr, c.start.Add(time.Duration(s)), time.Now())
			}
		},
		ConnectStart: func(string, string) {
			c.connStart.CompareAndSwap(0, c.since())
		},
		ConnectDone: func(_, addr string, err error) {
			if err == nil {
				c.connDone.Store(c.since())
			}
			if ap, perr := netip.ParseAddrPort(addr); perr == nil {
				c.t.kernelDial(c.kid, ap, c.start.Add(time.Duration(c.connStart.Load())), time.Now())
			}
		},
		TLSHandshakeStart: func() { c.tlsStart.CompareAndSwap(0, c.since()) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				c.tlsDone.Store(c.since())
			}
		},
		GetConn:              func(string) { c.getConn.CompareAndSwap(0, c.since()) },
		GotConn:              c.gotConnection,
		WroteRequest:         func(httptrace.WroteRequestInfo) { c.wroteReq.Store(c.since()) },
		GotFirstResponseByte: func() { c.gotTTB.CompareAndSwap(0, c.since()) },
	}
}

// gotConnection notes the connection the call got and hands it, with its
// socket cookie and addresses, to the tracker's kernel side for the time the
// call owns it.
func (c *call) gotConnection(info httptrace.GotConnInfo) {
	if !c.gotConn.CompareAndSwap(0, c.since()) {
		return
	}
	c.reused.Store(info.Reused)
	if info.Conn == nil {
		return
	}
	ci := connInfo{Host: c.serverAddr, ID: c.kid}
	if g := c.getConn.Load(); g > 0 {
		ci.Since = c.start.Add(time.Duration(g))
	}
	ci.Cookie = socketCookie(info.Conn)
	if a, ok := info.Conn.LocalAddr().(*net.TCPAddr); ok {
		ci.Local = a.AddrPort()
	}
	if a, ok := info.Conn.RemoteAddr().(*net.TCPAddr); ok {
		ci.Remote = a.AddrPort()
	}
	if c.span != nil {
		ci.Span = c.span.SpanContext()
	} else {
		ci.Span = trace.SpanContextFromContext(c.ctx)
	}
	c.mu.Lock()
	if c.done {
		// The call already ended (its context was cancelled while this
		// connection was being handed over): nothing owns it.
		c.mu.Unlock()
		return
	}
	c.conn, c.hasConn = ci, true
	c.mu.Unlock()
	c.t.connAcquired(ci)
}

// rawConn unwraps TLS and similar wrappers down to a conn with a file descriptor.
func rawConn(conn net.Conn) (syscall.Conn, bool) {
	for range 8 {
		if sc, ok := conn.(syscall.Conn); ok {
			return sc, true
		}
		u, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			return nil, false
		}
		conn = u.NetConn()
	}
	return nil, false
}

// classifyErr maps a round-trip or body-read error to error.type.
func classifyErr(err error) string {
	if err == nil {
		return ""
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &opErr) && opErr.Op == "dial", errors.Is(err, syscall.ECONNREFUSED):
		return "connect"
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &alert),
		errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return "tls"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return "reset"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "request canceled"):
		return "cancelled"
	case strings.Contains(msg, "stream error"), strings.Contains(msg, "GOAWAY"),
		strings.Contains(msg, "connection reset"), strings.Contains(msg, "server closed"),
		strings.Contains(msg, "unexpected EOF"):
		return "reset"
	case strings.Contains(msg, "timeout"):
		return "timeout"
	}
	return "_OTHER"
}
