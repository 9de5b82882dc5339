package faults_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"time"

	"github.com/llmslo/slo/faults"
)

// A DNS server the workload resolves through; a fault makes it slow, undo
// makes it fast again.
func ExampleStartDNS() {
	s, err := faults.StartDNS(faults.DNSConfig{
		Hosts: map[string]netip.Addr{"api.provider.test": netip.MustParseAddr("10.213.0.7")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	undo, err := faults.DNSFault{Server: s, Delay: 100 * time.Millisecond}.Inject(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Now()
	addrs, err := s.Resolver().LookupNetIP(context.Background(), "ip4", "api.provider.test")
	fmt.Println(addrs, err, time.Since(start) >= 100*time.Millisecond)
	_ = undo()
	// Output: [10.213.0.7] <nil> true
}

// Packet loss on a server port inside a network namespace (needs root).
func ExamplePacketLoss() {
	ns, err := faults.NewNetns("", faults.Subnet(42))
	if err != nil {
		fmt.Println(err) // e.g. "needs CAP_NET_ADMIN+CAP_SYS_ADMIN (run as root)"
		return
	}
	defer ns.Close()
	l, err := ns.Listen("tcp", net.JoinHostPort(ns.NSAddr().String(), "8080"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	undo, err := faults.PacketLoss{NS: ns, Port: 8080, Percent: 30}.Inject(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer undo()
	// Clients on the host connect to ns.NSAddr():8080 and see retransmits.
}

// A plan injects several faults and undoes them together; its zero value
// injects nothing.
func ExamplePlan() {
	s, err := faults.StartDNS(faults.DNSConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	plan := faults.Plan{Faults: []faults.Injector{
		faults.DNSFault{Server: s, Mode: faults.DNSServFail},
	}}
	undo, err := plan.Inject(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Mode())
	_ = undo()
	fmt.Println(s.Mode())
	// Output:
	// servfail
	// answer
}

// Provider faults around a fake provider: 429s with Retry-After for a share
// of requests, and slow decode.
func ExampleProviderFaults() {
	var pf faults.ProviderFaults // zero value: no faults
	h := pf.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "data: {}\n\n")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	pf.Set(faults.ProviderPlan{ThrottleRate: 1, RetryAfter: 2 * time.Second, Seed: 1})
	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"))

	pf.Set(faults.ProviderPlan{})
	resp, err = http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, pf.Stats().Throttled)
	// Output:
	// 429 2
	// 200 1
}

// Throttle this process to a quarter of one CPU for a while (needs root).
func ExampleCPUThrottle() {
	undo, err := faults.CPUThrottle{QuotaPct: 25, PIDs: []int{os.Getpid()}}.Inject(context.Background())
	if err != nil {
		fmt.Println(err) // errors.Is(err, faults.ErrPrivilege) without root
		return
	}
	defer undo()
	// ... run the workload and watch cpu.stat nr_throttled in
	// faults.CgroupOf(os.Getpid(), "cpu").
}

// Noisy neighbours on CPU 0 (no privilege needed).
func ExampleCPUContention() {
	undo, err := faults.CPUContention{CPUs: []int{0}, Workers: 2}.Inject(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer undo()
}
