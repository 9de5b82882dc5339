//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/testutil"
	"github.com/llmslo/slo/probes"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-signals", "psi"},
		{"-signals", "nope"},
		{"-mode", "999"},
		{"-log-level", "loud"},
		{"-dns-ports", "x"},
	} {
		var out syncBuffer
		if err := run(context.Background(), args, &out, nil); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestFlagDefaults: the health endpoint listens on loopback, DNS names
// are served unless -omit-dns-names, capabilities are dropped unless
// -keep-capabilities.
func TestFlagDefaults(t *testing.T) {
	var out syncBuffer
	o, err := parseArgs(nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	if o.health != "127.0.0.1:8089" || o.omitDNSNames || o.keepCaps || o.perCgroup != 8 {
		t.Errorf("defaults %+v", o)
	}
	o, err = parseArgs([]string{"-omit-dns-names", "-health=:8089", "-keep-capabilities"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if o.health != ":8089" || !o.omitDNSNames || !o.keepCaps {
		t.Errorf("flags %+v", o)
	}
}

func TestServeAndHealth(t *testing.T) {
	testutil.RequireBPF(t)
	ctx, cancel := context.WithCancel(context.Background())
	socket := filepath.Join(t.TempDir(), "s.sock")
	var logs syncBuffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-socket", socket, "-signals", "dns_latency,tcp_retransmit", "-health", "127.0.0.1:0", "-keep-capabilities"}, &logs, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatal("not ready")
	}
	// ready comes once the server accepts clients: healthz must say so,
	// with both signals and at least one of them working (a sidecar whose
	// every signal is off answers 503, truthfully).
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		OK      bool
		Error   string
		Signals []struct{ Signal, State, Reason string }
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	working := 0
	for _, s := range body.Signals {
		if s.State != "off" {
			working++
		}
	}
	if working == 0 {
		t.Fatalf("no signal works on this host: %+v", body.Signals)
	}
	if resp.StatusCode != 200 || !body.OK || body.Error != "" || len(body.Signals) != 2 {
		t.Errorf("healthz once serving: %d %+v", resp.StatusCode, body)
	}
	set, err := probes.Start(ctx, probes.Config{Signals: []probes.Signal{probes.DNSLatency}, KernelPath: probes.PathSidecar, SidecarSocket: socket})
	if err != nil {
		t.Fatal(err)
	}
	if set.Path() != probes.PathSidecar {
		t.Errorf("client path %v", set.Path())
	}
	set.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	for _, want := range []string{`"msg":"serving"`, `"msg":"sidecar: client connected"`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}
