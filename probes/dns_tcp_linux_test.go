//go:build linux

package probes

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDNSOverTCPLatencyPrivileged: lookups over TCP (a resolver forced to
// TCP: one connection per query, as Go's and glibc's resolvers fall back on
// a truncated answer) to a server that answers after 150 ms are reported
// as DNSLatency events of 150 ± 20 ms, marked TCP, on the connection that
// made them.
func TestDNSOverTCPLatencyPrivileged(t *testing.T) {
	requireBPF(t)
	ns := newTestNetns(t)
	const delay = 150 * time.Millisecond
	addr, _ := startDelayDNS(t, ns, delay)
	set := startSet(t, Config{Signals: []Signal{DNSLatency}})
	if st := set.StatusOf(DNSLatency); st.State != On {
		t.Fatalf("dns_latency %s: %s", st.State, st.Reason)
	}
	events, cancel := set.Subscribe(256)
	defer cancel()

	type exchange struct {
		name           string
		id             uint16
		local          netip.AddrPort
		rtt, sinceDial time.Duration
	}
	var sent []exchange
	chosen := -1
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	for i := 0; i < 5 && chosen < 0; i++ {
		var conn *dns.Conn
		dialed := time.Now()
		if err := ns.do(func() (err error) {
			conn, err = c.Dial(addr)
			return err
		}); err != nil {
			t.Fatalf("dial in netns: %v", err)
		}
		m := new(dns.Msg)
		name := fmt.Sprintf("slo-tcp-test-%d.example.", i)
		m.SetQuestion(name, dns.TypeA)
		t0 := time.Now()
		_, _, err := c.ExchangeWithConn(m, conn)
		rtt := time.Since(t0)
		local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
		conn.Close()
		if err != nil {
			t.Fatalf("exchange over TCP: %v", err)
		}
		sent = append(sent, exchange{strings.TrimSuffix(name, "."), m.Id, local, rtt, time.Since(dialed)})
		if d := rtt - delay; d >= -20*time.Millisecond && d <= 20*time.Millisecond {
			chosen = i
		}
	}
	byName := map[string]Event{}
	deadline := time.After(2 * time.Second)
collect:
	for {
		select {
		case ev := <-events:
			byName[ev.DNS.Name] = ev
		case <-deadline:
			break collect
		}
	}
	for _, x := range sent {
		ev, ok := byName[x.name]
		if !ok {
			t.Errorf("no dns_latency event for %s over TCP", x.name)
			continue
		}
		t.Logf("dns event: %v name=%s tcp=%v id=%d server=%v local=%v from-connect=%v (user-space RTT %v)",
			ev.Duration, ev.DNS.Name, ev.DNS.TCP, ev.DNS.ID, ev.DNS.Server, ev.Local, ev.DNS.FromConnect, x.rtt)
		upper := x.rtt
		if ev.DNS.FromConnect {
			upper = x.sinceDial // counted from the connect that armed the programs
		}
		if ev.Duration > upper || ev.Duration < x.rtt-20*time.Millisecond {
			t.Errorf("%s: kernel latency %v outside [user RTT − 20ms, %v]", x.name, ev.Duration, upper)
		}
		if !ev.DNS.TCP || ev.PID != uint32(os.Getpid()) || ev.TID == 0 || ev.Cookie == 0 {
			t.Errorf("%s: tcp %v pid %d tid %d cookie %d, want TCP, this process, a thread and a cookie",
				x.name, ev.DNS.TCP, ev.PID, ev.TID, ev.Cookie)
		}
		if ev.DNS.QType != dns.TypeA || ev.DNS.Rcode != dns.RcodeSuccess || ev.DNS.ID != x.id {
			t.Errorf("qtype %d rcode %d id %d, want A, NOERROR, %d", ev.DNS.QType, ev.DNS.Rcode, ev.DNS.ID, x.id)
		}
		if want := netip.MustParseAddrPort(addr); ev.DNS.Server != want || ev.Local != x.local {
			t.Errorf("server %v local %v, want %v and %v", ev.DNS.Server, ev.Local, want, x.local)
		}
	}
	if chosen < 0 {
		t.Fatalf("no exchange took %v ± 20ms even in user space (host overloaded): %+v", delay, sent)
	}
	if got, ok := byName[sent[chosen].name]; ok {
		if d := got.Duration - delay; d < -20*time.Millisecond || d > 20*time.Millisecond {
			t.Errorf("duration %v, want %v ± 20ms", got.Duration, delay)
		}
	}
}
