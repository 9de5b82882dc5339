package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// startTestApp starts the whole service on loopback ports with the fake
// provider, whatever the environment says.
func startTestApp(t *testing.T) *app {
	t.Helper()
	env := func(string) string { return "" }
	// The tests inject a fault into a service seconds old and expect an
	// incident within seconds: they turn the alert gate off (no coverage
	// asked of the windows, no minimum of requests), which the library's
	// own tests cover.
	a, err := startApp(t.Context(), config{Addr: "127.0.0.1:0", Env: env,
		Tracker: []slo.Option{slo.WithMinCoverage(0), slo.WithMinEvents(1)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// streamMany streams n chat completions through openai-go, conc at a time,
// and fails t on any error or empty answer.
func streamMany(t *testing.T, a *app, n, conc int) {
	t.Helper()
	c := newLoadClient(a.URL())
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func(q string) {
			defer wg.Done()
			defer func() { <-sem }()
			chunks, err := askStream(t.Context(), c, q)
			if err == nil && chunks < 2 {
				err = fmt.Errorf("only %d content chunks", chunks)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}(questions[i%len(questions)])
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d streams failed, first: %s", len(errs), n, errs[0])
	}
}

func waitRequests(t *testing.T, a *app, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for a.tracker.Status().Requests < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := a.tracker.Status().Requests; got < n {
		t.Fatalf("tracker recorded %d requests, want %d", got, n)
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func getStatus(t *testing.T, url string) Status {
	t.Helper()
	resp, err := http.Get(url + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s Status
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("decode /api/status: %v", err)
	}
	return s
}
