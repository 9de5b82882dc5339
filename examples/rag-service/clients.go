package main

import (
	"net"
	"net/http"
	"time"

	"github.com/llmslo/slo"
)

// newTransport returns the transport of the service's outbound calls: to the
// model provider, or (retrieval) to the vector store, both measured on the
// client side by the tracker (httptrace timings, provider status, Retry-After,
// the stream's TTFT), and attached to the server request they serve.
func newTransport(t *slo.Tracker, provider string, retrieval bool) http.RoundTripper {
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	if retrieval {
		return t.Transport(base, slo.Retrieval())
	}
	return t.Transport(base, slo.WithProviderName(provider))
}
