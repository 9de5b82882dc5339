//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/llmslo/slo/internal/monoclock"
)

// dnsState is the on-demand attachment of the DNS packet programs: the
// cgroup programs arm them on a connect or send to a DNS port, idleDNS
// detaches them after dnsIdle without one.
type dnsState struct {
	// attached, lastArm, lastQuery: dns_attached, dns_last_arm_ns and
	// dns_last_query_ns of dns.bpf.c.
	attached, lastArm, lastQuery *ebpf.Variable
	// on: the signal is attached (not shed); eager: the arming programs
	// could not attach (no cgroup2), so the packet programs stay attached.
	on, eager bool
	// armLatency: from the connect or send that armed the packet programs
	// to their attachment, the last time (an answer that arrives sooner
	// is not seen).
	armLatency time.Duration
}

// dnsIdle is how long the DNS packet programs stay attached without DNS
// traffic (a variable for tests).
var dnsIdle = 30 * time.Second

// dnsPacketPrograms is how many DNS programs are attached on demand (the
// last ones dnsPrograms registers).
const dnsPacketPrograms = 4

// dnsArming are the DNS programs that arm the packet programs.
var dnsArming = []string{"slo_dns_connect4", "slo_dns_connect6", "slo_dns_sendmsg4", "slo_dns_sendmsg6"}

// dnsPrograms sets the DNS ports of the dns object coll and registers its
// programs: the cookie and arming programs on the target's cgroup, the
// packet programs lazily.
func (k *bpfKernel) dnsPrograms(coll *ebpf.Collection, dnsPorts []uint16) error {
	ports := coll.Maps["dns_ports"]
	for _, p := range dnsPorts {
		if err := ports.Put(p, uint8(1)); err != nil {
			return fmt.Errorf("set DNS port %d: %w", p, err)
		}
	}
	k.dns = &dnsState{attached: coll.Variables["dns_attached"], lastArm: coll.Variables["dns_last_arm_ns"],
		lastQuery: coll.Variables["dns_last_query_ns"]}
	cgroupProg := func(at ebpf.AttachType) attachFunc {
		return func(p *ebpf.Program) (link.Link, error) {
			cg, err := cgroup2Dir(int(k.nsTarget))
			if err != nil {
				return nil, err
			}
			return link.AttachCgroup(link.CgroupOptions{Path: cg, Attach: at, Program: p})
		}
	}
	// Cookies for new UDP sockets; without it (no cgroup2) the signal is
	// Degraded: events carry cookie 0.
	k.add(DNSLatency, coll, "slo_dns_sock_create", cgroupProg(ebpf.AttachCGroupInetSockCreate))
	// The arming programs: a UDP or TCP connect, or a UDP send, to a DNS
	// port.
	for i, at := range []ebpf.AttachType{ebpf.AttachCGroupInet4Connect, ebpf.AttachCGroupInet6Connect,
		ebpf.AttachCGroupUDP4Sendmsg, ebpf.AttachCGroupUDP6Sendmsg} {
		k.add(DNSLatency, coll, dnsArming[i], cgroupProg(at))
	}
	// The packet programs: UDP at the device queue and the socket, TCP
	// (DNS over TCP) at the target's cgroup.
	k.add(DNSLatency, coll, "slo_dns_egress", attachTracing)
	k.add(DNSLatency, coll, "slo_dns_ingress", attachTracing)
	k.add(DNSLatency, coll, "slo_dns_tcp_egress", cgroupProg(ebpf.AttachCGroupInetEgress))
	k.add(DNSLatency, coll, "slo_dns_tcp_ingress", cgroupProg(ebpf.AttachCGroupInetIngress))
	for _, a := range k.atts[DNSLatency][len(k.atts[DNSLatency])-dnsPacketPrograms:] {
		a.lazy = true
	}
	return nil
}

// armDNS attaches the DNS packet programs: a connect or send to a DNS port
// asked for them (an SLO_FLAG_ARM record).
func (k *bpfKernel) armDNS(s *Set, armedAt int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed || k.dns == nil || !k.dns.on {
		return
	}
	var attached uint32
	if k.dns.attached.Get(&attached) == nil && attached == 1 {
		return
	}
	var failed []string
	for _, a := range k.atts[DNSLatency] {
		if a.lazy {
			if err := a.set(true); err != nil {
				failed = append(failed, err.Error())
			}
		}
	}
	if len(failed) > 0 {
		s.setStatus(DNSLatency, Degraded, onDemandFailed+strings.Join(failed, "; "))
		return
	}
	if strings.HasPrefix(s.StatusOf(DNSLatency).Reason, onDemandFailed) {
		s.setStatus(DNSLatency, On, "")
	}
	_ = k.dns.attached.Set(uint32(1))
	k.dns.armLatency = time.Duration(monoclock.Now() - armedAt)
}

// onDemandFailed starts the reason of a DNSLatency Degraded by armDNS.
const onDemandFailed = "attach on demand: "

// idleDNS detaches the DNS packet programs once no connect, send or query
// to a DNS port was seen for dnsIdle; the next one arms them again.
func (k *bpfKernel) idleDNS(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k.mu.Lock()
		if k.closed {
			k.mu.Unlock()
			return
		}
		var attached uint32
		var lastArm, lastQuery uint64
		d := k.dns
		if d.on && !d.eager && d.attached.Get(&attached) == nil && attached == 1 &&
			d.lastArm.Get(&lastArm) == nil && d.lastQuery.Get(&lastQuery) == nil {
			if uint64(monoclock.Now())-max(lastArm, lastQuery) > uint64(dnsIdle) {
				// Cleared first: a connect from here on arms again.
				_ = d.attached.Set(uint32(0))
				for _, a := range k.atts[DNSLatency] {
					if a.lazy {
						_ = a.set(false)
					}
				}
			}
		}
		k.mu.Unlock()
	}
}
