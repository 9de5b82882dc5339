package promtest_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/promapi"
	"github.com/llmslo/slo/internal/promtest"
)

// TestStart backfills a counter, scrapes an exporter and evaluates a rule
// on a real server, then stops it by PID.
func TestStart(t *testing.T) {
	end := time.Now().Add(-3 * time.Hour).Truncate(time.Minute)
	var om strings.Builder
	om.WriteString("# TYPE demo_requests counter\n")
	for m := 0; m <= 120; m++ { // 2 h of history, 10 a minute
		fmt.Fprintf(&om, "demo_requests_total{job=\"history\"} %d %d\n", 10*m, end.Add(time.Duration(m-120)*time.Minute).Unix())
	}
	om.WriteString("# EOF\n")
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "# TYPE demo_up gauge\ndemo_up 1\n")
	}))
	defer exporter.Close()
	s := promtest.Start(t, promtest.Options{
		Backfill: []byte(om.String()),
		Jobs:     []promtest.Job{{Name: "exporter", Targets: []string{strings.TrimPrefix(exporter.URL, "http://")}}},
		Rules:    map[string][]byte{"rules.yaml": []byte("groups:\n  - name: demo\n    rules:\n      - record: demo:up:twice\n        expr: 2 * demo_up\n")},
	})
	got, err := s.API.Query(t.Context(), `increase(demo_requests_total{job="history"}[1h])`, end)
	if err != nil || len(got) != 1 || got[0].Points[0].V != 600 {
		t.Errorf("backfilled increase over the last hour = %+v, %v; want 600", got, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := s.Eventually(ctx, `demo:up:twice`, func(r []promapi.Series) bool { return len(r) == 1 && r[0].Points[0].V == 2 }); err != nil {
		t.Errorf("recording rule over the scraped exporter: %v", err)
	}
	pid := s.PID()
	addr := strings.TrimPrefix(s.URL, "http://")
	s.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("prometheus (pid %d) still running after Stop", pid)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", addr)
	}
	s.Stop() // idempotent
}

// TestAlertmanager routes an alert that always fires from a real
// Prometheus through a real Alertmanager to a webhook in the test, then
// stops both by PID.
func TestAlertmanager(t *testing.T) {
	delivered := make(chan string, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case delivered <- string(b):
		default:
		}
	}))
	defer hook.Close()
	am := promtest.StartAlertmanager(t, promtest.AlertmanagerOptions{Webhook: hook.URL})
	s := promtest.Start(t, promtest.Options{
		Alertmanagers: []string{am.Addr},
		Rules: map[string][]byte{"alerts.yaml": []byte("groups:\n  - name: demo\n    rules:\n      - alert: DemoAlways\n" +
			"        expr: vector(1)\n        labels:\n          objective: demo\n")},
	})
	select {
	case body := <-delivered:
		if !strings.Contains(body, `"alertname":"DemoAlways"`) || !strings.Contains(body, `"status":"firing"`) {
			t.Errorf("webhook body lacks the firing DemoAlways alert:\n%s", body)
		}
	case <-time.After(30 * time.Second):
		var state []string
		for _, u := range []string{s.URL + "/api/v1/alerts", s.URL + "/api/v1/alertmanagers", am.URL + "/api/v2/alerts"} {
			if resp, err := http.Get(u); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				state = append(state, u+": "+string(b))
			}
		}
		t.Fatalf("no delivery to the webhook within 30 s:\n%s", strings.Join(state, "\n"))
	}
	pid := am.PID()
	s.Stop()
	am.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("alertmanager (pid %d) still running after Stop", pid)
	}
	am.Stop() // idempotent
}
