//go:build linux

package probes

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// runHelper is the body of a helper process (SLO_PROBES_HELPER=mode).
func runHelper(mode string) int {
	if p := os.Getenv("SLO_PROBES_NETNS"); p != "" {
		runtime.LockOSThread() // the main goroutine stays on this thread
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "open netns:", err)
			return 1
		}
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			fmt.Fprintln(os.Stderr, "setns:", err)
			return 1
		}
	}
	switch mode {
	case "dns":
		// Queries SLO_PROBES_QNAME at SLO_PROBES_ADDR n times.
		n, _ := strconv.Atoi(os.Getenv("SLO_PROBES_N"))
		c := &dns.Client{Timeout: 5 * time.Second}
		for i := 0; i < n; i++ {
			conn, err := c.Dial(os.Getenv("SLO_PROBES_ADDR"))
			if err != nil {
				fmt.Fprintln(os.Stderr, "dial:", err)
				return 1
			}
			m := new(dns.Msg)
			m.SetQuestion(os.Getenv("SLO_PROBES_QNAME"), dns.TypeA)
			if _, _, err := c.ExchangeWithConn(m, conn); err != nil {
				fmt.Fprintln(os.Stderr, "exchange:", err)
				return 1
			}
			conn.Close()
		}
		return 0
	case "tcp":
		// Connects to SLO_PROBES_ADDR and writes until killed.
		conn, err := net.Dial("tcp", os.Getenv("SLO_PROBES_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			return 1
		}
		buf := make([]byte, 1024)
		for {
			if _, err := conn.Write(buf); err != nil {
				return 0
			}
			time.Sleep(5 * time.Millisecond)
		}
	case "spin":
		// Spins on SLO_PROBES_CPU at nice SLO_PROBES_NICE until killed.
		cpu, _ := strconv.Atoi(os.Getenv("SLO_PROBES_CPU"))
		nice, _ := strconv.Atoi(os.Getenv("SLO_PROBES_NICE"))
		runtime.GOMAXPROCS(1)
		runtime.LockOSThread()
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			fmt.Fprintln(os.Stderr, "affinity:", err)
			return 1
		}
		if nice != 0 {
			_ = unix.Setpriority(unix.PRIO_PROCESS, 0, nice)
		}
		x := 0
		for {
			x++
		}
	case "serve":
		// A request-serving thread: works 2ms, sleeps 1ms, pinned to
		// SLO_PROBES_CPU, until killed.
		cpu, _ := strconv.Atoi(os.Getenv("SLO_PROBES_CPU"))
		runtime.GOMAXPROCS(1)
		runtime.LockOSThread()
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			fmt.Fprintln(os.Stderr, "affinity:", err)
			return 1
		}
		ts := unix.NsecToTimespec(int64(time.Millisecond))
		for {
			for w := time.Now().Add(2 * time.Millisecond); time.Now().Before(w); {
			}
			_ = unix.Nanosleep(&ts, nil)
		}
	case "pagecache":
		// After 500ms, writes 192 MiB to SLO_PROBES_FILE (page cache).
		time.Sleep(500 * time.Millisecond)
		f, err := os.Create(os.Getenv("SLO_PROBES_FILE"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "create:", err)
			return 1
		}
		defer f.Close()
		buf := make([]byte, 1<<20)
		for i := range buf {
			buf[i] = byte(i)
		}
		for i := 0; i < 192; i++ {
			if _, err := f.Write(buf); err != nil {
				fmt.Fprintln(os.Stderr, "write:", err)
				return 1
			}
		}
		return 0
	case "pidns":
		return runPidnsHelper()
	case "loadgen":
		return runLoadgen()
	case "unpriv":
		// Starts every signal and prints the status lines.
		set, err := Start(context.Background(), Config{Signals: AllSignals(), PollInterval: 50 * time.Millisecond})
		if err != nil {
			fmt.Println("error", err)
			return 3
		}
		ch, cancel := set.Subscribe(64)
		got := map[Signal]bool{}
		timeout := time.After(3 * time.Second)
	loop:
		for {
			select {
			case ev := <-ch:
				got[ev.Signal] = true
				if got[GoSchedLatency] && got[CPUSteal] {
					break loop
				}
			case <-timeout:
				break loop
			}
			runtime.Gosched()
		}
		cancel()
		for _, st := range set.Status() {
			fmt.Printf("status %s %s %v %s\n", st.Signal, st.State, got[st.Signal], st.Reason)
		}
		if err := set.Close(); err != nil {
			fmt.Println("close error", err)
			return 4
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper", mode)
	return 2
}

// helperProc is a running helper process.
type helperProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid after done is closed
}

// startHelper starts the test binary as a helper process and kills it (by
// PID) at cleanup.
func startHelper(t testing.TB, mode string, env ...string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"SLO_PROBES_HELPER=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper %s: %v", mode, err)
	}
	h := &helperProc{cmd: cmd, done: make(chan struct{})}
	go func() { h.err = cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-h.done
	})
	return h
}

// wait waits up to timeout for the helper to exit and returns its error.
func (h *helperProc) wait(timeout time.Duration) error {
	select {
	case <-h.done:
		return h.err
	case <-time.After(timeout):
		return fmt.Errorf("helper %d still running after %v", h.cmd.Process.Pid, timeout)
	}
}
