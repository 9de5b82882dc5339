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
	"github.com/llmslo/slo/probes/internal/wire"
)

// tenantUID is the uid of the tenants' processes in these tests.
const tenantUID = 10001

// runLingerHelper is tenant A's process: it connects to SLO_SC_TCP, prints
// its connection, waits for a line on stdin, writes 256 KiB and exits,
// leaving the kernel to retransmit what the peer never acknowledged.
func runLingerHelper() int {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.Dial("tcp4", os.Getenv("SLO_SC_TCP"))
	if err != nil {
		fmt.Println(`{"kind":"error","error":"dial"}`)
		return 1
	}
	rc, _ := conn.(*net.TCPConn).SyscallConn()
	var cookie uint64
	_ = rc.Control(func(fd uintptr) { cookie, _ = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE) })
	_ = json.NewEncoder(os.Stdout).Encode(helperRecord{Kind: "own_conn", PID: os.Getpid(), Local: conn.LocalAddr().String(), Cookie: cookie})
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	_ = conn.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	_, _ = conn.Write(make([]byte, 256<<10))
	return 0 // the socket closes with the process: FIN_WAIT1, data unacknowledged
}

// runHolderHelper holds the sidecar connection it inherited as fd 3 (the
// process that opened it has exited): it sends a hello for DNS and
// retransmit events and reports what the server sent for SLO_SC_DUR.
func runHolderHelper() int {
	f := os.NewFile(3, "sidecar")
	conn, err := net.FileConn(f)
	if err != nil {
		fmt.Println(`{"kind":"error","error":"fileconn"}`)
		return 1
	}
	defer conn.Close()
	_, _ = conn.Write(wire.AppendFrame(nil, wire.TypeHello, wire.AppendHello(nil, wire.Hello{
		Version: wire.Version, Signals: 1<<probes.DNSLatency | 1<<probes.TCPRetransmit,
	})))
	dur, _ := time.ParseDuration(os.Getenv("SLO_SC_DUR"))
	_ = conn.SetReadDeadline(time.Now().Add(dur))
	rd := wire.NewReader(conn, wire.DefaultMaxFrame)
	var welcome, bye string
	events := 0
	for {
		fr, err := rd.Next()
		if err != nil {
			break
		}
		switch fr.Type {
		case wire.TypeWelcome:
			w, _ := wire.DecodeWelcome(fr.Payload)
			welcome = fmt.Sprintf("cgroup %d pid %d", w.CgroupID, w.PID)
		case wire.TypeBye:
			b, _ := wire.DecodeBye(fr.Payload)
			bye = b.Text
		case wire.TypeEvent:
			events++
		}
	}
	fmt.Printf("welcome=%q bye=%q events=%d\n", welcome, bye, events)
	return 0
}

// startWithPID starts the command mk returns as pid (free: its former
// holder was reaped) by setting the pid namespace's last pid just before
// the fork; it retries when another fork of the host took the pid first.
func startWithPID(t *testing.T, pid int, mk func() *exec.Cmd) *exec.Cmd {
	t.Helper()
	for range 50 {
		cmd := mk()
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatalf("ns_last_pid: %v", err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if cmd.Process.Pid == pid {
			return cmd
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Fatalf("could not start a process as pid %d", pid)
	return nil
}

// tenantProc returns a command running the test binary as helper mode,
// uid tenantUID, in the cgroup of fd cg.
func tenantProc(bin, mode string, cg int, env ...string) *exec.Cmd {
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"SLO_SIDECAR_HELPER=" + mode}, env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: tenantUID, Gid: tenantUID},
		UseCgroupFD: true, CgroupFD: cg, Pdeathsig: syscall.SIGKILL,
	}
	return cmd
}

// reap kills cmd at cleanup and waits for it.
func reap(t *testing.T, cmd *exec.Cmd) {
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) })
}

// leakWorld starts a host-wide set of DNS (on ports) and retransmit
// probes and subscribes the test to it; it returns the set, the
// subscription, a copy of the test binary every user may run and a socket
// path beside it.
func leakWorld(t *testing.T, ports []uint16) (*probes.Set, <-chan probes.Event, string, string) {
	t.Helper()
	// Not t.Context(): it ends before the cleanups, and the set must outlive
	// the servers the tests start on it.
	set, err := hostWideSet(context.Background(), ports)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	events, unsub := set.Subscribe(1 << 14)
	t.Cleanup(unsub)
	dir := sharedDir(t)
	bin := copyTestBinary(t, dir)
	return set, events, bin, filepath.Join(dir, "s.sock")
}

// TestLingeringSocketAfterPidReuse: tenant A's socket keeps retransmitting
// after A exited (FIN_WAIT1, its data never acknowledged) while tenant B's
// sidecar client holds A's former pid. The kernel stamps every retransmit
// with the socket's own cgroup, A's: B receives none of them.
func TestLingeringSocketAfterPidReuse(t *testing.T) {
	testutil.RequireBPF(t)
	testutil.RequireRootNet(t)
	ns, err := faults.NewNetns("", faults.Subnet(75))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	const port = 9100
	addr := netip.AddrPortFrom(ns.NSAddr(), port).String()
	ln, err := ns.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	set, events, bin, socket := leakWorld(t, nil)
	srv := startServer(t, set, Config{Socket: socket, Mode: 0o666})
	cgA, idA := newCgroup(t, "leak-a")
	cgB, idB := newCgroup(t, "leak-b")

	a := tenantProc(bin, "linger", cgA, "SLO_SC_TCP="+addr)
	stdin, _ := a.StdinPipe()
	stdout, _ := a.StdoutPipe()
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	reap(t, a)
	var own helperRecord
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if err := json.Unmarshal([]byte(line), &own); err != nil || own.Kind != "own_conn" {
		t.Fatalf("tenant A: %q", line)
	}
	undo, err := faults.Partition{NS: ns, Port: port}.Inject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = undo() })
	_, _ = io.WriteString(stdin, "go\n")
	if err := a.Wait(); err != nil {
		t.Fatalf("tenant A: %v", err)
	}
	// B, as A's former pid, listens through the sidecar.
	b := startWithPID(t, own.PID, func() *exec.Cmd {
		c := tenantProc(bin, "client", cgB, "SLO_SC_SOCKET="+socket, "SLO_SC_DUR=6s")
		c.Stdout = &strings.Builder{}
		return c
	})
	reap(t, b)
	start := time.Now()
	var lingering, stampedA, other int
	deadline := time.After(6 * time.Second)
collect:
	for {
		select {
		case ev := <-events:
			if ev.Signal != probes.TCPRetransmit || ev.Cookie != own.Cookie {
				continue
			}
			lingering++
			if ev.CgroupID == idA {
				stampedA++
			} else {
				other++
			}
		case <-deadline:
			break collect
		}
	}
	if err := b.Wait(); err != nil {
		t.Errorf("tenant B: %v", err)
	}
	client := &childClient{name: "B"}
	client.out.WriteString(b.Stdout.(*strings.Builder).String())
	client.parse(t)
	var path string
	var foreign, bEvents int
	for _, r := range client.recs {
		switch {
		case r.Kind == "path" && r.PID != 0:
			path = r.Path
		case r.Kind == "event":
			bEvents++
			if r.Cookie == own.Cookie || r.Local == own.Local {
				foreign++
			}
		}
	}
	t.Logf("A (pid %d, cgroup %d) %s cookie %d; B (pid %d, cgroup %d) on %s for %v: A's socket retransmitted %d times (%d stamped with A's cgroup, %d otherwise); B received %d events, %d of A's; server %+v",
		own.PID, idA, own.Local, own.Cookie, b.Process.Pid, idB, path, time.Since(start).Round(time.Millisecond), lingering, stampedA, other, bEvents, foreign, srv.Stats())
	if path != "sidecar" {
		t.Errorf("tenant B path %q, want sidecar", path)
	}
	if lingering == 0 {
		t.Fatal("A's socket did not retransmit after A exited: no evidence either way")
	}
	if other != 0 {
		t.Errorf("%d of A's retransmits not stamped with A's cgroup %d", other, idA)
	}
	if foreign != 0 {
		t.Errorf("tenant B received %d of tenant A's events", foreign)
	}
}

// runLookupHelper is a tenant's process busy with DNS: it resolves
// SLO_SC_NAME through the server at SLO_SC_DNS every 100 ms for
// SLO_SC_DUR, without probes of its own.
func runLookupHelper() int {
	dur, _ := time.ParseDuration(os.Getenv("SLO_SC_DUR"))
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	lookupUntil(ctx, os.Getenv("SLO_SC_DNS"), os.Getenv("SLO_SC_NAME"), 100*time.Millisecond)
	return 0
}

// runPassHelper is tenant A's short-lived process: it connects to the
// sidecar socket, hands the connection to a holder process of its own
// (same cgroup) and exits before the server authenticates it.
func runPassHelper() int {
	conn, err := net.Dial("unix", os.Getenv("SLO_SC_SOCKET"))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	holder := exec.Command(os.Args[0])
	holder.Env = []string{"SLO_SIDECAR_HELPER=holder", "SLO_SC_DUR=" + os.Getenv("SLO_SC_DUR")}
	holder.ExtraFiles = []*os.File{f}
	holder.Stdout = os.Stdout
	if err := holder.Start(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Printf("holder %d\n", holder.Process.Pid)
	return 0 // the holder is reparented; it reports on the shared stdout
}

// TestPidReusedBeforeAuthentication: tenant A connects, passes the
// connection to a process of its own and exits; tenant B's process, busy
// with DNS lookups, takes A's pid before the server gets to authenticate
// the connection. The server must not take the connection for B's: it
// authenticates the process that connected (its pidfd), not whoever holds
// the pid now.
func TestPidReusedBeforeAuthentication(t *testing.T) {
	testutil.RequireBPF(t)
	testutil.RequireRootNet(t)
	d, err := faults.StartDNS(faults.DNSConfig{Delay: 20 * time.Millisecond, Hosts: map[string]netip.Addr{"b.sidecar.test": netip.MustParseAddr("10.213.75.9")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	set, events, bin, socket := leakWorld(t, []uint16{d.Addr().Port()})
	// Created, not serving: connections wait in the backlog, unauthenticated.
	srv, err := NewServer(set, Config{Socket: socket, Mode: 0o666})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cgA, _ := newCgroup(t, "reuse-a")
	cgB, idB := newCgroup(t, "reuse-b")

	a := tenantProc(bin, "pass", cgA, "SLO_SC_SOCKET="+socket, "SLO_SC_DUR=4s")
	// A pipe of our own: the holder writes to it after A has exited.
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	a.Stdout = w
	err = a.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	reap(t, a)
	br := bufio.NewReader(out)
	line, _ := br.ReadString('\n')
	var holder int
	if _, err := fmt.Sscanf(line, "holder %d", &holder); err != nil {
		t.Fatalf("tenant A: %q", line)
	}
	t.Cleanup(func() { _ = unix.Kill(holder, unix.SIGKILL) })
	if err := a.Wait(); err != nil {
		t.Fatalf("tenant A: %v", err)
	}
	b := startWithPID(t, a.Process.Pid, func() *exec.Cmd {
		c := tenantProc(bin, "lookup", cgB, "SLO_SC_DUR=4s",
			"SLO_SC_DNS="+d.Addr().String(), "SLO_SC_NAME=b.sidecar.test")
		c.Stdout = io.Discard
		return c
	})
	reap(t, b)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	t.Cleanup(func() { srv.Close(); <-served })

	bDNS := 0
	deadline := time.After(4 * time.Second)
collect:
	for {
		select {
		case ev := <-events:
			if ev.Signal == probes.DNSLatency && ev.CgroupID == idB {
				bDNS++
			}
		case <-deadline:
			break collect
		}
	}
	report, _ := br.ReadString('\n')
	var welcome, bye string
	var got int
	if _, err := fmt.Sscanf(strings.TrimSpace(report), "welcome=%q bye=%q events=%d", &welcome, &bye, &got); err != nil {
		t.Fatalf("holder report %q: %v", report, err)
	}
	t.Logf("A pid %d → B (cgroup %d) pid %d; B's DNS events on the host %d; the connection A left: welcome %q, bye %q, %d events; server %+v",
		a.Process.Pid, idB, b.Process.Pid, bDNS, welcome, bye, got, srv.Stats())
	if bDNS == 0 {
		t.Fatal("tenant B produced no DNS events: no evidence either way")
	}
	if welcome != "" || got != 0 {
		t.Errorf("the connection of exited tenant A was served (%s) and received %d of tenant B's events", welcome, got)
	}
	if srv.Stats().Rejected[ReasonUnauthorized] != 1 {
		t.Errorf("rejections %v, want one unauthorized", srv.Stats().Rejected)
	}
}
