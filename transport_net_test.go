package slo

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/providertest"
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestDNSDelay resolves the provider's name through a DNS server that
// delays its answers by 150 ms: the call's decomposition shows it. The
// lookup lies between truths load cannot move: it cannot end before the
// server's delayed answer, nor outlast the dial that made it.
func TestDNSDelay(t *testing.T) {
	const delay = 150 * time.Millisecond
	dns, err := faults.StartDNS(faults.DNSConfig{Delay: delay,
		Hosts: map[string]netip.Addr{"llm.test": netip.MustParseAddr("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	srv := providertest.NewServer(providertest.Always(providertest.Response{Chunks: 3}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	url := "http://llm.test:" + strconv.Itoa(port) + "/v1/chat/completions"

	h := newHarness(t)
	dialer := &net.Dialer{Resolver: dns.Resolver()}
	var dialMs float64 // the last dial, lookup included, as the dialer's caller saw it
	base := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		c, err := dialer.DialContext(ctx, network, addr)
		dialMs = durMs(time.Since(start))
		return c, err
	}}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: h.t.Transport(base)}
	if _, _, err := post(t, client, url, `{"model":"m","stream":true}`); err != nil {
		t.Fatal(err)
	}
	base.CloseIdleConnections() // the failing lookup below resolves and dials again
	got := attrMap(h.lastClientSpan(t))[semconv.SLORetrievalDNSMs].AsFloat64()
	if got < durMs(delay) || got > dialMs {
		t.Errorf("dns_ms = %.2f, want within the truth [%v injected, %.2f the dial took]", got, delay, dialMs)
	}
	t.Logf("dns_ms = %.2f (injected %v, the dial %.2f ms)", got, delay, dialMs)
	a := attrMap(h.lastClientSpan(t))
	wantAttrs(t, h.lastClientSpan(t), map[attribute.Key]any{
		semconv.ServerAddress: "llm.test", semconv.ServerPort: int64(port), semconv.SLONetConnReused: false})
	if a[semconv.SLONetConnectMs].AsFloat64() <= 0 || a[semconv.SLONetConnectMs].AsFloat64() > 100 {
		t.Errorf("connect_ms = %v", a[semconv.SLONetConnectMs].AsFloat64())
	}
	if runtime.GOOS == "linux" && a[semconv.SLONetSocketCookie].AsInt64() == 0 {
		t.Error("no socket cookie on the span")
	}
	m := h.metrics(t)
	if hist, ok := m[semconv.MetricClientDNS].(metricdata.Histogram[float64]); !ok || len(hist.DataPoints) != 1 {
		t.Errorf("dns histogram = %#v", m[semconv.MetricClientDNS])
	}

	// A reused connection: no DNS, no connect.
	if _, _, err := post(t, client, url, `{"model":"m"}`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := post(t, client, url, `{"model":"m"}`); err != nil {
		t.Fatal(err)
	}
	s := h.lastClientSpan(t)
	wantAttrs(t, s, map[attribute.Key]any{semconv.SLONetConnReused: true})
	noAttrs(t, s, semconv.SLORetrievalDNSMs, semconv.SLONetConnectMs)

	// A failing resolver.
	dns.SetDelay(0)
	dns.SetMode(faults.DNSNXDomain)
	base.CloseIdleConnections()
	if _, _, err := post(t, client, url, `{"model":"m"}`); err == nil {
		t.Fatal("no error with NXDOMAIN")
	}
	wantAttrs(t, h.lastClientSpan(t), map[attribute.Key]any{semconv.ErrorType: "dns"})
}

// TestSlowTLS serves a provider over TLS with a 120 ms handshake delay: the
// call's decomposition shows it in tls_ms and network_ms. The handshake
// lies between truths taken where it happens, whatever the load: it cannot
// end before the server's delayed answer (at least 120 ms after the
// ClientHello), nor start before the dial returned or end after the server
// began serving the request sent over it.
func TestSlowTLS(t *testing.T) {
	const delay = 120 * time.Millisecond
	// Borrow httptest's certificate and a client that trusts it.
	tmp := httptest.NewTLSServer(http.NotFoundHandler())
	cfg := tmp.TLS.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	base := tmp.Client().Transport.(*http.Transport).Clone()
	tmp.Close()
	defer base.CloseIdleConnections()
	var mu sync.Mutex
	var dialed, served time.Time
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		mu.Lock()
		dialed = time.Now()
		mu.Unlock()
		return c, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	slow := faults.SlowTLSListener(ln, cfg, delay)
	provider := providertest.NewHandler(providertest.Always(providertest.Response{Chunks: 3}))
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served = time.Now()
		mu.Unlock()
		provider.ServeHTTP(w, r)
	})}
	go server.Serve(slow)
	defer server.Shutdown(context.Background())
	url := "https://" + ln.Addr().String() + "/v1/messages"

	h := newHarness(t)
	client := &http.Client{Transport: h.t.Transport(base)}
	if _, _, err := post(t, client, url, `{"model":"claude","stream":true}`); err != nil {
		t.Fatal(err)
	}
	a := attrMap(h.lastClientSpan(t))
	got := a[semconv.SLONetTLSMs].AsFloat64()
	if d := a[semconv.SLORetrievalNetworkMs].AsFloat64() - a[semconv.SLONetConnectMs].AsFloat64() - got; d < -0.01 || d > 0.01 {
		t.Errorf("network_ms %.3f != connect_ms + tls_ms", a[semconv.SLORetrievalNetworkMs].AsFloat64())
	}
	mu.Lock()
	upper := durMs(served.Sub(dialed))
	mu.Unlock()
	if got < durMs(delay) || got > upper {
		t.Errorf("tls_ms = %.2f, want within the truth [%v injected, %.2f from the dial's return to the request's arrival]", got, delay, upper)
	}
	t.Logf("tls_ms = %.2f (injected %v; dial return to request arrival %.2f ms)", got, delay, upper)
	wantAttrs(t, h.lastClientSpan(t), map[attribute.Key]any{semconv.GenAIProviderName: "anthropic",
		semconv.SLOOutputChunks: int64(3)})
}

func TestSocketCookie(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	a, b := socketCookie(c1), socketCookie(c2)
	if runtime.GOOS != "linux" {
		if a != 0 || b != 0 {
			t.Errorf("cookies %d %d off Linux", a, b)
		}
		return
	}
	if a == 0 || b == 0 || a == b {
		t.Errorf("cookies %d, %d: want distinct non-zero", a, b)
	}
	if socketCookie(c1) != a {
		t.Error("cookie not stable")
	}
	if socketCookie(nil) != 0 {
		t.Error("nil conn")
	}
}
