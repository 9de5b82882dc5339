//go:build linux

package faults

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nfnetlink_queue, as linux/netfilter/nfnetlink_queue.h has it.
const (
	nfnlSubsysQueue = 3
	nfqnlMsgPacket  = 0
	nfqnlMsgVerdict = 1
	nfqnlMsgConfig  = 2
	nfqaPacketHdr   = 1
	nfqaVerdictHdr  = 2
	nfqaCfgCmd      = 1
	nfqaCfgParams   = 2
	nfqnlCfgBind    = 1
	nfqnlCopyMeta   = 1
	nfAccept        = 1
)

// Inject starts holding packets.
func (d NetDelay) Inject(ctx context.Context) (undo func() error, err error) {
	if d.NS == nil {
		return nil, errors.New("faults: network delay needs a Netns")
	}
	if d.Delay < 0 || d.Jitter < 0 || d.Direction < Ingress || d.Direction > Both {
		return nil, fmt.Errorf("faults: network delay: invalid %v + %v %v", d.Delay, d.Jitter, d.Direction)
	}
	if err := requireCaps("faults: network delay", unix.CAP_NET_ADMIN, unix.CAP_SYS_ADMIN); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	queue := d.Queue
	if queue == 0 {
		queue = uint16(1000 + os.Getpid()%30000)
	}
	var u undoer
	defer u.onFailure(&err)
	q, err := openQueue(d.NS, queue)
	if err != nil {
		return nil, fmt.Errorf("faults: network delay: %w", err)
	}
	u.push("close queue", q.close)
	go q.hold(d.Delay, d.Jitter)
	for _, rule := range d.rules(queue) {
		if err := iptables(ctx, d.NS, append([]string{"-A"}, rule...)...); err != nil {
			return nil, fmt.Errorf("faults: network delay: %w", err)
		}
		u.push("delete delay rule", func() error { return iptables(context.Background(), d.NS, append([]string{"-D"}, rule...)...) })
	}
	return u.undo, nil
}

// rules are the iptables rules (without -A or -D) that queue the packets.
func (d NetDelay) rules(queue uint16) [][]string {
	var out [][]string
	tail := []string{"-p", "tcp"}
	target := []string{"-j", "NFQUEUE", "--queue-num", strconv.Itoa(int(queue)), "--queue-bypass"}
	if d.Direction == Ingress || d.Direction == Both {
		r := append([]string{"INPUT", "-i", NSIfName}, tail...)
		if d.Port != 0 {
			r = append(r, "--dport", strconv.Itoa(int(d.Port)))
		}
		out = append(out, append(r, target...))
	}
	if d.Direction == Egress || d.Direction == Both {
		r := append([]string{"OUTPUT", "-o", NSIfName}, tail...)
		if d.Port != 0 {
			r = append(r, "--sport", strconv.Itoa(int(d.Port)))
		}
		out = append(out, append(r, target...))
	}
	return out
}

// iptables runs iptables (iptables-legacy when there is one) inside ns.
func iptables(ctx context.Context, ns *Netns, args ...string) error {
	bin := "iptables-legacy"
	if _, err := exec.LookPath(bin); err != nil {
		bin = "iptables"
	}
	out, err := ns.Command(ctx, bin, append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", bin, args, err, out)
	}
	return nil
}

// nfQueue is an NFQUEUE bound in a namespace: the packets it receives are
// accepted after a delay.
type nfQueue struct {
	conn  *netlink.Conn
	queue uint16
	mu    sync.Mutex
	held  map[uint32]*time.Timer
	done  chan struct{}
	once  sync.Once
}

// openQueue binds queue in ns, copying packet metadata only.
func openQueue(ns *Netns, queue uint16) (*nfQueue, error) {
	var conn *netlink.Conn
	err := ns.Do(func() error {
		var err error
		conn, err = netlink.Dial(unix.NETLINK_NETFILTER, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netfilter netlink: %w", err)
	}
	_ = conn.SetReadBuffer(8 << 20)
	q := &nfQueue{conn: conn, queue: queue, held: map[uint32]*time.Timer{}, done: make(chan struct{})}
	bind := []byte{nfqnlCfgBind, 0, 0, 0} // command, pad, protocol family (ignored)
	params := make([]byte, 5)             // copy range 0, copy mode meta
	params[4] = nfqnlCopyMeta
	for _, attr := range []netlink.Attribute{{Type: nfqaCfgCmd, Data: bind}, {Type: nfqaCfgParams, Data: params}} {
		if err := q.request(nfqnlMsgConfig, netlink.Request|netlink.Acknowledge, attr); err != nil {
			conn.Close()
			return nil, fmt.Errorf("bind queue %d: %w", queue, err)
		}
	}
	return q, nil
}

// request sends one nfnetlink message of type msg with attr, and waits for
// the acknowledgement when flags ask for one.
func (q *nfQueue) request(msg uint16, flags netlink.HeaderFlags, attr netlink.Attribute) error {
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(attr.Type, attr.Data)
	b, err := ae.Encode()
	if err != nil {
		return err
	}
	hdr := []byte{unix.AF_UNSPEC, 0, 0, 0} // family, version, resource id (the queue, big-endian)
	binary.BigEndian.PutUint16(hdr[2:], q.queue)
	m := netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(nfnlSubsysQueue<<8 | msg), Flags: flags}, Data: append(hdr, b...)}
	if flags&netlink.Acknowledge != 0 {
		_, err = q.conn.Execute(m)
		return err
	}
	_, err = q.conn.Send(m)
	return err
}

// hold receives packets until the queue is closed, accepting each after
// delay plus a random [0, jitter).
func (q *nfQueue) hold(delay, jitter time.Duration) {
	for {
		msgs, err := q.conn.Receive()
		if err != nil {
			select {
			case <-q.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) || errors.Is(err, unix.EBADF) {
				return
			}
			// ENOBUFS: the kernel dropped what did not fit (lost, as on a
			// full link); an error message for a verdict: that packet is
			// gone. Either way the others still wait for theirs.
			continue
		}
		for _, m := range msgs {
			id, ok := packetID(m)
			if !ok {
				continue
			}
			d := delay
			if jitter > 0 {
				d += time.Duration(rand.Int64N(int64(jitter)))
			}
			q.mu.Lock()
			q.held[id] = time.AfterFunc(d, func() { q.accept(id) })
			q.mu.Unlock()
		}
	}
}

// packetID returns the id of a queued packet's message.
func packetID(m netlink.Message) (uint32, bool) {
	if m.Header.Type != netlink.HeaderType(nfnlSubsysQueue<<8|nfqnlMsgPacket) || len(m.Data) < 4 {
		return 0, false
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		return 0, false
	}
	for ad.Next() {
		if ad.Type() == nfqaPacketHdr {
			b := ad.Bytes()
			if len(b) >= 4 {
				return binary.BigEndian.Uint32(b), true
			}
		}
	}
	return 0, false
}

// accept lets packet id through.
func (q *nfQueue) accept(id uint32) {
	q.mu.Lock()
	if _, ok := q.held[id]; !ok {
		q.mu.Unlock()
		return
	}
	delete(q.held, id)
	q.mu.Unlock()
	v := make([]byte, 8)
	binary.BigEndian.PutUint32(v[0:], nfAccept)
	binary.BigEndian.PutUint32(v[4:], id)
	_ = q.request(nfqnlMsgVerdict, netlink.Request, netlink.Attribute{Type: nfqaVerdictHdr, Data: v})
}

// close lets every held packet through at once and closes the queue.
func (q *nfQueue) close() error {
	var err error
	q.once.Do(func() {
		q.mu.Lock()
		var ids []uint32
		for id, t := range q.held {
			t.Stop()
			ids = append(ids, id)
		}
		q.mu.Unlock()
		for _, id := range ids {
			q.accept(id)
		}
		close(q.done)
		err = q.conn.Close()
	})
	return err
}
