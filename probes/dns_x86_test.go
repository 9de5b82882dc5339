//go:build linux && (386 || amd64)

package probes

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsPacketProgs reports how many DNS packet programs (attached on demand)
// are attached.
func dnsPacketProgs(set *Set) int {
	k := set.kern.(*bpfKernel)
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, a := range k.atts[DNSLatency] {
		if a.lazy && a.link != nil {
			n++
		}
	}
	return n
}

// TestDNSArmOnDemandPrivileged checks that the DNS packet programs are
// attached only around DNS traffic: detached after the idle time, armed
// again by the next lookup's connect, whose answer is still reported (the
// query left before the programs were back: counted from the connect).
func TestDNSArmOnDemandPrivileged(t *testing.T) {
	requireBPF(t)
	defer func(d time.Duration) { dnsIdle = d }(dnsIdle)
	dnsIdle = time.Second
	ns := newTestNetns(t)
	const delay = 50 * time.Millisecond
	addr, _ := startDelayDNS(t, ns, delay)
	set := startSet(t, Config{Signals: []Signal{DNSLatency}})
	if st := set.StatusOf(DNSLatency); st.State != On {
		t.Fatalf("dns_latency %s: %s", st.State, st.Reason)
	}
	if n := dnsPacketProgs(set); n != 0 {
		t.Fatalf("%d DNS packet programs attached before any DNS traffic", n)
	}
	events, cancel := set.Subscribe(64)
	defer cancel()

	// lookup queries name on a fresh socket, as resolvers do.
	lookup := func(name string) (sinceDial time.Duration) {
		t.Helper()
		c := &dns.Client{Timeout: 5 * time.Second}
		m := new(dns.Msg)
		m.SetQuestion(name+".", dns.TypeA)
		t0 := time.Now()
		if err := ns.do(func() error {
			conn, err := c.Dial(addr)
			if err != nil {
				return err
			}
			defer conn.Close()
			_, _, err = c.ExchangeWithConn(m, conn)
			return err
		}); err != nil {
			t.Fatalf("lookup %s: %v", name, err)
		}
		return time.Since(t0)
	}
	wait := func(name string, sinceDial time.Duration) Event {
		t.Helper()
		timeout := time.After(3 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.DNS.Name != name {
					continue
				}
				t.Logf("%s: %v (from connect %v; lookup took %v)", name, ev.Duration, ev.DNS.FromConnect, sinceDial)
				if ev.Duration < delay || ev.Duration > sinceDial {
					t.Errorf("%s: duration %v, want within [%v, %v]", name, ev.Duration, delay, sinceDial)
				}
				if ev.Cookie == 0 || ev.TID == 0 {
					t.Errorf("%s: cookie %d tid %d, want both set", name, ev.Cookie, ev.TID)
				}
				return ev
			case <-timeout:
				t.Fatalf("no dns_latency event for %s", name)
			}
		}
	}
	first := lookup("arm-1.example")
	wait("arm-1.example", first)
	if n := dnsPacketProgs(set); n != 2 {
		t.Fatalf("%d DNS packet programs attached after a lookup, want 2", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for dnsPacketProgs(set) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("DNS packet programs still attached after the idle time")
		}
		time.Sleep(100 * time.Millisecond)
	}
	second := lookup("arm-2.example")
	ev := wait("arm-2.example", second)
	if !ev.DNS.FromConnect {
		t.Log("the packet programs were attached before the query left")
	}
	if n := dnsPacketProgs(set); n != 2 {
		t.Errorf("%d DNS packet programs attached after the second lookup, want 2", n)
	}
}
