//go:build linux

package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NewNetns creates a network namespace and a veth pair into it.
//
// name is the namespace name; NetnsPrefix is prepended when missing and a
// random name is chosen when it is empty. It must not exist yet. subnet must
// hold at least two usable addresses (an IPv4 /30 or larger, an IPv6 /126 or
// larger): the host end gets the first, the namespace end the second. NewNetns
// refuses a subnet that overlaps an address already on a host interface.
//
// Without CAP_NET_ADMIN+CAP_SYS_ADMIN it returns an error matching
// [ErrPrivilege] and changes nothing. On any failure it removes what it
// created.
func NewNetns(name string, subnet netip.Prefix) (*Netns, error) {
	return newNetns(name, subnet, nil)
}

func newNetns(name string, subnet netip.Prefix, hook stepHook) (_ *Netns, err error) {
	if err := requireCaps("faults: network namespace", unix.CAP_NET_ADMIN, unix.CAP_SYS_ADMIN); err != nil {
		return nil, err
	}
	name, err = netnsName(name)
	if err != nil {
		return nil, err
	}
	subnet, host, nsAddr, err := vethAddrs(subnet)
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("faults: netns needs the ip command (iproute2): %w", err)
	}
	// Serialise subnet choice with other users of this package on the host
	// (other test binaries); the check after adding the address covers
	// everyone else.
	unlock, err := lockSubnets()
	if err != nil {
		return nil, err
	}
	locked := true
	unlockOnce := func() {
		if locked {
			unlock()
			locked = false
		}
	}
	defer unlockOnce()
	if err := subnetFree(subnet, ""); err != nil {
		return nil, err
	}
	if _, err := os.Stat("/run/netns/" + name); err == nil {
		return nil, fmt.Errorf("faults: netns %s already exists: %w", name, os.ErrExist)
	}
	// n is a local, not the named result: the undo closures below must
	// still see it after a failing return has set the result to nil.
	n := &Netns{name: name, hostIf: hostIfName(name), prefix: subnet, host: host, ns: nsAddr, handle: -1}
	defer n.u.onFailure(&err)
	if err := n.create(hook, unlockOnce); err != nil {
		return nil, err
	}
	return n, nil
}

// netnsName returns the namespace name for name: NetnsPrefix prepended when
// missing, a random one when empty.
func netnsName(name string) (string, error) {
	if name == "" {
		name = NetnsPrefix + randomSuffix(6)
	} else if !strings.HasPrefix(name, NetnsPrefix) {
		name = NetnsPrefix + name
	}
	if len(name) > 200 || strings.ContainsAny(name, "/ \t\n\x00") || name == NetnsPrefix {
		return "", fmt.Errorf("faults: invalid netns name %q", name)
	}
	return name, nil
}

// vethAddrs returns the masked subnet and the addresses of the host and
// namespace ends of the veth pair: its first two.
func vethAddrs(subnet netip.Prefix) (_ netip.Prefix, host, nsAddr netip.Addr, _ error) {
	if !subnet.IsValid() {
		return subnet, host, nsAddr, errors.New("faults: netns needs a valid subnet")
	}
	subnet = subnet.Masked()
	host = subnet.Addr().Next()
	nsAddr = host.Next()
	last := 32
	if subnet.Addr().Is6() {
		last = 128
	}
	if subnet.Bits() > last-2 || !subnet.Contains(host) || !subnet.Contains(nsAddr) {
		return subnet, host, nsAddr, fmt.Errorf("faults: subnet %s too small for a veth pair", subnet)
	}
	return subnet, host, nsAddr, nil
}

// create makes the namespace, the veth pair, their addresses and the
// namespace handle, pushing the undo of each step. unlock releases the
// subnet lock once the host address is in place and the subnet still free.
func (n *Netns) create(hook stepHook, unlock func()) error {
	name := n.name
	if err := runIP("netns", "add", name); err != nil {
		return err
	}
	n.u.push("delete netns "+name, func() error { return deleteNetns(name) })
	if err := hook.at("netns"); err != nil {
		return err
	}
	if err := runIP("link", "add", n.hostIf, "type", "veth", "peer", "name", NSIfName, "netns", name); err != nil {
		return err
	}
	n.u.push("delete veth "+n.hostIf, func() error { return deleteLink(n.hostIf) })
	if err := hook.at("veth"); err != nil {
		return err
	}
	if err := n.address(unlock); err != nil {
		return err
	}
	if err := hook.at("addr"); err != nil {
		return err
	}
	h, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("faults: open netns %s: %w", name, err)
	}
	n.handle = h
	n.u.push("close netns handle", func() error {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.handle >= 0 {
			err := n.handle.Close()
			n.handle = -1
			return err
		}
		return nil
	})
	return hook.at("handle")
}

// address configures both ends of the veth pair and the namespace's
// loopback and default route.
func (n *Netns) address(unlock func()) error {
	bits := fmt.Sprint(n.prefix.Bits())
	var extra []string
	if n.prefix.Addr().Is6() {
		extra = []string{"nodad"}
	}
	steps := [][]string{
		append([]string{"addr", "add", n.host.String() + "/" + bits, "dev", n.hostIf}, extra...),
		{"link", "set", n.hostIf, "up"},
		append([]string{"-n", n.name, "addr", "add", n.ns.String() + "/" + bits, "dev", NSIfName}, extra...),
		{"-n", n.name, "link", "set", NSIfName, "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
		{"-n", n.name, "route", "add", "default", "via", n.host.String()},
	}
	for i, s := range steps {
		if err := runIP(s...); err != nil {
			return err
		}
		if i == 0 {
			// Another process may have taken the subnet since the check
			// above: whoever adds its address second sees the other's
			// and backs off (both may; both then report ErrExist).
			if err := subnetFree(n.prefix, n.hostIf); err != nil {
				return err
			}
			unlock()
		}
	}
	return nil
}

// fd returns a duplicate of the namespace handle; the caller closes it.
func (n *Netns) fd() (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.handle < 0 {
		return -1, fmt.Errorf("faults: netns %s: %w", n.name, os.ErrClosed)
	}
	fd, err := unix.FcntlInt(uintptr(n.handle), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("faults: dup netns handle: %w", err)
	}
	return fd, nil
}

// Do runs fn on a fresh OS thread that has joined the namespace, and waits for
// it. Sockets fn creates belong to the namespace and stay usable from any
// goroutine afterwards. fn must not start goroutines that expect to run in the
// namespace. The thread is discarded afterwards, so the caller's thread never
// changes namespace. A panic in fn is returned as an error.
func (n *Netns) Do(fn func() error) error {
	fd, err := n.fd()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer unix.Close(fd)
		// Never unlocked: the thread exits with this goroutine, so it can't
		// leak the namespace into the scheduler's thread pool.
		runtime.LockOSThread()
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("faults: enter netns %s: %w", n.name, err)
			return
		}
		done <- safeCall(fn)
	}()
	return <-done
}

// Listen is net.Listen with the socket created inside the namespace.
func (n *Netns) Listen(network, addr string) (l net.Listener, err error) {
	err = n.Do(func() error {
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// ListenPacket is net.ListenPacket with the socket created inside the
// namespace.
func (n *Netns) ListenPacket(network, addr string) (c net.PacketConn, err error) {
	err = n.Do(func() error {
		c, err = net.ListenPacket(network, addr)
		return err
	})
	return c, err
}

// DialContext dials from inside the namespace (the socket belongs to it).
func (n *Netns) DialContext(ctx context.Context, network, addr string) (c net.Conn, err error) {
	err = n.Do(func() error {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Command returns a command that runs name inside the namespace
// (`ip netns exec`).
func (n *Netns) Command(ctx context.Context, name string, arg ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name, name}, arg...)...)
}

func runIP(args ...string) error {
	cmd := exec.Command("ip", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "Operation not permitted") {
			err = fmt.Errorf("%w: %w", err, ErrPrivilege)
		}
		return fmt.Errorf("faults: ip %s: %s: %w", strings.Join(args, " "), msg, err)
	}
	return nil
}

func deleteNetns(name string) error {
	if _, err := os.Stat("/run/netns/" + name); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	err := runIP("netns", "delete", name)
	if _, serr := os.Stat("/run/netns/" + name); errors.Is(serr, os.ErrNotExist) {
		return nil
	}
	return err
}

func deleteLink(name string) error {
	if _, err := net.InterfaceByName(name); err != nil {
		return nil // gone (deleting the namespace removes the pair)
	}
	err := runIP("link", "delete", name)
	if _, ierr := net.InterfaceByName(name); ierr != nil {
		return nil
	}
	return err
}

// subnetFree fails when an address of subnet is already on a host interface
// other than except.
func subnetFree(subnet netip.Prefix, except string) error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("faults: list host interfaces: %w", err)
	}
	for _, ifc := range ifs {
		if ifc.Name == except {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue // interface went away
		}
		if err := overlaps(subnet, addrs); err != nil {
			return fmt.Errorf("%w (on %s)", err, ifc.Name)
		}
	}
	return nil
}

func overlaps(subnet netip.Prefix, addrs []net.Addr) error {
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		p, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ones, bits := ipn.Mask.Size()
		if p.Is4In6() && bits == 128 {
			ones -= 96
		}
		pp := netip.PrefixFrom(p.Unmap(), ones)
		if pp.Overlaps(subnet) {
			return fmt.Errorf("faults: subnet %s overlaps host address %s: %w", subnet, a, os.ErrExist)
		}
	}
	return nil
}

// lockSubnets takes a host-wide lock shared by every process using this
// package: an abstract unix socket, which vanishes with its holder and
// leaves nothing behind. It gives up after 10 s.
func lockSubnets() (unlock func(), err error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := net.Listen("unix", "@llmslo-faults-netns-lock")
		if err == nil {
			return func() { l.Close() }, nil
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			return nil, fmt.Errorf("faults: netns lock: %w", err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("faults: netns lock: held for more than 10s: %w", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
