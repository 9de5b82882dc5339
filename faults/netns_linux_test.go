//go:build linux

package faults

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/llmslo/slo/internal/testutil"
	"golang.org/x/sys/unix"
)

// testNetns creates a namespace with a free 10.213.N.0/30 subnet (N from 160
// upwards, skipping subnets in use by parallel tests) and removes it, and
// checks it is gone, when the test ends.
func testNetns(t *testing.T) *Netns {
	t.Helper()
	testutil.RequireRootNet(t)
	for n := 160; n < 256; n++ {
		ns, err := NewNetns("t-"+randomSuffix(4), Subnet(uint8(n)))
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			t.Fatalf("NewNetns: %v", err)
		}
		t.Cleanup(func() {
			if err := ns.Close(); err != nil {
				t.Errorf("close netns: %v", err)
			}
			assertNetnsGone(t, ns.Name(), ns.HostIf())
		})
		return ns
	}
	t.Fatal("no free 10.213.N.0/30 subnet")
	return nil
}

func assertNetnsGone(t *testing.T, name, hostIf string) {
	t.Helper()
	if _, err := os.Stat("/run/netns/" + name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/run/netns/%s still exists (stat err %v)", name, err)
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Errorf("ip netns list: %v: %s", err, out)
	}
	if strings.Contains(string(out), name) {
		t.Errorf("ip netns list still shows %s:\n%s", name, out)
	}
	if _, err := net.InterfaceByName(hostIf); err == nil {
		t.Errorf("host veth %s still exists", hostIf)
	}
}

// serveEcho accepts on l and echoes until l is closed.
func serveEcho(t *testing.T, l net.Listener) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
}

func port(a net.Addr) uint16 {
	return netip.MustParseAddrPort(a.String()).Port()
}

func TestNetnsLifecycle(t *testing.T) {
	ns := testNetns(t)
	if !strings.HasPrefix(ns.Name(), NetnsPrefix) {
		t.Errorf("name %q lacks prefix %q", ns.Name(), NetnsPrefix)
	}
	if got, want := ns.HostAddr(), ns.Subnet().Addr().Next(); got != want {
		t.Errorf("HostAddr = %v, want %v", got, want)
	}
	if got, want := ns.NSAddr(), ns.HostAddr().Next(); got != want {
		t.Errorf("NSAddr = %v, want %v", got, want)
	}
	if _, err := os.Stat("/run/netns/" + ns.Name()); err != nil {
		t.Fatalf("netns not created: %v", err)
	}
	if _, err := net.InterfaceByName(ns.HostIf()); err != nil {
		t.Fatalf("host veth: %v", err)
	}
	// Socket in the namespace, reached from the host over the veth.
	l, err := ns.Listen("tcp", net.JoinHostPort(ns.NSAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, l)
	c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial into netns: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
	// The namespace really is another one: its loopback is not ours.
	var inode uint64
	if err := ns.Do(func() error {
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			return err
		}
		inode = st.Ino
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var self unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &self); err != nil {
		t.Fatal(err)
	}
	if inode == self.Ino {
		t.Error("Do ran in the caller's namespace")
	}
	// Dial out of the namespace to a host socket on the veth.
	hl, err := net.Listen("tcp", net.JoinHostPort(ns.HostAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, hl)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	oc, err := ns.DialContext(ctx, "tcp", hl.Addr().String())
	if err != nil {
		t.Fatalf("dial out of netns: %v", err)
	}
	oc.Close()

	out, err := ns.Command(t.Context(), "ip", "-br", "addr", "show", NSIfName).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ns.NSAddr().String()) {
		t.Errorf("ip addr inside the namespace: %v: %s", err, out)
	}

	// Close twice: both succeed, nothing left (checked again by cleanup).
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ns.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	assertNetnsGone(t, ns.Name(), ns.HostIf())
	if err := ns.Do(func() error { return nil }); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Do after Close = %v, want os.ErrClosed", err)
	}
}

func TestNetnsPanicInDo(t *testing.T) {
	ns := testNetns(t)
	err := ns.Do(func() error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Do(panic) = %v", err)
	}
}

func TestNetnsSetupFailsHalfway(t *testing.T) {
	testutil.RequireRootNet(t)
	for _, step := range []string{"netns", "veth", "addr", "handle"} {
		for _, panics := range []bool{false, true} {
			name := NetnsPrefix + "half-" + randomSuffix(4)
			injected := errors.New("injected at " + step)
			hook := func(s string) error {
				if s != step {
					return nil
				}
				if panics {
					panic(injected)
				}
				return injected
			}
			var ns *Netns
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						if !panics {
							t.Errorf("%s: unexpected panic %v", step, r)
						}
						err = injected
					}
				}()
				// Another test binary may hold a subnet: try the next.
				for n := 200; n < 256; n++ {
					ns, err = newNetns(name, Subnet(uint8(n)), hook)
					if !errors.Is(err, os.ErrExist) {
						break
					}
				}
			}()
			if !errors.Is(err, injected) || ns != nil {
				t.Errorf("step %s panics=%v: got (%v, %v), want injected error", step, panics, ns, err)
			}
			assertNetnsGone(t, name, hostIfName(name))
		}
	}
}

func TestNetnsRefusesWithoutPrivilege(t *testing.T) {
	testutil.RequireRootNet(t)
	err := withoutCap(t, unix.CAP_NET_ADMIN, func() error {
		_, err := NewNetns("", Subnet(251))
		return err
	})
	if !errors.Is(err, ErrPrivilege) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("NewNetns without CAP_NET_ADMIN = %v, want ErrPrivilege", err)
	}
	if !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
		t.Errorf("error %q does not name the capability", err)
	}
}

// withoutCap runs fn on a fresh OS thread whose effective set lacks capability
// c (capabilities are per thread). The thread is discarded afterwards.
func withoutCap(t *testing.T, c int, fn func() error) error {
	t.Helper()
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			res <- err
			return
		}
		data[c/32].Effective &^= 1 << (uint(c) % 32)
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			res <- err
			return
		}
		res <- fn()
	}()
	return <-res
}

func TestNetnsSubnetInUse(t *testing.T) {
	ns := testNetns(t)
	_, err := NewNetns("", ns.Subnet())
	if !errors.Is(err, os.ErrExist) {
		t.Fatalf("NewNetns on a used subnet = %v, want os.ErrExist", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestPacketLoss100BlocksPort(t *testing.T) {
	ns := testNetns(t)
	l, err := ns.Listen("tcp", net.JoinHostPort(ns.NSAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, l)
	undo, err := PacketLoss{NS: ns, Port: port(l.Addr()), Percent: 100}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = undo() })
	tables, err := ns.NFTables()
	if err != nil || len(tables) != 1 || !strings.HasPrefix(tables[0], NFTablePrefix) {
		t.Fatalf("tables = %v, %v", tables, err)
	}
	_, err = net.DialTimeout("tcp", l.Addr().String(), 700*time.Millisecond)
	if !isTimeout(err) {
		t.Fatalf("dial under 100%% loss = %v, want timeout", err)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if err := undo(); err != nil {
		t.Fatalf("second undo: %v", err)
	}
	if tables, err := ns.NFTables(); err != nil || len(tables) != 0 {
		t.Fatalf("tables after undo = %v, %v", tables, err)
	}
	c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial after undo: %v", err)
	}
	c.Close()
}

// TestPacketLossRate sends UDP datagrams into the namespace and checks the
// share the loss rule dropped against the configured loss. What the rule
// dropped is what was sent less what reached the socket: the datagrams read
// plus those the namespace's UDP counted as dropped for a full receive
// buffer (a reader kept off the CPU by other work lets the buffer fill).
func TestPacketLossRate(t *testing.T) {
	ns := testNetns(t)
	pc, err := ns.ListenPacket("udp", net.JoinHostPort(ns.NSAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	overflowBefore := udpRcvbufErrors(t, ns)
	undo, err := PacketLoss{NS: ns, Port: port(pc.LocalAddr()), Percent: 30, Proto: "udp"}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer undo()
	const sent = 4000
	sending := make(chan struct{})
	got := make(chan int)
	go func() {
		// Read until the sender is done and the socket has been quiet for
		// 500ms: however late this goroutine runs, nothing is missed.
		n, done := 0, false
		buf := make([]byte, 64)
		for {
			_ = pc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, _, err := pc.ReadFrom(buf); err == nil {
				n++
				continue
			}
			select {
			case <-sending:
				done = true
			default:
			}
			if done {
				got <- n
				return
			}
		}
	}()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range sent {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(time.Millisecond)
		}
	}
	close(sending)
	n := <-got
	overflow := udpRcvbufErrors(t, ns) - overflowBefore
	loss := 1 - float64(n+overflow)/sent
	t.Logf("udp to %s: sent %d, received %d, dropped for a full buffer %d, loss %.3f (want 0.30)", pc.LocalAddr(), sent, n, overflow, loss)
	// Binomial sd at n=4000, p=0.3 is 0.007; allow 6 sd.
	if loss < 0.26 || loss > 0.34 {
		t.Errorf("measured loss %.3f, want 0.30 ± 0.04", loss)
	}
}

// udpRcvbufErrors reads the namespace's count of UDP datagrams dropped for a
// full receive buffer (Udp: RcvbufErrors in /proc/net/snmp).
func udpRcvbufErrors(t *testing.T, ns *Netns) int {
	t.Helper()
	var snmp []byte
	err := ns.Do(func() (err error) {
		snmp, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for line := range strings.Lines(string(snmp)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "RcvbufErrors" && i < len(f) {
				v, err := strconv.Atoi(f[i])
				if err != nil {
					t.Fatalf("snmp Udp RcvbufErrors %q: %v", f[i], err)
				}
				return v
			}
		}
	}
	t.Fatalf("no Udp RcvbufErrors in the namespace's snmp:\n%s", snmp)
	return 0
}

// TestPacketLossRetransmits checks that 30 % ingress loss makes the host-side
// TCP sender retransmit.
func TestPacketLossRetransmits(t *testing.T) {
	ns := testNetns(t)
	l, err := ns.Listen("tcp", net.JoinHostPort(ns.NSAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, l)
	c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	undo, err := PacketLoss{NS: ns, Port: port(l.Addr()), Percent: 30}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer undo()
	go func() { _, _ = io.Copy(io.Discard, c) }()
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	chunk := make([]byte, 1000)
	var retrans uint32
	for i := 0; i < 200 && retrans == 0; i++ {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		retrans = totalRetrans(t, c)
	}
	deadline := time.Now().Add(3 * time.Second)
	for retrans == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		retrans = totalRetrans(t, c)
	}
	t.Logf("tcp total_retrans = %d", retrans)
	if retrans == 0 {
		t.Error("no retransmits under 30% loss")
	}
}

func totalRetrans(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var serr error
	if err := raw.Control(func(fd uintptr) {
		info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return info.Total_retrans
}

func TestPartition(t *testing.T) {
	ns := testNetns(t)
	l, err := ns.Listen("tcp", net.JoinHostPort(ns.NSAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, l)
	hl, err := net.Listen("tcp", net.JoinHostPort(ns.HostAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, hl)

	t.Run("reject-port", func(t *testing.T) {
		undo, err := Partition{NS: ns, Port: port(l.Addr()), Reject: true}.Inject(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer undo()
		start := time.Now()
		_, err = net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial = %v, want ECONNREFUSED", err)
		}
		// Refused, not timed out: the dial timeout is 2 s and a dropped SYN
		// would be retried for longer.
		t.Logf("refused after %v", time.Since(start))
	})
	t.Run("reject-all-outbound", func(t *testing.T) {
		undo, err := Partition{NS: ns, Reject: true}.Inject(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer undo()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		_, err = ns.DialContext(ctx, "tcp", hl.Addr().String())
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial out = %v, want ECONNREFUSED", err)
		}
		_, err = net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial in = %v, want ECONNREFUSED", err)
		}
	})
	t.Run("drop", func(t *testing.T) {
		undo, err := Partition{NS: ns}.Inject(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer undo()
		_, err = net.DialTimeout("tcp", l.Addr().String(), 500*time.Millisecond)
		if !isTimeout(err) {
			t.Fatalf("dial in = %v, want timeout", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		_, err = ns.DialContext(ctx, "tcp", hl.Addr().String())
		if err == nil {
			t.Fatal("dial out succeeded through a partition")
		}
	})
	if tables, err := ns.NFTables(); err != nil || len(tables) != 0 {
		t.Fatalf("tables after undo = %v, %v", tables, err)
	}
	c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial after undo: %v", err)
	}
	c.Close()
}

func TestNFTSetupFailsHalfway(t *testing.T) {
	ns := testNetns(t)
	injected := errors.New("injected")
	hook := func(string) error { return injected }
	_, err := PacketLoss{NS: ns, Percent: 50, hook: hook}.Inject(t.Context())
	if !errors.Is(err, injected) {
		t.Fatalf("err = %v", err)
	}
	_, err = Partition{NS: ns, Reject: true, hook: hook}.Inject(t.Context())
	if !errors.Is(err, injected) {
		t.Fatalf("err = %v", err)
	}
	func() {
		defer func() { _ = recover() }()
		_, _ = PacketLoss{NS: ns, Percent: 50, hook: func(string) error { panic(injected) }}.Inject(t.Context())
	}()
	if tables, err := ns.NFTables(); err != nil || len(tables) != 0 {
		t.Fatalf("tables after failed setup = %v, %v", tables, err)
	}
	// Deleting a table that does not exist is success.
	if err := deleteTable(ns, &nftables.Table{Name: NFTablePrefix + "never", Family: nftables.TableFamilyINet}); err != nil {
		t.Errorf("delete missing table: %v", err)
	}
	// Undo after the namespace is gone is a successful no-op.
	undo, err := PacketLoss{NS: ns, Percent: 50}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if err := undo(); err != nil {
		t.Fatalf("undo after netns close: %v", err)
	}
}

func TestNFTRefusesWithoutPrivilege(t *testing.T) {
	ns := testNetns(t)
	err := withoutCap(t, unix.CAP_NET_ADMIN, func() error {
		_, err := PacketLoss{NS: ns, Percent: 10}.Inject(context.Background())
		return err
	})
	if !errors.Is(err, os.ErrPermission) {
		t.Fatalf("err = %v, want permission error", err)
	}
	if tables, _ := ns.NFTables(); len(tables) != 0 {
		t.Fatalf("tables = %v", tables)
	}
}

func TestInjectorValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		inj  Injector
	}{
		{"loss-no-ns", PacketLoss{Percent: 10}},
		{"loss-percent", PacketLoss{NS: &Netns{}, Percent: 101}},
		{"loss-proto", PacketLoss{NS: &Netns{}, Percent: 1, Proto: "sctp"}},
		{"loss-any-port", PacketLoss{NS: &Netns{}, Percent: 1, Proto: "any", Port: 1}},
		{"loss-dir", PacketLoss{NS: &Netns{}, Percent: 1, Direction: 7}},
		{"part-no-ns", Partition{}},
	} {
		if _, err := tc.inj.Inject(context.Background()); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestDNSInNetns runs the DNS server inside a namespace on port 53 and
// resolves through it from the host.
func TestDNSInNetns(t *testing.T) {
	ns := testNetns(t)
	s := startTestDNS(t, DNSConfig{NS: ns, Hosts: testHosts, Delay: 50 * time.Millisecond})
	if got, want := s.Addr(), netip.AddrPortFrom(ns.NSAddr(), 53); got != want {
		t.Fatalf("Addr = %v, want %v", got, want)
	}
	d := medianLookup(t, s.Resolver(), "api.provider.test", 3)
	if d < 50*time.Millisecond || d > 500*time.Millisecond {
		t.Errorf("lookup took %v, want 50ms + a little", d)
	}
	// Loss on port 53 (UDP) makes the resolver time out and retry.
	undo, err := PacketLoss{NS: ns, Port: 53, Proto: "udp", Percent: 100}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer undo()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := s.Resolver().LookupNetIP(ctx, "ip4", "api.provider.test"); err == nil {
		t.Error("lookup succeeded through 100% loss")
	}
}

// lockThreadForever locks the calling goroutine to its thread and never
// unlocks: the thread exits with the goroutine.
func lockThreadForever() { runtime.LockOSThread() }
