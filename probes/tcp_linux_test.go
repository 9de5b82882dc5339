//go:build linux

package probes

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketCookie returns SO_COOKIE of c.
func socketCookie(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var cookie uint64
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cookie, serr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE)
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatalf("SO_COOKIE: %v", serr)
	}
	return cookie
}

func TestTCPRetransmitPrivileged(t *testing.T) {
	requireBPF(t)
	ns := newTestNetns(t)
	// 30% of the packets to the server port are dropped on input (a drop
	// on output fails the send locally and causes no retransmission).
	ns.nft(t, `table inet slo_probes_loss {
	chain in {
		type filter hook input priority 0; policy accept;
		tcp dport 9000 numgen random mod 100 < 30 drop
	}
}`)
	var ln net.Listener
	if err := ns.do(func() (err error) {
		ln, err = net.Listen("tcp4", "127.0.0.1:9000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var (
		peersMu sync.Mutex
		peers   []netip.AddrPort
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peersMu.Lock()
			peers = append(peers, c.RemoteAddr().(*net.TCPAddr).AddrPort())
			peersMu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })

	set := startSet(t, Config{Signals: []Signal{TCPRetransmit, ConnectLatency}})
	events, cancel := set.Subscribe(4096)
	defer cancel()

	// Another process sends to the same lossy port at the same time.
	startHelper(t, "tcp", "SLO_PROBES_NETNS="+ns.path, "SLO_PROBES_ADDR=127.0.0.1:9000")

	var conn net.Conn
	if err := ns.do(func() (err error) {
		conn, err = net.DialTimeout("tcp4", "127.0.0.1:9000", 10*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cookie := socketCookie(t, conn.(*net.TCPConn))
	traceID := [16]byte{0xa1, 0xa2, 15: 0xaf}
	spanID := [8]byte{0xb1, 7: 0xb8}
	if err := set.TagConn(cookie, traceID, spanID); err != nil {
		t.Fatal(err)
	}
	local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	remote := netip.MustParseAddrPort("127.0.0.1:9000")

	var mine, connects int
	buf := make([]byte, 1024)
	deadline := time.Now().Add(15 * time.Second)
	for mine < 3 && time.Now().Before(deadline) {
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write(buf)
		time.Sleep(2 * time.Millisecond)
	drain:
		for {
			select {
			case ev := <-events:
				if ev.PID != uint32(os.Getpid()) {
					t.Errorf("event of pid %d delivered: %+v", ev.PID, ev)
				}
				switch {
				case ev.Signal == ConnectLatency && ev.Cookie == cookie:
					connects++
					if ev.Failed || ev.Local != local || ev.Remote != remote || ev.Duration <= 0 || ev.Duration > 10*time.Second {
						t.Errorf("connect event %+v, want success %v→%v", ev, local, remote)
					}
				case ev.Signal == TCPRetransmit && ev.Cookie == cookie:
					mine++
					if ev.Local != local || ev.Remote != remote {
						t.Errorf("retransmit 4-tuple %v→%v, want %v→%v", ev.Local, ev.Remote, local, remote)
					}
					// SYN retransmits precede the tag (set once connected).
					if ev.State != 2 && (!ev.HasTrace || ev.TraceID != traceID || ev.SpanID != spanID) {
						t.Errorf("retransmit not stamped with the connection's trace: %+v", ev)
					}
				case ev.Signal == TCPRetransmit:
					peersMu.Lock()
					for _, p := range peers {
						if ev.Local == p {
							t.Errorf("retransmit of the other process's socket delivered: %+v", ev)
						}
					}
					peersMu.Unlock()
				}
			default:
				break drain
			}
		}
	}
	t.Logf("%d retransmit events on %v→%v (cookie %d), %d connect events", mine, local, remote, cookie, connects)
	if mine < 3 {
		t.Errorf("got %d retransmit events for the test connection, want ≥ 3", mine)
	}
	if connects != 1 {
		t.Errorf("got %d connect events for the test connection, want 1", connects)
	}
	st := set.Stats()
	t.Logf("stats: %+v", st.Signals[:3])
}

func TestConnectErrorPrivileged(t *testing.T) {
	requireBPF(t)
	ns := newTestNetns(t)
	ns.ip(t, "addr", "add", "10.213.12.2/32", "dev", "lo")
	// A blackholed destination: every packet to it is silently dropped.
	ns.nft(t, `table inet slo_probes_blackhole {
	chain out {
		type filter hook output priority 0; policy accept;
		ip daddr 10.213.12.2 drop
	}
}`)
	set := startSet(t, Config{Signals: []Signal{ConnectLatency, TCPRetransmit}})
	events, cancel := set.Subscribe(256)
	defer cancel()

	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// One SYN retransmission, then ETIMEDOUT (~3s).
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_SYNCNT, 1)
		})
		return errors.Join(err, serr)
	}}
	var derr error
	t0 := time.Now()
	if err := ns.do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp4", "10.213.12.2:9")
		if c != nil {
			c.Close()
		}
		derr = err
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if derr == nil {
		t.Fatal("connect to the blackholed address succeeded")
	}
	t.Logf("dial error after %v: %v", time.Since(t0), derr)
	remote := netip.MustParseAddrPort("10.213.12.2:9")
	var fail *Event
	var synRetrans int
	var all []Event
	deadline := time.After(3 * time.Second)
collect:
	for {
		select {
		case ev := <-events:
			all = append(all, ev)
			if ev.Remote != remote {
				continue
			}
			switch ev.Signal {
			case ConnectLatency:
				e := ev
				fail = &e
			case TCPRetransmit:
				synRetrans++
			}
		case <-deadline:
			break collect
		}
	}
	if fail == nil {
		for _, ev := range all {
			t.Logf("seen: %+v", ev)
		}
		t.Fatalf("no connect_latency event for the blackholed connect; stats %+v", set.Stats().Signals[:3])
	}
	t.Logf("connect event: failed=%v errno=%v duration=%v state=%d; %d SYN retransmits", fail.Failed, fail.Errno, fail.Duration, fail.State, synRetrans)
	if !fail.Failed || fail.Errno != syscall.ETIMEDOUT {
		t.Errorf("connect event failed=%v errno=%v, want failed with ETIMEDOUT", fail.Failed, fail.Errno)
	}
	if fail.Duration < 2*time.Second || fail.Duration > 10*time.Second {
		t.Errorf("connect failure after %v, want ~3s", fail.Duration)
	}
	if fail.PID != uint32(os.Getpid()) || fail.TID == 0 {
		t.Errorf("pid %d tid %d, want this process and its thread", fail.PID, fail.TID)
	}
	if synRetrans < 1 {
		t.Errorf("got %d SYN retransmit events, want ≥ 1", synRetrans)
	}
}

// lossyPair sets up, in a fresh namespace, a listener on 127.0.0.1:port
// whose outgoing data loses 30% of its packets on input, and returns the
// namespace.
func lossyNetns(t *testing.T, match string) *testNetns {
	t.Helper()
	ns := newTestNetns(t)
	ns.nft(t, `table inet slo_probes_loss {
	chain in {
		type filter hook input priority 0; policy accept;
		`+match+` numgen random mod 100 < 30 drop
	}
}`)
	return ns
}

// TestTCPRetransmitServerSidePrivileged checks attribution of sockets the
// process did not connect: one accepted on a port it started listening on
// after Start, and (ClaimOnSend) one connected before Start.
func TestTCPRetransmitServerSidePrivileged(t *testing.T) {
	requireBPF(t)
	for _, tc := range []struct {
		name       string
		beforeOpen bool // connect before Start (needs ClaimOnSend)
	}{
		{"accepted", false},
		{"preexisting", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := lossyNetns(t, "tcp sport 9001")
			var set *Set
			start := func() { set = startSet(t, Config{Signals: []Signal{TCPRetransmit}, ClaimOnSend: tc.beforeOpen}) }
			if !tc.beforeOpen {
				start()
			}
			var ln net.Listener
			if err := ns.do(func() (err error) {
				ln, err = net.Listen("tcp4", "127.0.0.1:9001")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var client net.Conn
			if err := ns.do(func() (err error) {
				client, err = net.Dial("tcp4", "127.0.0.1:9001")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			if tc.beforeOpen {
				start()
			}
			go func() { _, _ = io.Copy(io.Discard, client) }()
			events, cancel := set.Subscribe(4096)
			defer cancel()
			cookie := socketCookie(t, server.(*net.TCPConn))
			local := server.LocalAddr().(*net.TCPAddr).AddrPort()
			remote := server.RemoteAddr().(*net.TCPAddr).AddrPort()
			buf := make([]byte, 1024)
			var mine int
			for deadline := time.Now().Add(15 * time.Second); mine < 3 && time.Now().Before(deadline); {
				_ = server.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = server.Write(buf)
				time.Sleep(2 * time.Millisecond)
			drain:
				for {
					select {
					case ev := <-events:
						if ev.Cookie == cookie {
							mine++
							if ev.Local != local || ev.Remote != remote || ev.PID != uint32(os.Getpid()) {
								t.Errorf("retransmit %+v, want %v→%v of pid %d", ev, local, remote, os.Getpid())
							}
						}
					default:
						break drain
					}
				}
			}
			t.Logf("%d retransmit events on the server socket %v→%v", mine, local, remote)
			if mine < 3 {
				t.Errorf("got %d retransmit events for the server socket, want ≥ 3", mine)
			}
		})
	}
}
