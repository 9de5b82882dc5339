//go:build !linux

package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
)

// NewNetns returns an error matching errors.ErrUnsupported: network
// namespaces exist only on Linux.
func NewNetns(name string, subnet netip.Prefix) (*Netns, error) {
	return nil, fmt.Errorf("faults: network namespaces: %w", errors.ErrUnsupported)
}

func (n *Netns) unsupported() error {
	return fmt.Errorf("faults: network namespaces: %w", errors.ErrUnsupported)
}

// Do is not supported on this platform.
func (n *Netns) Do(fn func() error) error { return n.unsupported() }

// Listen is not supported on this platform.
func (n *Netns) Listen(network, addr string) (net.Listener, error) { return nil, n.unsupported() }

// ListenPacket is not supported on this platform.
func (n *Netns) ListenPacket(network, addr string) (net.PacketConn, error) {
	return nil, n.unsupported()
}

// DialContext is not supported on this platform.
func (n *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, n.unsupported()
}

// Command returns a command that fails: namespaces are Linux-only.
func (n *Netns) Command(ctx context.Context, name string, arg ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "false")
}

// NFTables is not supported on this platform.
func (n *Netns) NFTables() ([]string, error) { return nil, n.unsupported() }
