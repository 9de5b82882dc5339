//go:build linux

package probes

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runPidnsHelper is helper mode "pidns": run in a fresh pid namespace
// (getpid() = 1 there), it starts ConnectLatency for itself, connects to
// its own listener and reports whether the connect event came back, with
// which PID.
func runPidnsHelper() int {
	set, err := Start(context.Background(), Config{Signals: []Signal{ConnectLatency}})
	if err != nil {
		fmt.Println("start error:", err)
		return 3
	}
	defer set.Close()
	events, cancel := set.Subscribe(64)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen error:", err)
		return 3
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println("dial error:", err)
		return 3
	}
	defer c.Close()
	want := c.LocalAddr().(*net.TCPAddr).AddrPort()
	timeout := time.After(3 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Signal == ConnectLatency && ev.Local == want {
				fmt.Printf("getpid %d event pid %d\n", os.Getpid(), ev.PID)
				return 0
			}
		case <-timeout:
			fmt.Printf("getpid %d no connect event\n", os.Getpid())
			return 4
		}
	}
}

// TestPidNamespacePrivileged checks that a process in its own pid
// namespace (a container) gets its own kernel events: the programs filter
// on the initial-namespace tgid, events report the namespaced pid.
func TestPidNamespacePrivileged(t *testing.T) {
	requireBPF(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLO_PROBES_HELPER=pidns")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.Output(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
		<-done
		t.Fatal("pidns helper still running after 20s")
	}
	got := strings.TrimSpace(string(out))
	t.Logf("helper: %s", got)
	if err != nil {
		t.Fatalf("helper: %v: %s", err, got)
	}
	if got != "getpid 1 event pid 1" {
		t.Errorf("helper output %q, want %q", got, "getpid 1 event pid 1")
	}
}
