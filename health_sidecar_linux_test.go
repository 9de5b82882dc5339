package slo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/sidecar"
	"github.com/prometheus/client_golang/prometheus"
)

// quietSource is a sidecar.Source with every kernel signal on and no events.
type quietSource struct{}

func (q *quietSource) Subscribe(n int) (<-chan probes.Event, func()) {
	ch := make(chan probes.Event, n)
	var once sync.Once
	return ch, func() { once.Do(func() { close(ch) }) }
}

func (q *quietSource) Status() []probes.SignalStatus {
	var out []probes.SignalStatus
	for _, s := range probes.AllSignals() {
		st := probes.Off
		if s <= probes.SyscallLatency {
			st = probes.On
		}
		out = append(out, probes.SignalStatus{Signal: s, State: st})
	}
	return out
}

// TestHealthRulesSidecarKilled records the self-health metrics of a live
// tracker whose kernel signals come from an slo-sidecar (minutes 0-9), then
// kills the sidecar's process (minutes 10-19), and runs the llmslo-health rules over
// the recording with promtool: nothing fires while it serves;
// LLMSLOSidecarDisconnected and LLMSLOProbeDown (for each signal it
// delivered) fire once it is gone.
func TestHealthRulesSidecarKilled(t *testing.T) {
	promtool(t)
	socket := filepath.Join(t.TempDir(), "sidecar.sock")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The sidecar runs as a process of its own: this test binary, serving
	// quietSource on socket (TestHelperSidecarProcess), killed with SIGKILL.
	cmd := exec.Command(exe, "-test.run=^TestHelperSidecarProcess$")
	cmd.Env = append(os.Environ(), helperSidecarEnv+"="+socket)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-waited
		}
	}
	t.Cleanup(kill)
	waitUntil(t, 10*time.Second, "the sidecar's socket", func() bool { _, err := os.Stat(socket); return err == nil })
	reg := prometheus.NewRegistry()
	tr, err := New(WithRegisterer(reg), WithService("gw"), WithObjectives(ErrorRate(0.99)), WithErrorHandler(func(error) {}),
		WithProbes(probes.Config{Signals: []probes.Signal{probes.DNSLatency, probes.TCPRetransmit},
			KernelPath: probes.PathSidecar, SidecarSocket: socket}),
		optionFunc(func(c *config) { c.evalInterval = 5 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	connected := func() bool {
		set := tr.probeSet()
		if set == nil {
			return false
		}
		_, up := set.Sidecar()
		return up
	}
	waitUntil(t, 10*time.Second, "the sidecar session", connected)
	rec := &healthRecorder{reg: reg, series: map[string][]string{}}
	for range 10 {
		rec.scrapeAfterEvaluation(t, tr)
	}
	for _, s := range tr.KernelStatus() {
		if (s.Signal == probes.DNSLatency.String() || s.Signal == probes.TCPRetransmit.String()) && (s.State != "on" || s.Path != "sidecar") {
			t.Fatalf("before the sidecar stops: %+v", s)
		}
	}
	if s := tr.Status().Sidecar; s != "connected" {
		t.Fatalf("Status().Sidecar = %q while the sidecar serves", s)
	}
	kill()
	waitUntil(t, 10*time.Second, "the client to see the sidecar gone", func() bool { return !connected() })
	for range 10 {
		rec.scrapeAfterEvaluation(t, tr)
	}
	t.Logf("sidecar pid %d killed after scrape %d; %d scrapes recorded", cmd.Process.Pid, 10, rec.n)
	if s := tr.Status().Sidecar; s != "disconnected" {
		t.Errorf("Status().Sidecar = %q after the sidecar was killed", s)
	}
	rules, err := PrometheusRules("gw", ErrorRate(0.99))
	if err != nil {
		t.Fatal(err)
	}
	promtoolHealthTest(t, rules, "gw", rec, []healthCheck{
		{at: 9},
		{at: 19, firing: map[string][]map[string]string{
			"LLMSLOSidecarDisconnected": {{}},
			"LLMSLOProbeDown":           {{"signal": probes.DNSLatency.String()}, {"signal": probes.TCPRetransmit.String()}},
		}},
	})
}

// helperSidecarEnv names the socket a re-executed test binary serves an
// slo-sidecar on (TestHelperSidecarProcess).
const helperSidecarEnv = "SLO_TEST_HELPER_SIDECAR"

// TestHelperSidecarProcess is not a test: run by TestHealthRulesSidecarKilled
// in a process of its own, it serves quietSource on the socket
// $SLO_TEST_HELPER_SIDECAR until killed (or for a minute at most).
func TestHelperSidecarProcess(t *testing.T) {
	socket := os.Getenv(helperSidecarEnv)
	if socket == "" {
		t.Skip("helper process of TestHealthRulesSidecarKilled")
	}
	srv, err := sidecar.NewServer(&quietSource{}, sidecar.Config{Socket: socket})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_ = srv.Serve(ctx)
}
