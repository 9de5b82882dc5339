package slo

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/probes"
)

// logBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLoggerReachesProbes: the probes log their path decision to
// WithLogger's logger unless their own Config.Logger is set. The kernel
// signals are kept off the in-process path and the sidecar is disabled, as
// for a process without BPF rights, so the decision is the floor.
func TestLoggerReachesProbes(t *testing.T) {
	floor := probes.Config{KernelPath: probes.PathSidecar, SidecarSocket: "off"}
	wait := func(t *testing.T, buf *logBuffer) string {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if s := buf.String(); strings.Contains(s, "floor only") {
				return s
			}
		}
		return buf.String()
	}
	t.Run("WithLogger", func(t *testing.T) {
		var buf logBuffer
		tr, err := New(WithLogger(slog.New(slog.NewTextHandler(&buf, nil))), WithProbes(floor))
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		if s := wait(t, &buf); !strings.Contains(s, "probes: kernel signals off in-process and the sidecar is disabled: floor only") {
			t.Errorf("WithLogger's logger got no word of the floor:\n%s", s)
		}
	})
	t.Run("probes.Config.Logger wins", func(t *testing.T) {
		var mine, theirs logBuffer
		cfg := floor
		cfg.Logger = slog.New(slog.NewTextHandler(&theirs, nil))
		tr, err := New(WithLogger(slog.New(slog.NewTextHandler(&mine, nil))), WithProbes(cfg))
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		if s := wait(t, &theirs); !strings.Contains(s, "floor only") {
			t.Errorf("probes.Config.Logger got no word of the floor:\n%s", s)
		}
		if strings.Contains(mine.String(), "floor only") {
			t.Errorf("WithLogger's logger got the probes' lines although probes.Config.Logger was set:\n%s", mine.String())
		}
	})
}
