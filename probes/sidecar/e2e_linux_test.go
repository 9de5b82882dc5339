//go:build linux

package sidecar

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/testutil"
	"github.com/llmslo/slo/probes"
)

// helperRecord is one JSON line a client helper prints.
type helperRecord struct {
	Kind   string  `json:"kind"` // path, own_conn, event, error
	Path   string  `json:"path,omitempty"`
	PID    int     `json:"pid,omitempty"`
	Signal string  `json:"signal,omitempty"`
	Name   string  `json:"name,omitempty"`
	DurMs  float64 `json:"dur_ms,omitempty"`
	Local  string  `json:"local,omitempty"`
	Cookie uint64  `json:"cookie,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// hostWideSet starts the server's event source: every process, DNS on ports.
func hostWideSet(ctx context.Context, ports []uint16) (*probes.Set, error) {
	return probes.Start(ctx, probes.Config{
		Signals:      []probes.Signal{probes.DNSLatency, probes.TCPRetransmit},
		AllProcesses: true, DNSPorts: ports,
	})
}

func parsePorts(s string) []uint16 {
	var out []uint16
	for _, p := range strings.Split(s, ",") {
		n, _ := strconv.Atoi(p)
		out = append(out, uint16(n))
	}
	return out
}

// runServerHelper serves until killed: SLO_SC_SOCKET, SLO_SC_PORTS.
func runServerHelper() int {
	ctx := context.Background()
	set, err := hostWideSet(ctx, parsePorts(os.Getenv("SLO_SC_PORTS")))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	srv, err := NewServer(set, Config{Socket: os.Getenv("SLO_SC_SOCKET"), Group: os.Getenv("SLO_SC_GROUP")})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	_ = srv.Serve(ctx)
	return 0
}

// runClientHelper is an unprivileged client: it starts probes (auto path),
// provokes DNS lookups of SLO_SC_NAME at SLO_SC_DNS and traffic to the
// lossy SLO_SC_TCP (each when set) for SLO_SC_DUR, and prints what it
// received.
func runClientHelper() int {
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	out := func(r helperRecord) { mu.Lock(); _ = enc.Encode(r); mu.Unlock() }
	dur, _ := time.ParseDuration(os.Getenv("SLO_SC_DUR"))
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	set, err := probes.Start(context.Background(), probes.Config{
		Signals:       []probes.Signal{probes.DNSLatency, probes.TCPRetransmit},
		SidecarSocket: os.Getenv("SLO_SC_SOCKET"),
	})
	if err != nil {
		out(helperRecord{Kind: "error", Error: err.Error()})
		return 1
	}
	defer set.Close()
	out(helperRecord{Kind: "path", Path: set.Path().String(), PID: os.Getpid(), Error: fmt.Sprint(set.Status())})
	events, unsub := set.Subscribe(1 << 14)
	defer unsub()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if dnsAddr := os.Getenv("SLO_SC_DNS"); dnsAddr != "" {
			lookupUntil(ctx, dnsAddr, os.Getenv("SLO_SC_NAME"), 200*time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		// The path drops 30 % of packets each way: one dial (SYNs at 0, 1
		// and 3 s) fails about one time in eight, so redial until the run ends.
		if os.Getenv("SLO_SC_TCP") == "" {
			return
		}
		d := net.Dialer{Timeout: 2 * time.Second}
		conn, err := d.DialContext(ctx, "tcp4", os.Getenv("SLO_SC_TCP"))
		for err != nil && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			conn, err = d.DialContext(ctx, "tcp4", os.Getenv("SLO_SC_TCP"))
		}
		if err != nil {
			out(helperRecord{Kind: "error", Error: "dial: " + err.Error()})
			return
		}
		defer conn.Close()
		rc, _ := conn.(*net.TCPConn).SyscallConn()
		var cookie uint64
		_ = rc.Control(func(fd uintptr) { cookie, _ = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE) })
		out(helperRecord{Kind: "own_conn", Local: conn.LocalAddr().String(), Cookie: cookie})
		buf := make([]byte, 1024)
		for ctx.Err() == nil {
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = conn.Write(buf)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for {
		select {
		case ev := <-events:
			out(helperRecord{Kind: "event", Signal: ev.Signal.String(), PID: int(ev.PID), Name: ev.DNS.Name,
				DurMs: float64(ev.Duration) / 1e6, Local: ev.Local.String(), Cookie: ev.Cookie})
		case <-ctx.Done():
			wg.Wait()
			out(helperRecord{Kind: "path", Path: set.Path().String()})
			return 0
		}
	}
}

// lookupUntil resolves name through the DNS server at dnsAddr (UDP) every
// pause until ctx ends.
func lookupUntil(ctx context.Context, dnsAddr, name string, pause time.Duration) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp4", dnsAddr)
	}}
	for ctx.Err() == nil {
		_, _ = r.LookupHost(ctx, name)
		time.Sleep(pause)
	}
}

// sharedDir returns a directory every user can traverse, removed at the end.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "llmslo-sc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyTestBinary copies the running test binary where nobody may run it.
func copyTestBinary(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, "sidecar.test")
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// newCgroup creates a cgroup v2 directory and returns an open fd of it.
func newCgroup(t *testing.T, name string) (int, uint64) {
	t.Helper()
	v2, err := cgroup2Mount()
	if err != nil {
		testutil.Skip(t, err.Error())
	}
	dir := filepath.Join(v2, fmt.Sprintf("%s%s-%d", faults.CgroupPrefix, name, os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("cgroup %s not removed", dir)
	})
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return fd, st.Ino
}

type childClient struct {
	name  string
	delay time.Duration
	cg    uint64
	cmd   *exec.Cmd
	out   strings.Builder
	done  chan error
	recs  []helperRecord
}

func (c *childClient) parse(t *testing.T) {
	for line := range strings.Lines(c.out.String()) {
		var r helperRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Errorf("%s: bad line %q", c.name, line)
			continue
		}
		c.recs = append(c.recs, r)
	}
}

// TestUnprivilegedClientsSeeOnlyTheirOwn runs the sidecar server in this
// process and two clients as real child processes under user nobody, each
// in its own cgroup, provoking DNS delay and TCP retransmissions at the
// same time. Each must receive its own events and none of the other's.
func TestUnprivilegedClientsSeeOnlyTheirOwn(t *testing.T) {
	testutil.RequireBPF(t)
	testutil.RequireRootNet(t)
	for _, server := range []string{"inprocess", "child"} {
		t.Run("server="+server, func(t *testing.T) { testIsolation(t, server == "child") })
	}
}

func testIsolation(t *testing.T, childServer bool) {
	rig := newIsolationRig(t, 73)
	var srv *Server
	if childServer {
		serverChild(t, rig.bin, rig.socket, rig.portList(), "SLO_SC_GROUP=65534")
	} else {
		set, err := hostWideSet(context.Background(), rig.ports)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { set.Close() }) // after the server's cleanup
		srv = startServer(t, set, Config{Socket: rig.socket, Group: "65534"})
	}
	rig.runClients(t, 65534, 65534)
	if srv != nil {
		t.Logf("server stats %+v", srv.Stats())
	}
	rig.check(t)
}

// isolationRig is two tenants' world: a lossy TCP server in a network
// namespace (30 % loss each way) and a DNS server per tenant with its own
// delay, plus a shared directory holding a copy of the test binary and the
// socket path.
type isolationRig struct {
	tcp     string
	clients []*childClient
	dnsAddr map[*childClient]string
	ports   []uint16
	dir     string
	bin     string
	socket  string
}

func newIsolationRig(t *testing.T, subnet uint8) *isolationRig {
	ns, err := faults.NewNetns("", faults.Subnet(subnet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	const port = 9100
	ln, err := ns.Listen("tcp4", netip.AddrPortFrom(ns.NSAddr(), port).String())
	if err != nil {
		t.Fatal(err)
	}
	var lwg sync.WaitGroup
	lwg.Add(1)
	go func() {
		defer lwg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			lwg.Add(1)
			go func() { defer lwg.Done(); _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); lwg.Wait() })
	undo, err := faults.PacketLoss{NS: ns, Port: port, Percent: 30}.Inject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = undo() })

	rig := &isolationRig{
		tcp:     netip.AddrPortFrom(ns.NSAddr(), port).String(),
		clients: []*childClient{{name: "one", delay: 150 * time.Millisecond}, {name: "two", delay: 50 * time.Millisecond}},
		dnsAddr: map[*childClient]string{},
	}
	for _, c := range rig.clients {
		d, err := faults.StartDNS(faults.DNSConfig{Delay: c.delay, Hosts: map[string]netip.Addr{c.name + ".sidecar.test": netip.MustParseAddr("10.213.73.9")}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		rig.ports = append(rig.ports, d.Addr().Port())
		rig.dnsAddr[c] = d.Addr().String()
	}
	rig.dir = sharedDir(t)
	rig.bin = copyTestBinary(t, rig.dir)
	rig.socket = filepath.Join(rig.dir, "s.sock")
	return rig
}

// portList is the DNS ports as the -dns-ports flag spells them.
func (r *isolationRig) portList() string {
	var ps []string
	for _, p := range r.ports {
		ps = append(ps, strconv.Itoa(int(p)))
	}
	return strings.Join(ps, ",")
}

// runClients runs both clients as uid:gid, each in a cgroup of its own,
// until they finish (6 s of traffic).
func (r *isolationRig) runClients(t *testing.T, uid, gid uint32) {
	t.Helper()
	for _, c := range r.clients {
		fd, cg := newCgroup(t, "sc-"+c.name)
		c.cg = cg
		c.cmd = exec.Command(r.bin)
		c.cmd.Env = []string{
			"SLO_SIDECAR_HELPER=client", "SLO_SC_SOCKET=" + r.socket, "SLO_SC_NAME=" + c.name + ".sidecar.test",
			"SLO_SC_DNS=" + r.dnsAddr[c], "SLO_SC_TCP=" + r.tcp, "SLO_SC_DUR=6s",
		}
		c.cmd.Stdout = &c.out
		c.cmd.Stderr = os.Stderr
		c.cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: uid, Gid: gid},
			UseCgroupFD: true, CgroupFD: fd,
			Pdeathsig: syscall.SIGKILL,
		}
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c.done = make(chan error, 1)
		go func() { c.done <- c.cmd.Wait() }()
		t.Cleanup(func() { _ = c.cmd.Process.Kill(); <-c.done; c.done <- nil })
	}
	for _, c := range r.clients {
		select {
		case err := <-c.done:
			c.done <- err
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("%s did not finish", c.name)
		}
		c.parse(t)
	}
}

// check asserts that each client was served by the sidecar and received
// its own DNS-delay and retransmit events and none of the other's.
func (r *isolationRig) check(t *testing.T) {
	t.Helper()
	for i, c := range r.clients {
		checkClient(t, c, r.clients[1-i])
	}
}

func checkClient(t *testing.T, c, other *childClient) {
	t.Helper()
	var own helperRecord
	var pid int
	for _, r := range c.recs {
		switch {
		case r.Kind == "own_conn":
			own = r
		case r.Kind == "path" && r.PID != 0:
			pid = r.PID
			if r.Path != "sidecar" {
				t.Errorf("%s: path %s, want sidecar (%s)", c.name, r.Path, r.Error)
			}
		case r.Kind == "error":
			t.Errorf("%s: %s", c.name, r.Error)
		}
	}
	var otherLocal []string
	for _, r := range other.recs {
		if r.Kind == "own_conn" {
			otherLocal = append(otherLocal, r.Local)
		}
	}
	var dnsOwn, dnsOther, rtOwn, rtOther int
	var minDNS, maxDNS float64
	for _, r := range c.recs {
		if r.Kind != "event" {
			continue
		}
		if r.PID != pid && r.PID != 0 {
			t.Errorf("%s (pid %d): event of pid %d: %+v", c.name, pid, r.PID, r)
		}
		switch r.Signal {
		case "dns_latency":
			switch r.Name {
			case c.name + ".sidecar.test":
				dnsOwn++
				if minDNS == 0 || r.DurMs < minDNS {
					minDNS = r.DurMs
				}
				maxDNS = max(maxDNS, r.DurMs)
			case other.name + ".sidecar.test":
				dnsOther++
			}
		case "tcp_retransmit":
			if r.Cookie == own.Cookie && r.Local == own.Local {
				rtOwn++
			}
			if slices.Contains(otherLocal, r.Local) {
				rtOther++
			}
		}
	}
	t.Logf("%s (cgroup %d, pid %d): dns own %d (%.1f–%.1f ms, server delay %v), other %d; retransmits own %d, other %d",
		c.name, c.cg, pid, dnsOwn, minDNS, maxDNS, c.delay, dnsOther, rtOwn, rtOther)
	if dnsOwn == 0 || rtOwn == 0 {
		t.Errorf("%s: own events missing: dns %d, retransmits %d", c.name, dnsOwn, rtOwn)
	}
	if dnsOwn > 0 && (minDNS < float64(c.delay.Milliseconds())*0.95 || maxDNS > float64(c.delay.Milliseconds())+1000) {
		t.Errorf("%s: dns latency %.1f–%.1f ms, want ≈ %v", c.name, minDNS, maxDNS, c.delay)
	}
	if dnsOther != 0 || rtOther != 0 {
		t.Errorf("%s: received %d dns and %d retransmit events of the other client", c.name, dnsOther, rtOther)
	}
}

// serverChild runs the sidecar as a child process and waits until it serves.
func serverChild(t *testing.T, bin, socket string, ports string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"SLO_SIDECAR_HELPER=server", "SLO_SC_SOCKET=" + socket, "SLO_SC_PORTS=" + ports}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("server child: %q %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return cmd
}

// TestSidecarKilledMidStream kills a sidecar child process while a client
// streams from it: the client must be on the floor within 1s and back on
// the sidecar, with events, once a new sidecar serves the socket.
func TestSidecarKilledMidStream(t *testing.T) {
	testutil.RequireBPF(t)
	d, err := faults.StartDNS(faults.DNSConfig{Delay: 30 * time.Millisecond, Hosts: map[string]netip.Addr{"kill.sidecar.test": netip.MustParseAddr("10.213.73.10")}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dir := sharedDir(t)
	bin := copyTestBinary(t, dir)
	socket := filepath.Join(dir, "s.sock")
	ports := strconv.Itoa(int(d.Addr().Port()))
	child := serverChild(t, bin, socket, ports)

	set, err := probes.Start(context.Background(), probes.Config{
		Signals: []probes.Signal{probes.DNSLatency}, KernelPath: probes.PathSidecar, SidecarSocket: socket,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	events, unsub := set.Subscribe(1024)
	defer unsub()
	r := d.Resolver()
	lookupUntilEvent := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			_, _ = r.LookupHost(context.Background(), "kill.sidecar.test")
			for {
				select {
				case ev := <-events:
					if ev.Signal == probes.DNSLatency && ev.DNS.Name == "kill.sidecar.test" {
						t.Logf("%s: dns event %v", what, ev.Duration)
						return
					}
					continue
				case <-time.After(100 * time.Millisecond):
				}
				break
			}
		}
		t.Fatalf("%s: no dns event", what)
	}
	if set.Path() != probes.PathSidecar {
		t.Fatalf("path %v: %+v", set.Path(), set.Status())
	}
	lookupUntilEvent("first sidecar")

	// Kill it mid-stream: a lookup loop keeps events flowing.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = r.LookupHost(context.Background(), "kill.sidecar.test")
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for set.Path() != probes.PathFloor {
		if time.Since(t0) > time.Second {
			close(stop)
			t.Fatalf("still on %v 1s after the sidecar was killed", set.Path())
		}
		time.Sleep(time.Millisecond)
	}
	floorAfter := time.Since(t0)
	close(stop)
	st := set.StatusOf(probes.DNSLatency)
	t.Logf("floor %v after SIGKILL; status %s: %s", floorAfter, st.State, st.Reason)
	if st.State != probes.Off {
		t.Errorf("dns status on the floor: %+v", st)
	}
	serverChild(t, bin, socket, ports)
	t1 := time.Now()
	for set.Path() != probes.PathSidecar {
		if time.Since(t1) > 5*time.Second {
			t.Fatalf("not back on the sidecar 5s after it returned: %+v", set.StatusOf(probes.DNSLatency))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("back on the sidecar %v after it returned", time.Since(t1))
	lookupUntilEvent("second sidecar")
}

// TestAutoPathPrefersInProcess: with privileges the library loads its own
// probes even when a sidecar is reachable.
func TestAutoPathPrefersInProcess(t *testing.T) {
	testutil.RequireBPF(t)
	srv := startServer(t, newFakeSource(), Config{})
	set, err := probes.Start(context.Background(), probes.Config{Signals: []probes.Signal{probes.TCPRetransmit}, SidecarSocket: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if set.Path() != probes.PathInProcess {
		t.Errorf("path %v, want inprocess", set.Path())
	}
	if n := srv.Stats().Accepted; n != 0 {
		t.Errorf("%d sidecar sessions, want none", n)
	}
}
