//go:build linux

package probes

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startDelayDNS serves A queries on 127.0.0.1:53 (UDP and TCP) inside ns,
// answering after delay; it counts queries per name.
func startDelayDNS(t *testing.T, ns *testNetns, delay time.Duration) (addr string, counts func(string) int64) {
	t.Helper()
	var pc net.PacketConn
	if err := ns.do(func() (err error) {
		pc, err = net.ListenPacket("udp4", "127.0.0.1:53")
		return err
	}); err != nil {
		t.Fatalf("listen in netns: %v", err)
	}
	var mu atomicCounts
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if len(r.Question) > 0 {
			mu.inc(r.Question[0].Name)
		}
		time.Sleep(delay)
		m := new(dns.Msg)
		m.SetReply(r)
		if len(r.Question) > 0 {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5},
				A:   net.IPv4(10, 213, 7, 7),
			})
		}
		_ = w.WriteMsg(m)
	})}
	// The same answers over TCP on the same address.
	var ln net.Listener
	if err := ns.do(func() (err error) {
		ln, err = net.Listen("tcp4", "127.0.0.1:53")
		return err
	}); err != nil {
		t.Fatalf("listen in netns: %v", err)
	}
	tcp := &dns.Server{Listener: ln, Handler: srv.Handler}
	for _, s := range []*dns.Server{srv, tcp} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { _ = s.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	return "127.0.0.1:53", mu.get
}

// atomicCounts counts by key, safely for concurrent use.
type atomicCounts struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *atomicCounts) inc(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int64{}
	}
	c.m[k]++
}

func (c *atomicCounts) get(k string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func TestDNSLatencyPrivileged(t *testing.T) {
	requireBPF(t)
	ns := newTestNetns(t)
	const delay = 150 * time.Millisecond
	addr, counts := startDelayDNS(t, ns, delay)

	set := startSet(t, Config{Signals: []Signal{DNSLatency}})
	if st := set.StatusOf(DNSLatency); st.State != On {
		t.Fatalf("dns_latency %s: %s", st.State, st.Reason)
	}
	events, cancel := set.Subscribe(256)
	defer cancel()

	// Another process queries the same server at the same time: its
	// exchanges must never be delivered.
	child := startHelper(t, "dns", "SLO_PROBES_NETNS="+ns.path, "SLO_PROBES_ADDR="+addr,
		"SLO_PROBES_QNAME=child-process.example.", "SLO_PROBES_N=3")

	var conn *dns.Conn
	c := &dns.Client{Timeout: 5 * time.Second}
	dialed := time.Now()
	if err := ns.do(func() (err error) {
		conn, err = c.Dial(addr)
		return err
	}); err != nil {
		t.Fatalf("dial in netns: %v", err)
	}
	defer conn.Close()
	// A loaded host can delay the server's answer beyond its 150ms: up to
	// five exchanges, until one takes 150ms ± 20ms as seen from user space;
	// the kernel must report every one within a hair of user space.
	type exchange struct {
		name      string
		id        uint16
		rtt       time.Duration
		sinceDial time.Duration // from before the connect to the answer
	}
	var sent []exchange
	chosen := -1
	for i := 0; i < 5 && chosen < 0; i++ {
		m := new(dns.Msg)
		name := fmt.Sprintf("slo-probe-test-%d.example.", i)
		m.SetQuestion(name, dns.TypeA)
		t0 := time.Now()
		if _, _, err := c.ExchangeWithConn(m, conn); err != nil {
			t.Fatalf("exchange: %v", err)
		}
		rtt := time.Since(t0)
		sent = append(sent, exchange{name: strings.TrimSuffix(name, "."), id: m.Id, rtt: rtt, sinceDial: time.Since(dialed)})
		if d := rtt - delay; d >= -20*time.Millisecond && d <= 20*time.Millisecond {
			chosen = i
		}
	}
	if err := child.wait(10 * time.Second); err != nil {
		t.Fatalf("child: %v", err)
	}
	if n := counts("child-process.example."); n != 3 {
		t.Fatalf("server saw %d child queries, want 3", n)
	}
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()

	byName := map[string]Event{}
	deadline := time.After(2 * time.Second)
collect:
	for {
		select {
		case ev := <-events:
			if ev.PID != uint32(os.Getpid()) || strings.HasPrefix(ev.DNS.Name, "child-process") {
				t.Errorf("event of another process delivered: %+v", ev)
			}
			byName[ev.DNS.Name] = ev
		case <-deadline:
			break collect
		}
	}
	for _, x := range sent {
		ev, ok := byName[x.name]
		if !ok {
			t.Errorf("no dns_latency event for %s", x.name)
			continue
		}
		t.Logf("dns event: %v name=%s qtype=%d rcode=%d id=%d server=%v local=%v from-connect=%v (user-space RTT %v)",
			ev.Duration, ev.DNS.Name, ev.DNS.QType, ev.DNS.Rcode, ev.DNS.ID, ev.DNS.Server, ev.Local, ev.DNS.FromConnect, x.rtt)
		upper := x.rtt
		if ev.DNS.FromConnect {
			// Counted from the connect that armed the packet programs.
			upper = x.sinceDial
		}
		if ev.Duration > upper || ev.Duration < x.rtt-20*time.Millisecond {
			t.Errorf("%s: kernel latency %v outside [user RTT − 20ms, %v] = [%v, %v]", x.name, ev.Duration, upper, x.rtt-20*time.Millisecond, upper)
		}
		if ev.DNS.QType != dns.TypeA || ev.DNS.Rcode != dns.RcodeSuccess || ev.DNS.ID != x.id {
			t.Errorf("qtype %d rcode %d id %d, want A, NOERROR, %d", ev.DNS.QType, ev.DNS.Rcode, ev.DNS.ID, x.id)
		}
		if want := netip.MustParseAddrPort(addr); ev.DNS.Server != want || ev.Remote != want {
			t.Errorf("server %v remote %v, want %v", ev.DNS.Server, ev.Remote, want)
		}
		if ev.Local != local {
			t.Errorf("local %v, want %v", ev.Local, local)
		}
	}
	if chosen < 0 {
		t.Fatalf("no exchange took %v ± 20ms even in user space (host overloaded): %+v", delay, sent)
	}
	got, ok := byName[sent[chosen].name]
	if !ok {
		t.FailNow()
	}
	if d := got.Duration - delay; d < -20*time.Millisecond || d > 20*time.Millisecond {
		t.Errorf("duration %v, want %v ± 20ms", got.Duration, delay)
	}
	if got.TID == 0 || got.Cookie == 0 {
		t.Errorf("tid %d cookie %d, want both set", got.TID, got.Cookie)
	}
}
