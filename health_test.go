package slo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.yaml.in/yaml/v3"
)

// healthRecorder scrapes a live registry and keeps, per series of the
// self-health metrics, the value of every scrape ("_" where it was absent):
// the input of a promtool unit test, one scrape per interval.
type healthRecorder struct {
	reg    prometheus.Gatherer
	n      int
	series map[string][]string
}

// healthMetrics are the metrics the llmslo-health group reads.
var healthMetrics = []string{semconv.PromProbeUp, semconv.PromEventsLost, semconv.PromProbeShed, semconv.PromProbeOverhead,
	semconv.PromSidecarConnected, semconv.PromSinkFailures, semconv.PromLastEvaluation, semconv.PromCorrelationTotal,
	semconv.PromRequestsJoined}

func (r *healthRecorder) scrape(tb testing.TB) {
	tb.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if !slices.Contains(healthMetrics, mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := seriesName(mf.GetName(), m.GetLabel())
			v := m.GetGauge().GetValue()
			if mf.GetType() == dto.MetricType_COUNTER {
				v = m.GetCounter().GetValue()
			}
			vals := r.series[key]
			for len(vals) < r.n {
				vals = append(vals, "_")
			}
			r.series[key] = append(vals, strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	r.n++
}

// scrapeAfterEvaluation scrapes once tr has evaluated its rules since the
// last scrape, as it does between two scrapes a minute apart.
func (r *healthRecorder) scrapeAfterEvaluation(tb testing.TB, tr *Tracker) {
	tb.Helper()
	last := tr.lastEval.Load()
	waitUntil(tb, 5*time.Second, "an evaluation", func() bool { return tr.lastEval.Load() != last })
	r.scrape(tb)
}

func seriesName(name string, labels []*dto.LabelPair) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = l.GetName() + "=" + strconv.Quote(l.GetValue())
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// inputSeries returns the recording as promtool input_series.
func (r *healthRecorder) inputSeries() []map[string]string {
	keys := make([]string, 0, len(r.series))
	for k := range r.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		vals := r.series[k]
		for len(vals) < r.n {
			vals = append(vals, "_")
		}
		out = append(out, map[string]string{"series": k, "values": strings.Join(vals, " ")})
	}
	return out
}

// healthCheck is what the llmslo-health alerts must say at a minute of the
// recording: the alerts firing, each with its series' own labels.
type healthCheck struct {
	at     int                            // minute (scrape index)
	firing map[string][]map[string]string // alert name → the labels of each series it fires for
}

// promtoolHealthTest writes a promtool unit test of rules over the
// recording (one scrape per minute) with an alert_rule_test of every health
// alert at every check, runs it and fails tb on any mismatch.
func promtoolHealthTest(tb testing.TB, rules []byte, service string, rec *healthRecorder, checks []healthCheck) {
	tb.Helper()
	bin := promtool(tb.(*testing.T))
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644); err != nil {
		tb.Fatal(err)
	}
	type alert struct {
		Labels      map[string]string `yaml:"exp_labels"`
		Annotations map[string]string `yaml:"exp_annotations"`
	}
	type alertTest struct {
		EvalTime  string  `yaml:"eval_time"`
		AlertName string  `yaml:"alertname"`
		Alerts    []alert `yaml:"exp_alerts"`
	}
	var tests []alertTest
	for _, c := range checks {
		for _, a := range HealthAlerts() {
			at := alertTest{EvalTime: fmt.Sprintf("%dm", c.at), AlertName: a.Name, Alerts: []alert{}}
			for _, labels := range c.firing[a.Name] {
				l := map[string]string{"severity": "ticket", "sloth_service": service, "llmslo_health": "true"}
				for k, v := range labels {
					l[k] = v
				}
				at.Alerts = append(at.Alerts, alert{Labels: l, Annotations: map[string]string{
					"summary": service + ": " + a.Summary, "description": a.Description}})
			}
			tests = append(tests, at)
		}
	}
	file := map[string]any{
		"rule_files":          []string{"rules.yaml"},
		"evaluation_interval": "1m",
		"tests": []any{map[string]any{
			"interval":        "1m",
			"input_series":    rec.inputSeries(),
			"alert_rule_test": tests,
		}},
	}
	b, err := yaml.Marshal(file)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "health_test.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.CommandContext(tb.(*testing.T).Context(), bin, "test", "rules", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		tb.Fatalf("promtool test rules: %v\n%s\ntest file:\n%s", err, out, b)
	}
}

// switchSink is an SLO event sink that accepts, fails or blocks (until
// released) as the test says.
type switchSink struct {
	mode    atomic.Int32 // 0 accept, 1 fail, 2 block
	release chan struct{}
	done    atomic.Int64 // Record calls returned (accepted or failed)
	failed  atomic.Int64 // Record calls that returned an error
}

func (s *switchSink) Record(ctx context.Context, _ SLOEvent) error {
	defer s.done.Add(1)
	switch s.mode.Load() {
	case 1:
		s.failed.Add(1)
		return errors.New("sink refuses")
	case 2:
		<-s.release // a sink that ignores its context
	}
	return nil
}

// TestHealthRulesOnLiveMetrics records the self-health metrics of a live
// tracker, one scrape per simulated minute, while its SLO event sink works
// (minutes 0-14), fails every delivery (15-29) and then blocks (30-44),
// and runs the llmslo-health rules over the recording with promtool: no
// alert while healthy; LLMSLOSinkFailing while the sink fails;
// LLMSLOEventsLost (the event queue full) and LLMSLOEvaluationStale (the
// delivery goroutine stuck) while it blocks.
func TestHealthRulesOnLiveMetrics(t *testing.T) {
	promtool(t)
	sink := &switchSink{release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	tr, err := New(WithRegisterer(reg), WithoutProbes(), WithService("gw"), WithObjectives(ErrorRate(0.99)),
		WithEventSink(sink), WithErrorHandler(func(error) {}),
		optionFunc(func(c *config) { c.evalInterval = 5 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	t.Cleanup(func() { close(sink.release) }) // runs first: unblocks the loop for Close
	h := tr.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	var sent int64 // requests served, one SLO event each
	serve := func(n int) {
		sent += int64(n)
		for range n {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}
	}
	rec := &healthRecorder{reg: reg, series: map[string][]string{}}
	minute := func(n int) {
		serve(n)
		if sink.mode.Load() != 2 {
			// Let the loop deliver every event (each failure counted) and
			// evaluate at least once more.
			waitUntil(t, 10*time.Second, "every event delivered", func() bool {
				return sink.done.Load() == sent && tr.sinkFailures[sinkSLOEvent].Load() == sink.failed.Load()
			})
			last := tr.lastEval.Load()
			waitUntil(t, 5*time.Second, "an evaluation", func() bool { return tr.lastEval.Load() != last })
		}
		rec.scrape(t)
	}
	for range 15 {
		minute(20)
	}
	sink.mode.Store(1)
	for range 15 {
		minute(20)
	}
	sink.mode.Store(2)
	minute(eventQueue + 100) // the loop blocks on the first, the queue fills
	for range 14 {
		minute(20)
	}
	// Status says what the metrics say.
	st := tr.Status()
	t.Logf("after %d scrapes: %d requests, %d SLO event sink failures, %d SLO events dropped, last evaluation %v before the last scrape",
		rec.n, st.Requests, st.EventSinkFailures, st.DroppedEvents, time.Since(st.LastEvaluation).Round(time.Millisecond))
	// Hand-computed: every phase-B event failed (15 × 20); of the 1124 + 14 × 20
	// phase-C events, the queue holds 1024 and the blocked sink one, unless
	// the loop took none before the queue filled.
	if st.EventSinkFailures != 300 || (st.DroppedEvents != 379 && st.DroppedEvents != 380) || st.Sidecar != "unused" {
		t.Fatalf("status after the sink failed and blocked: %+v; want 300 sink failures, 379 or 380 events dropped", st)
	}
	if got := rec.series[`llm_slo_sink_failures_total{sink="slo_event"}`]; got[len(got)-1] != strconv.FormatInt(st.EventSinkFailures, 10) {
		t.Errorf("llm_slo_sink_failures_total{sink=\"slo_event\"} ends at %s, Status().EventSinkFailures = %d", got[len(got)-1], st.EventSinkFailures)
	}
	rules, err := PrometheusRules("gw", ErrorRate(0.99))
	if err != nil {
		t.Fatal(err)
	}
	promtoolHealthTest(t, rules, "gw", rec, []healthCheck{
		{at: 14},
		{at: 28, firing: map[string][]map[string]string{"LLMSLOSinkFailing": {{"sink": semconv.SinkSLOEvent}}}},
		{at: 44, firing: map[string][]map[string]string{
			"LLMSLOEventsLost":      {{"queue": semconv.QueueSLOEvents}},
			"LLMSLOEvaluationStale": {{}},
		}},
	})
}

// TestHealthOTelMirrors: the OpenTelemetry instruments report what the
// Prometheus collector does — requests by tier (none without probes), sink
// failures, lost evidence by queue, the last evaluation.
func TestHealthOTelMirrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, WithoutProbes(), WithRegisterer(reg), WithObjectives(ErrorRate(0.99)),
		WithEventSink(EventSinkFunc(func(context.Context, SLOEvent) error { return errors.New("refused") })),
		WithErrorHandler(func(error) {}))
	srv := h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 3 {
		srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	waitUntil(t, 5*time.Second, "three failed deliveries", func() bool { return h.t.Status().EventSinkFailures == 3 })
	got := map[string]int64{}
	for name, agg := range h.metrics(t) {
		if sum, ok := agg.(metricdata.Sum[int64]); ok {
			for _, dp := range sum.DataPoints {
				for _, kv := range dp.Attributes.ToSlice() {
					got[name+"/"+kv.Value.Emit()] = dp.Value
				}
			}
		}
	}
	want := map[string]int64{
		"llm.slo.requests.joined/none": 3, "llm.slo.requests.joined/pod_pid_100ms": 0,
		"llm.slo.sink.failures/slo_event": 3, "llm.slo.sink.failures/incident": 0,
		"llm.slo.events.lost/slo_events": 0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	rec := &healthRecorder{reg: reg, series: map[string][]string{}}
	rec.scrape(t)
	for series, v := range map[string]string{`llm_slo_requests_joined_total{tier="none"}`: "3", `llm_slo_sink_failures_total{sink="slo_event"}`: "3"} {
		if got := rec.series[series]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %v, want %s", series, got, v)
		}
	}
}

func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}
