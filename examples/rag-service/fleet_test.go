package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/llmslo/slo"
	"github.com/llmslo/slo/internal/promapi"
	"github.com/llmslo/slo/internal/promtest"
)

// The fleet test's settings, reported with its timings (docs/fleet.md).
const (
	fleetReplicas = 3
	fleetLoad     = 8 // requests per second each replica drives against itself
	fleetScrape   = time.Second
	fleetEval     = time.Second
	fleetHealthy  = 20 * time.Second // fault-free phase
	fleetOneFault = 30 * time.Second // one replica of three faulty
	// fleetOneRate is the share of that replica's provider calls answered
	// 503: its own error-rate burn is about 10 (a page of its own, 6h>6 and
	// 30m>6, when its windows hold no more than twice as many good requests
	// as the fault's), the fleet's about a third of it and, with the
	// fault-free history in its windows, under 3 (the fleet's lowest page
	// factor is 6).
	fleetOneRate   = 0.01
	fleetPageAlert = "LLMSLOBurnRatePage"
	fleetErrorObj  = "error_rate_p99.9"
)

// fleetReplica is one replica of the service: this test binary started as
// the program (TestMain, RAG_SERVICE_MAIN=1), stopped by its PID.
type fleetReplica struct {
	*promtest.Process
	url string
}

// startReplica starts a replica on a free loopback port with its own load
// generator and the alert gate off (the windows are seconds old: no
// coverage asked), and waits until it serves its status.
func startReplica(t *testing.T, dir string, i int) *fleetReplica {
	t.Helper()
	p := promtest.StartProcess(t, fmt.Sprintf("replica %d", i), filepath.Join(dir, fmt.Sprintf("replica-%d.log", i)), "/api/status",
		func(addr string) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "RAG_SERVICE_MAIN=1", "OPENAI_BASE_URL=", "OLLAMA_HOST=", "OTEL_EXPORTER_OTLP_ENDPOINT=",
				fmt.Sprintf("RAG_SERVICE_ARGS=-addr %s -load %d -min-coverage 0 -status-every 0", addr, fleetLoad))
			return cmd
		})
	return &fleetReplica{Process: p, url: "http://" + p.Addr}
}

func (r *fleetReplica) status(t *testing.T) Status {
	t.Helper()
	var s Status
	getJSON(t, r.url+"/api/status", &s)
	return s
}

// fault injects the named provider fault at rate, or clears the replica's
// fault when name is empty, and returns the time just before the call.
func (r *fleetReplica) fault(t *testing.T, name string, rate float64) time.Time {
	t.Helper()
	at := time.Now()
	method, body := http.MethodDelete, ""
	if name != "" {
		method, body = http.MethodPost, fmt.Sprintf(`{"name":%q,"rate":%g}`, name, rate)
	}
	req, _ := http.NewRequest(method, r.url+"/api/fault", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s/api/fault %s: %s: %s", method, r.url, body, resp.Status, b)
	}
	return at
}

// burn5m returns the replica's in-process 5m burn rate of objective.
func (r *fleetReplica) burn5m(t *testing.T, objective string) float64 {
	for _, o := range r.status(t).Objs {
		if o.Name == objective {
			return o.BurnRates["5m"]
		}
	}
	t.Fatalf("replica %s: no objective %s", r.Addr, objective)
	return 0
}

// pageSince returns the replica's first page incident at or after since.
func (r *fleetReplica) pageSince(t *testing.T, since time.Time) (time.Time, string, bool) {
	var first time.Time
	var obj string
	for _, inc := range r.status(t).Incidents {
		if inc.Severity == "page" && !inc.Time.Before(since) && (first.IsZero() || inc.Time.Before(first)) {
			first, obj = inc.Time, inc.Objective
		}
	}
	return first, obj, !first.IsZero()
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// webhook records the Alertmanager's deliveries with the time each arrived.
type webhook struct {
	mu         sync.Mutex
	deliveries []delivery
}

type delivery struct {
	at     time.Time
	alerts []amAlert
}

// amAlert is an alert of an Alertmanager webhook delivery.
type amAlert struct {
	Status   string            `json:"status"`
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	d := delivery{at: time.Now()}
	var body struct {
		Alerts *[]amAlert `json:"alerts"`
	}
	body.Alerts = &d.alerts
	_ = json.NewDecoder(r.Body).Decode(&body)
	w.mu.Lock()
	w.deliveries = append(w.deliveries, d)
	w.mu.Unlock()
}

// firstPage returns the arrival of the first delivery of a page that
// started firing at or after since.
func (w *webhook) firstPage(since time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range w.deliveries {
		for _, a := range d.alerts {
			if a.Status == "firing" && a.Labels["severity"] == "page" && !a.StartsAt.Before(since) {
				return d.at, true
			}
		}
	}
	return time.Time{}, false
}

func (w *webhook) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.deliveries)
}

// promAlert is an alert of Prometheus's /api/v1/alerts.
type promAlert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"`
	ActiveAt time.Time         `json:"activeAt"`
}

func promAlerts(t *testing.T, s *promtest.Server) []promAlert {
	t.Helper()
	var r struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	getJSON(t, s.URL+"/api/v1/alerts", &r)
	return r.Data.Alerts
}

// fleet is the running fleet: replicas, Prometheus, Alertmanager, webhook.
type fleet struct {
	replicas []*fleetReplica
	prom     *promtest.Server
	am       *promtest.Alertmanager
	hook     *webhook
}

// startFleet starts an Alertmanager delivering to a webhook of the test,
// the replicas, and a Prometheus scraping them with the rules generated
// from the service's objectives, and waits until every replica's requests
// are scraped.
func startFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{hook: &webhook{}}
	hook := httptest.NewServer(f.hook)
	t.Cleanup(hook.Close)
	f.am = promtest.StartAlertmanager(t, promtest.AlertmanagerOptions{Webhook: hook.URL})
	dir := t.TempDir()
	var targets []string
	for i := range fleetReplicas {
		r := startReplica(t, dir, i)
		f.replicas = append(f.replicas, r)
		targets = append(targets, r.Addr)
	}
	rules, err := slo.PrometheusRulesWith(slo.RulesOptions{Service: serviceName, Selector: `job="rag-service"`}, objectives()...)
	if err != nil {
		t.Fatal(err)
	}
	f.prom = promtest.Start(t, promtest.Options{ScrapeInterval: fleetScrape, EvalInterval: fleetEval,
		Jobs:          []promtest.Job{{Name: "rag-service", Targets: targets}},
		Rules:         map[string][]byte{"rag-service.rules.yaml": rules},
		Alertmanagers: []string{f.am.Addr}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	q := fmt.Sprintf(`count(sum by (instance) (llm_slo_requests_total{job="rag-service",objective=%q}) > 0)`, fleetErrorObj)
	if _, err := f.prom.Eventually(ctx, q, func(r []promapi.Series) bool { return len(r) == 1 && r[0].Points[0].V == fleetReplicas }); err != nil {
		t.Fatalf("Prometheus does not see the requests of %d replicas: %v", fleetReplicas, err)
	}
	return f
}

// stop stops everything by PID and checks that no process is left.
func (f *fleet) stop(t *testing.T) {
	var pids []int
	for _, r := range f.replicas {
		pids = append(pids, r.PID())
		r.Stop()
	}
	pids = append(pids, f.prom.PID(), f.am.PID())
	f.prom.Stop()
	f.am.Stop()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d still running after the fleet stopped", pid)
		}
	}
}

// firingPages returns Prometheus's firing page alerts.
func (f *fleet) firingPages(t *testing.T) []promAlert {
	var out []promAlert
	for _, a := range promAlerts(t, f.prom) {
		if a.Labels["alertname"] == fleetPageAlert && a.State == "firing" {
			out = append(out, a)
		}
	}
	return out
}

// TestFleet runs the service as a fleet on loopback ports: three replicas
// (each driving fleetLoad requests/s against itself), a real Prometheus
// scraping them with the generated rules, and a real Alertmanager
// delivering to a webhook of the test. Fault-free, nothing fires, in
// process or in Prometheus. A provider fault on one replica of three shows
// in that replica's in-process burn rate and in the per-instance breakdown
// of the fleet rule, and does not page the fleet. A provider fault on
// every replica raises the fleet page in Prometheus, the Alertmanager
// delivers it, and every replica raises its own page; the three delays
// from the fault are reported side by side (make e2e-fleet; docs/fleet.md).
func TestFleet(t *testing.T) {
	if raceEnabled {
		t.Skip("the replicas are this test binary: under -race each is several times slower than the service it stands for; make e2e-fleet (part of make test) runs TestFleet without -race")
	}
	if testing.Short() {
		t.Skip("-short: the fleet runs for about 80 s")
	}
	f := startFleet(t)
	t.Logf("fleet: %d replicas at %d requests/s each; Prometheus %s (scrape %v, eval %v); Alertmanager %s (group_wait 1s)",
		fleetReplicas, fleetLoad, f.prom.URL, fleetScrape, fleetEval, f.am.URL)
	fleetFaultFree(t, f)
	fleetOneReplica(t, f)
	fleetAllReplicas(t, f)
	f.stop(t)
}

// fleetFaultFree lets the fleet run fault-free and checks that nothing
// fires: no alert in Prometheus, the objectives' or the llmslo-health
// group's, pending or firing; no delivery, no incident in any replica.
func fleetFaultFree(t *testing.T, f *fleet) {
	start := time.Now()
	time.Sleep(fleetHealthy)
	for _, a := range promAlerts(t, f.prom) {
		t.Errorf("fault-free: Prometheus alert %s{objective=%q,severity=%q} is %s", a.Labels["alertname"], a.Labels["objective"], a.Labels["severity"], a.State)
	}
	if n := f.hook.count(); n > 0 {
		t.Errorf("fault-free: %d Alertmanager deliveries", n)
	}
	// The goodput recordings over the fleet: every judged request good.
	for expr, ok := range map[string]func(float64) bool{
		`slo:goodput:ratio_rate5m{sloth_service="rag-service"}`:    func(v float64) bool { return v == 1 },
		`slo:goodput_requests:rate5m{sloth_service="rag-service"}`: func(v float64) bool { return v > 0 }, // rate() over 5m of 20 s of series
		`slo:goodput_tokens:rate5m{sloth_service="rag-service"}`:   func(v float64) bool { return v > 0 },
	} {
		res, err := f.prom.API.Query(t.Context(), expr, time.Now())
		if err != nil || len(res) != 1 || !ok(res[0].Points[0].V) {
			t.Errorf("fault-free: %s = %+v, %v", expr, res, err)
			continue
		}
		t.Logf("fault-free: %s = %.3g", expr, res[0].Points[0].V)
	}
	for i, r := range f.replicas {
		st := r.status(t)
		for _, inc := range st.Incidents {
			t.Errorf("fault-free: replica %d raised %s on %s (%s)", i, inc.Severity, inc.Objective, inc.Rule)
		}
		t.Logf("fault-free %v: replica %d judged %d requests, goodput %d/%d", time.Since(start).Round(time.Second), i,
			st.Tracker.Goodput.Requests, st.Tracker.Goodput.GoodRequests, st.Tracker.Goodput.Requests)
	}
}

// fleetOneReplica injects provider errors into one replica of three and
// checks its in-process burn, the per-instance breakdown and that the
// fleet does not page.
func fleetOneReplica(t *testing.T, f *fleet) {
	bad := f.replicas[0]
	since := bad.fault(t, "provider_error", fleetOneRate)
	deadline := since.Add(fleetOneFault)
	for time.Now().Before(deadline) {
		if p := f.firingPages(t); len(p) > 0 {
			t.Errorf("one replica of three at %g%% errors paged the fleet: %v", 100*fleetOneRate, p[0].Labels)
			break
		}
		time.Sleep(time.Second)
	}
	res, err := f.prom.API.Query(t.Context(), fmt.Sprintf(`slo:sli_error_by_instance:ratio_rate5m{objective=%q}`, fleetErrorObj), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	byInstance := map[string]float64{}
	for _, s := range res {
		byInstance[s.Labels["instance"]] = s.Points[0].V
	}
	for i, r := range f.replicas {
		v, ok := byInstance[r.Addr]
		switch {
		case !ok:
			t.Errorf("per-instance breakdown lacks replica %d (%s): %v", i, r.Addr, byInstance)
		case i == 0 && !(v > 0):
			t.Errorf("per-instance breakdown: the faulty replica's 5m error ratio is %v, want > 0", v)
		case i > 0 && v != 0:
			t.Errorf("per-instance breakdown: healthy replica %d's 5m error ratio is %v, want 0", i, v)
		}
		t.Logf("one replica faulty: replica %d: in-process 5m burn %.2f, Prometheus per-instance 5m error ratio %.4f", i, r.burn5m(t, fleetErrorObj), v)
	}
	if g, err := f.prom.API.Query(t.Context(), `slo:goodput:ratio_rate5m{sloth_service="rag-service"}`, time.Now()); err != nil || len(g) != 1 || !(g[0].Points[0].V < 1) {
		t.Errorf("one replica faulty: fleet goodput ratio %+v, %v; want under 1", g, err)
	} else {
		t.Logf("one replica faulty: fleet goodput ratio (5m) %.4f", g[0].Points[0].V)
	}
	if b := bad.burn5m(t, fleetErrorObj); !(b > 0) {
		t.Errorf("the faulty replica's in-process 5m burn rate is %v, want > 0", b)
	}
	if at, ok := f.hook.firstPage(since); ok {
		t.Errorf("one replica of three faulty: the Alertmanager delivered a page at %v", at)
	}
	if _, obj, ok := bad.pageSince(t, since); ok {
		t.Logf("one replica faulty: that replica paged in process (%s, its own budget); the fleet did not", obj)
	}
	bad.fault(t, "", 0)
}

// fleetAllReplicas injects a provider outage into every replica and
// measures the delays from the fault to each replica's in-process page, to
// the fleet page firing in Prometheus and to its delivery by the
// Alertmanager.
func fleetAllReplicas(t *testing.T, f *fleet) {
	held := map[int]bool{} // replicas whose page from the previous phase still holds
	for i, r := range f.replicas {
		for _, o := range r.status(t).Objs {
			held[i] = held[i] || len(o.Alerting) > 0
		}
	}
	var start time.Time
	for i, r := range f.replicas {
		if at := r.fault(t, "provider_error", 1); i == 0 {
			start = at
		}
	}
	inProc := make([]time.Duration, len(f.replicas))
	var promAt, amAt time.Time
	deadline := start.Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for i, r := range f.replicas {
			if at, _, ok := r.pageSince(t, start); ok && inProc[i] == 0 {
				inProc[i] = at.Sub(start)
			}
		}
		for _, a := range f.firingPages(t) {
			if !a.ActiveAt.Before(start) && (promAt.IsZero() || a.ActiveAt.Before(promAt)) {
				promAt = a.ActiveAt
			}
		}
		amAt, _ = f.hook.firstPage(start)
		if !promAt.IsZero() && !amAt.IsZero() && !slices.Contains(inProc, 0) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i, d := range inProc {
		if d == 0 && !held[i] {
			t.Errorf("replica %d raised no page within 60 s of the outage", i)
		}
	}
	if promAt.IsZero() || amAt.IsZero() || slices.Contains(inProc, 0) {
		t.Logf("after 60 s: in process %v (held before: %v), Prometheus %v, Alertmanager %v", inProc, held, promAt, amAt)
	}
	if promAt.IsZero() || amAt.IsZero() {
		t.Fatalf("fleet page: Prometheus firing at %v, Alertmanager delivery at %v (zero: not within 60 s)", promAt, amAt)
	}
	var procs []string
	for i, d := range inProc {
		procs = append(procs, fmt.Sprintf("replica %d %s", i, fmtDelay(d, held[i])))
	}
	t.Logf("TIMINGS fault on all %d replicas → in-process page: %s | → Prometheus alert %s firing: %s | → Alertmanager delivery: %s (scrape %v, eval %v, group_wait 1s)",
		len(f.replicas), strings.Join(procs, ", "), fleetPageAlert, fmtDelay(promAt.Sub(start), false), fmtDelay(amAt.Sub(start), false), fleetScrape, fleetEval)
}

// fmtDelay formats a delay; a replica whose page of the previous phase
// still held and that raised no new one is "already paging".
func fmtDelay(d time.Duration, held bool) string {
	if d == 0 && held {
		return "already paging"
	}
	if held {
		return fmt.Sprintf("%.1fs (another objective; already paging)", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}
