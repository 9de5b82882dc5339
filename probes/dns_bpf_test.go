//go:build linux && (386 || amd64 || arm64)

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

	// lookup queries names on one fresh socket, as resolvers do (glibc
	// sends A and AAAA back to back after one connect): all queries
	// first, then the answers.
	lookup := func(names ...string) (sinceDial time.Duration) {
		t.Helper()
		c := &dns.Client{Timeout: 5 * time.Second}
		t0 := time.Now()
		if err := ns.do(func() error {
			conn, err := c.Dial(addr)
			if err != nil {
				return err
			}
			defer conn.Close()
			for _, name := range names {
				m := new(dns.Msg)
				m.SetQuestion(name+".", dns.TypeA)
				if err := conn.WriteMsg(m); err != nil {
					return err
				}
			}
			for range names {
				if _, err := conn.ReadMsg(); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatalf("lookup %v: %v", names, err)
		}
		return time.Since(t0)
	}
	seen := map[string]Event{}
	wait := func(name string, sinceDial time.Duration) Event {
		t.Helper()
		timeout := time.After(3 * time.Second)
		for {
			if ev, ok := seen[name]; ok {
				t.Logf("%s: %v (from connect %v; lookup took %v)", name, ev.Duration, ev.DNS.FromConnect, sinceDial)
				if ev.Duration < delay || ev.Duration > sinceDial {
					t.Errorf("%s: duration %v, want within [%v, %v]", name, ev.Duration, delay, sinceDial)
				}
				if ev.Cookie == 0 || ev.TID == 0 {
					t.Errorf("%s: cookie %d tid %d, want both set", name, ev.Cookie, ev.TID)
				}
				return ev
			}
			select {
			case ev := <-events:
				if _, dup := seen[ev.DNS.Name]; dup {
					t.Errorf("%s reported twice", ev.DNS.Name)
				}
				seen[ev.DNS.Name] = ev
			case <-timeout:
				t.Fatalf("no dns_latency event for %s", name)
			}
		}
	}
	armLatency := func() time.Duration {
		k := set.kern.(*bpfKernel)
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.dns.armLatency
	}
	first := lookup("arm-1.example")
	wait("arm-1.example", first)
	t.Logf("packet programs attached %v after the connect", armLatency())
	if n := dnsPacketProgs(set); n != dnsPacketPrograms {
		t.Fatalf("%d DNS packet programs attached after a lookup, want %d", n, dnsPacketPrograms)
	}
	deadline := time.Now().Add(5 * time.Second)
	for dnsPacketProgs(set) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("DNS packet programs still attached after the idle time")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Two queries on the socket of the connect that arms the programs:
	// both answers are reported.
	second := lookup("arm-2a.example", "arm-2b.example")
	for _, name := range []string{"arm-2a.example", "arm-2b.example"} {
		if ev := wait(name, second); !ev.DNS.FromConnect {
			t.Logf("%s: the packet programs were attached before the query left", name)
		}
	}
	if n := dnsPacketProgs(set); n != dnsPacketPrograms {
		t.Errorf("%d DNS packet programs attached after the second lookup, want %d", n, dnsPacketPrograms)
	}
	t.Logf("packet programs attached %v after the connect", armLatency())
}
