package faults

import (
	"fmt"
	"time"
)

// Direction selects which packets on the namespace's veth a network fault
// affects.
type Direction int

const (
	// Ingress affects packets entering the namespace over the veth (the
	// default). For a server inside the namespace these are the client's
	// segments: a client on the host sees its own retransmits.
	Ingress Direction = iota
	// Egress affects packets leaving the namespace over the veth.
	Egress
	// Both affects both directions.
	Both
)

// String returns "ingress", "egress" or "both".
func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// NFTablePrefix starts the name of every nftables table this package creates.
const NFTablePrefix = "llmslo_"

// PacketLoss drops a random share of the packets crossing a [Netns]'s veth,
// with an nftables table inside the namespace
// (`numgen random mod 100 < Percent drop`). Undo deletes the table.
//
// It needs CAP_NET_ADMIN+CAP_SYS_ADMIN; without them Inject returns an error
// matching [ErrPrivilege].
type PacketLoss struct {
	// NS is the namespace whose link loses packets. Required.
	NS *Netns
	// Port restricts the loss to one port of the namespace side: the
	// destination port of ingress packets and the source port of egress
	// packets. 0 means every port.
	Port uint16
	// Percent of the matching packets dropped, 0..100.
	Percent int
	// Proto is "tcp" (the default), "udp" or "any" ("any" needs Port 0).
	Proto string
	// Direction defaults to Ingress.
	Direction Direction

	hook stepHook
}

// Partition cuts a [Netns] off the host: packets entering the namespace over
// its veth (only those to Port when set) are dropped, or rejected with a TCP
// reset (an ICMP port-unreachable for other protocols) when Reject is set, so
// a connect from the host fails at once with ECONNREFUSED instead of timing
// out. With Port 0, connections the namespace opens are cut too (dropped, or
// reset at once with Reject). Undo deletes the nftables table.
//
// It needs CAP_NET_ADMIN+CAP_SYS_ADMIN; without them Inject returns an error
// matching [ErrPrivilege].
type Partition struct {
	// NS is the namespace to cut off. Required.
	NS *Netns
	// Port restricts the partition to one port of the namespace side (see
	// PacketLoss.Port); 0 cuts all traffic over the veth.
	Port uint16
	// Proto is "tcp" (the default when Port is set), "udp" or "any".
	Proto string
	// Reject answers with a TCP reset / ICMP unreachable instead of dropping
	// silently.
	Reject bool

	hook stepHook
}

// NetDelay delays packets crossing a [Netns]'s veth in user space (the
// kernel has no netem here): an iptables rule inside the namespace queues
// them (NFQUEUE, bypassed when nothing listens) to this process, which lets
// each one through after Delay plus a uniform random [0, Jitter). A delayed
// SYN makes a connect slower by as much, a delayed request its answer.
// Undo deletes the rule and lets every packet still held through at once.
//
// It needs CAP_NET_ADMIN+CAP_SYS_ADMIN, the iptables command
// (iptables-legacy when there is one) and a kernel with NFQUEUE; without
// the capabilities Inject returns an error matching [ErrPrivilege].
type NetDelay struct {
	// NS is the namespace whose link delays packets. Required.
	NS *Netns
	// Port restricts the delay to one TCP port of the namespace side (see
	// PacketLoss.Port); 0 means every TCP port.
	Port uint16
	// Delay and Jitter: each packet is held Delay + [0, Jitter).
	Delay, Jitter time.Duration
	// Direction defaults to Ingress.
	Direction Direction
	// Queue is the NFQUEUE number; 0 picks one from the process id.
	Queue uint16
}
