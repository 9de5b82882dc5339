package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// serviceProc is the lab's handle on a running service process.
type serviceProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan []byte // the service's stdout, line by line
	stderr *tailBuffer
	url    string
	once   sync.Once
}

// serviceStart bounds the time a service takes to load its probes and
// listen, serviceStop the time it takes to report.
const (
	serviceStart = 30 * time.Second
	serviceStop  = 30 * time.Second
)

// startService starts the service process with cfg, moves it into the
// service's cgroups (before it does anything) and waits until it listens.
func (e *Env) startService(ctx context.Context, cfg serviceConfig) (_ *serviceProc, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("lab: service: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ServiceEnv+"=1")
	cmd.SysProcAttr = childAttr()
	s := &serviceProc{cmd: cmd, lines: make(chan []byte, 4), stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = s.stderr
	if s.in, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: start service: %w", err)
	}
	defer func() {
		if err != nil {
			s.kill()
		}
	}()
	go s.read(out)
	if e.cgroups != nil {
		if err := e.cgroups.enter(cmd.Process.Pid); err != nil {
			return nil, fmt.Errorf("lab: service into its cgroups: %w", err)
		}
	}
	if err := s.send(cfg); err != nil {
		return nil, err
	}
	line, err := s.next(ctx, serviceStart)
	if err != nil {
		return nil, err
	}
	var ready struct{ Addr string }
	if err := json.Unmarshal(line, &ready); err != nil || ready.Addr == "" {
		return nil, fmt.Errorf("lab: service: %q is not its address (%s)", line, s.stderr)
	}
	s.url = "http://" + ready.Addr + "/v1/chat/completions"
	return s, nil
}

// pid returns the service's process id.
func (s *serviceProc) pid() int { return s.cmd.Process.Pid }

// read passes the service's stdout line by line to s.lines, and closes it
// at the end.
func (s *serviceProc) read(out io.Reader) {
	defer close(s.lines)
	br := bufio.NewReaderSize(out, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			s.lines <- line
		}
		if err != nil {
			return
		}
	}
}

// next returns the service's next line, waiting at most d.
func (s *serviceProc) next(ctx context.Context, d time.Duration) ([]byte, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case line, ok := <-s.lines:
		if !ok {
			return nil, fmt.Errorf("lab: the service ended: %s", s.stderr)
		}
		return line, nil
	case <-t.C:
		return nil, fmt.Errorf("lab: the service did not answer within %v: %s", d, s.stderr)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send writes v to the service as a JSON line (a string as a plain line).
// begin tells the service the run begins now and returns the time sent.
func (s *serviceProc) begin() (time.Time, error) {
	now := time.Now()
	return now, s.send("begin " + now.Format(time.RFC3339Nano))
}

func (s *serviceProc) send(v any) error {
	var b []byte
	if str, ok := v.(string); ok {
		b = []byte(str + "\n")
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return err
		}
		b = append(b, '\n')
	}
	if _, err := s.in.Write(b); err != nil {
		return fmt.Errorf("lab: service: %w (%s)", err, s.stderr)
	}
	return nil
}

// stop ends the run: the service closes its tracker, reports and exits.
func (s *serviceProc) stop(ctx context.Context) (serviceResult, error) {
	var res serviceResult
	if err := s.send("stop"); err != nil {
		return res, err
	}
	line, err := s.next(ctx, serviceStop)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(line, &res); err != nil {
		return res, fmt.Errorf("lab: service report: %w", err)
	}
	s.kill()
	if res.Err != "" {
		return res, fmt.Errorf("lab: service: %s", res.Err)
	}
	return res, nil
}

// kill ends the service (by its pid) if it still runs and reaps it; it is
// idempotent.
func (s *serviceProc) kill() {
	s.once.Do(func() {
		s.in.Close()
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done: // it exits on its own once its input closes
		case <-time.After(2 * time.Second):
			if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				return
			}
			<-done
		}
	})
}

// tailBuffer keeps the last max bytes written to it (a child's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.b) == 0 {
		return "no output on stderr"
	}
	return "stderr: " + string(bytes.TrimSpace(t.b))
}
