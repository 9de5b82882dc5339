package faults

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/internal/testutil"
	"github.com/miekg/dns"
)

func startTestDNS(t *testing.T, cfg DNSConfig) *DNSServer {
	t.Helper()
	s, err := StartDNS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close dns: %v", err)
		}
	})
	return s
}

var testHosts = map[string]netip.Addr{
	"api.provider.test":   netip.MustParseAddr("10.213.0.7"),
	"Dual.Provider.test.": netip.MustParseAddr("10.213.0.8"),
	"dual.provider.test":  netip.MustParseAddr("fd00::8"),
}

func TestDNSAnswers(t *testing.T) {
	s := startTestDNS(t, DNSConfig{Hosts: testHosts})
	r := s.Resolver()
	ctx := t.Context()
	for _, tc := range []struct {
		host, network string
		want          []netip.Addr
	}{
		{"api.provider.test", "ip4", []netip.Addr{netip.MustParseAddr("10.213.0.7")}},
		{"API.provider.test.", "ip4", []netip.Addr{netip.MustParseAddr("10.213.0.7")}},
		{"dual.provider.test", "ip", []netip.Addr{netip.MustParseAddr("10.213.0.8"), netip.MustParseAddr("fd00::8")}},
		{"dual.provider.test", "ip6", []netip.Addr{netip.MustParseAddr("fd00::8")}},
	} {
		got, err := r.LookupNetIP(ctx, tc.network, tc.host)
		if err != nil {
			t.Errorf("%s %s: %v", tc.network, tc.host, err)
			continue
		}
		slices.SortFunc(got, netip.Addr.Compare)
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", tc.network, tc.host, diff)
		}
	}
	_, err := r.LookupNetIP(ctx, "ip4", "missing.provider.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("missing name: %v, want not found", err)
	}
	if s.Queries() == 0 {
		t.Error("Queries() = 0")
	}
}

func TestDNSOverTCP(t *testing.T) {
	s := startTestDNS(t, DNSConfig{Hosts: testHosts})
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion("api.provider.test.", dns.TypeA)
	r, _, err := c.Exchange(m, s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.213.0.7" {
		t.Fatalf("answer = %v", r.Answer)
	}
}

func TestDNSModes(t *testing.T) {
	s := startTestDNS(t, DNSConfig{Hosts: testHosts})
	q := func() (int, error) {
		c := &dns.Client{Timeout: 300 * time.Millisecond}
		m := new(dns.Msg)
		m.SetQuestion("api.provider.test.", dns.TypeA)
		r, _, err := c.Exchange(m, s.Addr().String())
		if err != nil {
			return -1, err
		}
		return r.Rcode, nil
	}
	for _, tc := range []struct {
		mode DNSMode
		want int
	}{
		{DNSAnswer, dns.RcodeSuccess},
		{DNSServFail, dns.RcodeServerFailure},
		{DNSNXDomain, dns.RcodeNameError},
		{DNSAnswer, dns.RcodeSuccess},
	} {
		s.SetMode(tc.mode)
		got, err := q()
		if err != nil || got != tc.want {
			t.Errorf("mode %v: rcode %d, %v; want %d", tc.mode, got, err, tc.want)
		}
	}
	s.SetMode(DNSDrop)
	if _, err := q(); err == nil {
		t.Error("drop mode answered")
	}
	// The Go resolver reports SERVFAIL as a temporary failure.
	s.SetMode(DNSServFail)
	_, err := s.Resolver().LookupNetIP(t.Context(), "ip4", "api.provider.test")
	var de *net.DNSError
	if !errors.As(err, &de) || de.IsNotFound {
		t.Errorf("servfail lookup: %v", err)
	}
}

// medianLookup returns the median duration of n lookups through r.
func medianLookup(t *testing.T, r *net.Resolver, host string, n int) time.Duration {
	t.Helper()
	return lookups(t, r, host, n)[n/2]
}

// lookups returns the sorted durations of n lookups through r.
func lookups(t *testing.T, r *net.Resolver, host string, n int) []time.Duration {
	t.Helper()
	var ds []time.Duration
	for range n {
		start := time.Now()
		if _, err := r.LookupNetIP(t.Context(), "ip4", host); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds
}

func TestDNSDelay(t *testing.T) {
	s := startTestDNS(t, DNSConfig{Hosts: testHosts})
	r := s.Resolver()
	base := medianLookup(t, r, "api.provider.test", 5)
	undo, err := DNSFault{Server: s, Delay: 150 * time.Millisecond}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The machine is shared: scheduling delay of this process only ever
	// adds time, so the fastest of 9 lookups estimates the injected delay.
	delayed := time.Duration(1 << 62)
	var med time.Duration
	for range 3 {
		ds := lookups(t, r, "api.provider.test", 3)
		delayed = min(delayed, ds[0])
		med = ds[1]
	}
	t.Logf("lookup: median %v without delay; with 150ms delay fastest %v, a median %v", base, delayed, med)
	if d := delayed - 150*time.Millisecond; d < -time.Millisecond || d > 20*time.Millisecond {
		t.Errorf("delayed lookup took %v, want 150ms ± 20ms", delayed)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if s.Delay() != 0 || s.Mode() != DNSAnswer {
		t.Errorf("after undo: delay %v mode %v", s.Delay(), s.Mode())
	}
}

// TestDNSJitter checks that a jittered delay is drawn per query: nine
// lookups under 50 ms + [0, 200 ms) all take at least 50 ms and spread
// over more than 40 ms (all nine within one 40 ms band of a 200 ms uniform
// has probability below 1e-4; load only adds time).
func TestDNSJitter(t *testing.T) {
	s := startTestDNS(t, DNSConfig{Hosts: testHosts})
	undo, err := DNSFault{Server: s, Delay: 50 * time.Millisecond, Jitter: 200 * time.Millisecond}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ds := lookups(t, s.Resolver(), "api.provider.test", 9)
	t.Logf("lookups with 50ms + [0, 200ms): %v", ds)
	if ds[0] < 49*time.Millisecond {
		t.Errorf("fastest lookup %v, below the 50 ms delay", ds[0])
	}
	if spread := ds[len(ds)-1] - ds[0]; spread < 40*time.Millisecond {
		t.Errorf("lookups spread over %v, want > 40ms", spread)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if s.Jitter() != 0 || s.Delay() != 0 {
		t.Errorf("after undo: delay %v jitter %v", s.Delay(), s.Jitter())
	}
}

func TestDNSCloseAbandonsDelayed(t *testing.T) {
	defer testutil.CheckGoroutines(t, 2*time.Second)()
	s, err := StartDNS(DNSConfig{Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	go func() {
		// Not net.Resolver: its lookups outlive the caller's context.
		m := new(dns.Msg)
		m.SetQuestion("x.test.", dns.TypeA)
		_, _, _ = (&dns.Client{Timeout: 300 * time.Millisecond}).ExchangeContext(ctx, m, s.Addr().String())
	}()
	for s.Queries() == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close blocked on a delayed query")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestDNSConfigErrors(t *testing.T) {
	if _, err := StartDNS(DNSConfig{Hosts: map[string]netip.Addr{"a.test": {}}}); err == nil {
		t.Error("invalid address accepted")
	}
	if _, err := StartDNS(DNSConfig{Listen: "not-an-addr"}); err == nil {
		t.Error("bad listen address accepted")
	}
	if _, err := (DNSFault{}).Inject(context.Background()); err == nil {
		t.Error("DNSFault without server accepted")
	}
}
