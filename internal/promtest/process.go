package promtest

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Process is a program a test started, stopped by its PID.
type Process struct {
	// Addr is the loopback host:port it was given.
	Addr string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  string
}

// StartProcess starts the program command returns for a free loopback
// address, its output in logPath, and waits until GET http://<addr><ready>
// answers 200 (30 s at most); it tries three addresses, since a free port
// can be taken before the program binds it. The process is stopped by its
// PID when tb ends, and its log printed when tb failed. name names it in
// messages.
func StartProcess(tb testing.TB, name, logPath, ready string, command func(addr string) *exec.Cmd) *Process {
	tb.Helper()
	var last error
	for range 3 {
		p := &Process{Addr: freePort(tb), log: logPath}
		if last = p.start(command(p.Addr), "http://"+p.Addr+ready); last == nil {
			tb.Cleanup(func() {
				p.Stop()
				if tb.Failed() {
					b, _ := os.ReadFile(p.log)
					tb.Logf("%s log (%s):\n%s", name, p.log, tail(b, 4000))
				}
			})
			return p
		}
	}
	tb.Fatalf("%s did not start: %v", name, last)
	return nil
}

// start starts cmd, its output to p.log, and waits until ready answers 200
// (30 s at most) or the process has exited.
func (p *Process) start(cmd *exec.Cmd, ready string) error {
	logf, err := os.Create(p.log)
	if err != nil {
		return err
	}
	p.cmd = cmd
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	p.done = make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.log)
			return fmt.Errorf("exited: %s", tail(b, 2000))
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := http.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	p.Stop()
	return errors.New("not ready after 30 s")
}

// Stop stops the process by its PID: SIGTERM, then SIGKILL after 10 s. It is
// idempotent.
func (p *Process) Stop() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Log returns the path of the process's output.
func (p *Process) Log() string { return p.log }
