//go:build linux

package faults

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

func protoNum(proto string, port uint16) (num byte, any bool, err error) {
	switch strings.ToLower(proto) {
	case "", "tcp":
		return unix.IPPROTO_TCP, false, nil
	case "udp":
		return unix.IPPROTO_UDP, false, nil
	case "any", "all":
		if port != 0 {
			return 0, false, errors.New("proto any cannot match a port")
		}
		return 0, true, nil
	}
	return 0, false, fmt.Errorf("unknown proto %q (want tcp, udp or any)", proto)
}

// Inject installs the loss table.
func (p PacketLoss) Inject(ctx context.Context) (undo func() error, err error) {
	if p.NS == nil {
		return nil, errors.New("faults: packet loss needs a Netns")
	}
	if p.Percent < 0 || p.Percent > 100 {
		return nil, fmt.Errorf("faults: packet loss percent %d out of 0..100", p.Percent)
	}
	if p.Direction < Ingress || p.Direction > Both {
		return nil, fmt.Errorf("faults: packet loss: invalid %v", p.Direction)
	}
	proto, anyProto, err := protoNum(p.Proto, p.Port)
	if err != nil {
		return nil, fmt.Errorf("faults: packet loss: %w", err)
	}
	if !anyProto && p.Proto == "" {
		proto = unix.IPPROTO_TCP
	}
	if err := requireCaps("faults: packet loss", unix.CAP_NET_ADMIN, unix.CAP_SYS_ADMIN); err != nil {
		return nil, err
	}
	loss := func(dir Direction) []expr.Any {
		var e []expr.Any
		e = append(e, matchIf(dir)...)
		if !anyProto {
			e = append(e, matchProto(proto)...)
		}
		if p.Port != 0 {
			e = append(e, matchPort(dir, p.Port)...)
		}
		if p.Percent < 100 {
			e = append(e,
				&expr.Numgen{Register: 1, Modulus: 100, Type: unix.NFT_NG_RANDOM},
				&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
				&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(uint32(p.Percent))},
			)
		}
		return append(e, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
	}
	var chains []nftChain
	if p.Percent > 0 {
		if p.Direction == Ingress || p.Direction == Both {
			chains = append(chains, nftChain{nftables.ChainHookInput, [][]expr.Any{loss(Ingress)}})
		}
		if p.Direction == Egress || p.Direction == Both {
			chains = append(chains, nftChain{nftables.ChainHookOutput, [][]expr.Any{loss(Egress)}})
		}
	}
	return injectTable(ctx, p.NS, "loss", chains, p.hook)
}

// Inject installs the partition table.
func (p Partition) Inject(ctx context.Context) (undo func() error, err error) {
	if p.NS == nil {
		return nil, errors.New("faults: partition needs a Netns")
	}
	proto, anyProto, err := protoNum(p.Proto, p.Port)
	if err != nil {
		return nil, fmt.Errorf("faults: partition: %w", err)
	}
	if p.Port == 0 && p.Proto == "" {
		anyProto = true
	}
	if err := requireCaps("faults: partition", unix.CAP_NET_ADMIN, unix.CAP_SYS_ADMIN); err != nil {
		return nil, err
	}
	match := func(dir Direction) []expr.Any {
		e := matchIf(dir)
		if !anyProto {
			e = append(e, matchProto(proto)...)
		}
		if p.Port != 0 {
			e = append(e, matchPort(dir, p.Port)...)
		}
		return e
	}
	var in, out [][]expr.Any
	if !p.Reject {
		in = append(in, append(match(Ingress), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}))
		out = append(out, append(match(Egress), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}))
	} else {
		in = append(in, rejectRules(match(Ingress), anyProto, proto)...)
		if p.Port == 0 {
			// Connections opened from inside: reject their first packet
			// (ct state new), not the resets the input chain generates
			// (those are ct state related).
			out = append(out, rejectRules(append(match(Egress), ctStateNew()...), anyProto, proto)...)
		}
	}
	chains := []nftChain{{nftables.ChainHookInput, in}}
	if len(out) > 0 {
		chains = append(chains, nftChain{nftables.ChainHookOutput, out})
	}
	return injectTable(ctx, p.NS, "part", chains, p.hook)
}

func rejectRules(match []expr.Any, anyProto bool, proto byte) [][]expr.Any {
	tcpReset := func(m []expr.Any) []expr.Any {
		m = append(m[:len(m):len(m)], matchProto(unix.IPPROTO_TCP)...)
		return append(m, &expr.Counter{}, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	}
	icmp := func(m []expr.Any) []expr.Any {
		return append(m[:len(m):len(m)], &expr.Counter{},
			&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})
	}
	switch {
	case anyProto:
		return [][]expr.Any{tcpReset(match), icmp(match)}
	case proto == unix.IPPROTO_TCP:
		return [][]expr.Any{append(match[:len(match):len(match)], &expr.Counter{}, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})}
	default:
		return [][]expr.Any{icmp(match)}
	}
}

func matchIf(dir Direction) []expr.Any {
	key := expr.MetaKeyIIFNAME
	if dir == Egress {
		key = expr.MetaKeyOIFNAME
	}
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, NSIfName)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
	}
}

func matchProto(proto byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

// matchPort matches the namespace-side port: destination port on ingress,
// source port on egress.
func matchPort(dir Direction, port uint16) []expr.Any {
	off := uint32(2)
	if dir == Egress {
		off = 0
	}
	b := make([]byte, 2)
	binary.BigEndian.PutUint16(b, port)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

func ctStateNew() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

type nftChain struct {
	hook  *nftables.ChainHook
	rules [][]expr.Any
}

// injectTable creates an inet table with one base chain per entry of chains
// inside ns, in one netlink batch. The undo deletes the table (a no-op when
// the namespace is already gone).
func injectTable(ctx context.Context, ns *Netns, kind string, chains []nftChain, hook stepHook) (undo func() error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var u undoer
	defer u.onFailure(&err)
	name := NFTablePrefix + kind + "_" + randomSuffix(4)
	table := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	// Register the undo first: deleting a table that was never created is
	// treated as success.
	u.push("delete nftables table "+name, func() error { return deleteTable(ns, table) })
	if err := withConn(ns, func(c *nftables.Conn) error {
		c.AddTable(table)
		for i, ch := range chains {
			chain := c.AddChain(&nftables.Chain{
				Name:     fmt.Sprintf("c%d", i),
				Table:    table,
				Type:     nftables.ChainTypeFilter,
				Hooknum:  ch.hook,
				Priority: nftables.ChainPriorityRef(-10),
			})
			for _, r := range ch.rules {
				c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: r})
			}
		}
		return c.Flush()
	}); err != nil {
		return nil, fmt.Errorf("faults: create nftables table %s in %s: %w", name, ns.Name(), err)
	}
	if err := hook.at("table"); err != nil {
		return nil, err
	}
	return u.undo, nil
}

func withConn(ns *Netns, fn func(c *nftables.Conn) error) error {
	fd, err := ns.fd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return err
	}
	err = fn(c)
	if errors.Is(err, unix.EPERM) {
		err = fmt.Errorf("%w: %w", err, ErrPrivilege)
	}
	return err
}

func deleteTable(ns *Netns, table *nftables.Table) error {
	err := withConn(ns, func(c *nftables.Conn) error {
		c.DelTable(table)
		return c.Flush()
	})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrClosed) {
		return nil // never created, already deleted, or gone with the namespace
	}
	return err
}

// NFTables returns the names of the nftables tables inside ns (all families).
// Tests use it to prove that nothing is left behind.
func (n *Netns) NFTables() ([]string, error) {
	var names []string
	err := withConn(n, func(c *nftables.Conn) error {
		ts, err := c.ListTables()
		if err != nil {
			return err
		}
		for _, t := range ts {
			names = append(names, t.Name)
		}
		return nil
	})
	return names, err
}
