//go:build linux

package faults

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// roundTrip dials addr and echoes one byte; it returns how long the
// connect and the echo took.
func roundTrip(t *testing.T, addr string) (connect, echo time.Duration) {
	t.Helper()
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	connect = time.Since(start)
	start = time.Now()
	if _, err := c.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	return connect, time.Since(start)
}

// TestNetDelay holds the packets of the namespace's port for 150 ms in
// each direction in turn: a connect (its SYN or SYN-ACK held) and an echo
// (its request or answer held) each take at least that long (twice with
// both), and at most a load-proof margin more; after undo they are fast
// again and the rules are gone.
func TestNetDelay(t *testing.T) {
	ns := testNetns(t)
	l, err := ns.Listen("tcp", net.JoinHostPort(ns.NSAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, l)
	addr := l.Addr().String()
	const d = 150 * time.Millisecond
	for _, tc := range []struct {
		dir  Direction
		want time.Duration
	}{{Ingress, d}, {Egress, d}, {Both, 2 * d}} {
		t.Run(tc.dir.String(), func(t *testing.T) {
			baseConnect, baseEcho := roundTrip(t, addr)
			undo, err := NetDelay{NS: ns, Port: port(l.Addr()), Delay: d, Direction: tc.dir}.Inject(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = undo() })
			connect, echo := roundTrip(t, addr)
			t.Logf("connect %v -> %v, echo %v -> %v (%v held)", baseConnect, connect, baseEcho, echo, tc.want)
			for name, v := range map[string]time.Duration{"connect": connect, "echo": echo} {
				if v < tc.want || v > tc.want+time.Second {
					t.Errorf("%s took %v under a %v delay", name, v, tc.want)
				}
			}
			if err := undo(); err != nil {
				t.Fatal(err)
			}
			if err := undo(); err != nil {
				t.Fatalf("second undo: %v", err)
			}
			out, err := ns.Command(context.Background(), "sh", "-c", "iptables-legacy -S 2>/dev/null || iptables -S").CombinedOutput()
			if err != nil || strings.Contains(string(out), "NFQUEUE") {
				t.Errorf("rules after undo (%v):\n%s", err, out)
			}
			if connect, echo := roundTrip(t, addr); connect >= d || echo >= d {
				t.Errorf("after undo: connect %v, echo %v", connect, echo)
			}
		})
	}
}

// TestNetDelayRules checks the iptables rules each direction queues, and
// the configurations Inject refuses before touching anything.
func TestNetDelayRules(t *testing.T) {
	in := "INPUT -i " + NSIfName + " -p tcp --dport 8080 -j NFQUEUE --queue-num 7 --queue-bypass"
	out := "OUTPUT -o " + NSIfName + " -p tcp --sport 8080 -j NFQUEUE --queue-num 7 --queue-bypass"
	for _, tc := range []struct {
		d    NetDelay
		want []string
	}{
		{NetDelay{Port: 8080}, []string{in}},
		{NetDelay{Port: 8080, Direction: Egress}, []string{out}},
		{NetDelay{Port: 8080, Direction: Both}, []string{in, out}},
		{NetDelay{}, []string{"INPUT -i " + NSIfName + " -p tcp -j NFQUEUE --queue-num 7 --queue-bypass"}},
	} {
		var got []string
		for _, r := range tc.d.rules(7) {
			got = append(got, strings.Join(r, " "))
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%v rules:\n%s\nwant:\n%s", tc.d.Direction, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
	for _, d := range []NetDelay{
		{Delay: time.Second},
		{NS: &Netns{}, Delay: -time.Second},
		{NS: &Netns{}, Delay: time.Second, Jitter: -1},
		{NS: &Netns{}, Delay: time.Second, Direction: Both + 1},
	} {
		if _, err := d.Inject(t.Context()); err == nil || errors.Is(err, ErrPrivilege) {
			t.Errorf("%+v: Inject = %v, want a configuration error", d, err)
		}
	}
}
