package slo

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/providertest"
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestDNSDelay resolves the provider's name through a DNS server that
// delays its answers by 150 ms: the call's decomposition shows it.
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
	base := &http.Transport{DialContext: dialer.DialContext}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: h.t.Transport(base)}
	for attempt := 1; ; attempt++ {
		before := time.Now()
		if _, _, err := post(t, client, url, `{"model":"m","stream":true}`); err != nil {
			t.Fatal(err)
		}
		spent := durMs(time.Since(before))
		base.CloseIdleConnections() // the next attempt resolves and dials again
		a := attrMap(h.lastClientSpan(t))
		got := a[semconv.SLORetrievalDNSMs].AsFloat64()
		// The resolver cannot answer before the delay; above it, allow
		// 10 ms, or what a loaded machine added to the whole call.
		if got >= durMs(delay)-1 && got <= durMs(delay)+10 {
			t.Logf("dns_ms = %.2f (injected %v), call %.1f ms", got, delay, spent)
			break
		}
		if attempt == 3 || got < durMs(delay)-1 {
			t.Fatalf("dns_ms = %.2f, want %v -1/+10 ms", got, delay)
		}
		t.Logf("attempt %d: dns_ms = %.2f; retrying", attempt, got)
	}
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
// call's decomposition shows it in tls_ms and network_ms.
func TestSlowTLS(t *testing.T) {
	const delay = 120 * time.Millisecond
	// Borrow httptest's certificate and a client that trusts it.
	tmp := httptest.NewTLSServer(http.NotFoundHandler())
	cfg := tmp.TLS.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	base := tmp.Client().Transport.(*http.Transport).Clone()
	tmp.Close()
	defer base.CloseIdleConnections()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	slow := faults.SlowTLSListener(ln, cfg, delay)
	handler := providertest.NewHandler(providertest.Always(providertest.Response{Chunks: 3}))
	server := &http.Server{Handler: handler}
	go server.Serve(slow)
	defer server.Shutdown(context.Background())
	url := "https://" + ln.Addr().String() + "/v1/messages"

	h := newHarness(t)
	client := &http.Client{Transport: h.t.Transport(base)}
	handshake := func(d time.Duration) (tlsMs float64) {
		slow.SetDelay(d)
		if _, _, err := post(t, client, url, `{"model":"claude","stream":true}`); err != nil {
			t.Fatal(err)
		}
		base.CloseIdleConnections()
		a := attrMap(h.lastClientSpan(t))
		got := a[semconv.SLONetTLSMs].AsFloat64()
		network := a[semconv.SLORetrievalNetworkMs].AsFloat64()
		if d := network - a[semconv.SLONetConnectMs].AsFloat64() - got; d < -0.01 || d > 0.01 {
			t.Errorf("network_ms %.3f != connect_ms + tls_ms", network)
		}
		return got
	}
	for attempt := 1; ; attempt++ {
		// The handshake's own cost (key exchange, signatures) on this
		// machine, measured just before, is added to the injected delay.
		own := handshake(0)
		got := handshake(delay)
		if got-own >= durMs(delay)-1 && got-own <= durMs(delay)+10 {
			t.Logf("tls_ms = %.2f (injected %v, the handshake itself %.2f ms)", got, delay, own)
			break
		}
		if attempt == 3 || got < durMs(delay)-1 {
			t.Fatalf("tls_ms = %.2f, want %v + %.2f ms -1/+10 ms", got, delay, own)
		}
		t.Logf("attempt %d: tls_ms = %.2f, handshake itself %.2f ms; retrying", attempt, got, own)
	}
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
