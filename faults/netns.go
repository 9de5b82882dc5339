package faults

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"sync"

	"github.com/vishvananda/netns"
)

// NetnsPrefix starts the name of every network namespace (and the hash of
// every host-side veth) this package creates, so leftovers are easy to find.
const NetnsPrefix = "llmslo-"

// NSIfName is the name of the veth end inside every [Netns].
const NSIfName = "llmslo0"

// Netns is a network namespace joined to the host's namespace by a veth pair.
// The host end carries the first usable address of the subnet, the namespace
// end the second, and the namespace routes everything else through the host
// end. Loopback is up inside the namespace.
//
// It needs CAP_NET_ADMIN and CAP_SYS_ADMIN and the `ip` command (iproute2).
// Close removes the veth pair and the namespace. A Netns is safe for
// concurrent use.
type Netns struct {
	name   string
	hostIf string
	prefix netip.Prefix
	host   netip.Addr
	ns     netip.Addr

	mu     sync.Mutex
	handle netns.NsHandle // -1 after Close
	u      undoer
}

// Subnet returns 10.213.n.0/30, the conventional per-test subnet: tests pick
// a distinct n so that parallel test binaries do not collide.
func Subnet(n uint8) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, n, 0}), 30)
}

// hostIfName derives the host-side veth name from the namespace name:
// "lls" + 12 hex digits, 15 characters (IFNAMSIZ-1).
func hostIfName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "lls" + hex.EncodeToString(sum[:6])
}

// Name returns the namespace name (as listed by `ip netns list`).
func (n *Netns) Name() string { return n.name }

// HostIf returns the name of the host end of the veth pair.
func (n *Netns) HostIf() string { return n.hostIf }

// Subnet returns the subnet of the veth pair.
func (n *Netns) Subnet() netip.Prefix { return n.prefix }

// HostAddr returns the address of the host end of the veth pair.
func (n *Netns) HostAddr() netip.Addr { return n.host }

// NSAddr returns the address of the namespace end of the veth pair.
func (n *Netns) NSAddr() netip.Addr { return n.ns }

// Close removes the veth pair and the namespace. It is idempotent. Sockets
// created inside the namespace keep working on loopback but lose the link.
func (n *Netns) Close() error { return n.u.undo() }
