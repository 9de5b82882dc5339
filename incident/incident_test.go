package incident

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goldenIncident has every field set; testdata/incident.json is its
// IncidentAttributionV1 encoding.
func goldenIncident() Incident {
	return Incident{ID: "inc-20260102T030405Z-0a1b2c3d4e5f", Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
		Cluster: "c1", Namespace: "ns1", Service: "chat", Objective: "ttft_500ms_p99", Severity: SeverityPage,
		Rule: "1h>14.4 and 5m>14.4", PredictedFaultDomain: "provider_throttle", Confidence: 0.93,
		Evidence:   []Evidence{{Signal: "app.throttled", Value: 1, Source: "app"}, {Signal: "llm.ebpf.tcp.retransmits", Value: 2.5, Source: "ebpf"}},
		Impact:     Impact{SLI: "ttft_ms", BurnRate: 20.5, WindowMinutes: 60},
		BurnRates:  []WindowRate{{"5m", 25}, {"30m", 18.25}, {"1h", 20.5}, {"6h", 3.4}, {"1d", 0.85}, {"3d", 0.28}},
		TraceIDs:   []string{"4bf92f3577b34da6a3ce929d0e0e4736"},
		RequestIDs: []string{"req-1", "req-2"},
		Hypotheses: []Hypothesis{{Domain: "provider_throttle", Posterior: 0.93, Evidence: []string{"app.throttled"}},
			{Domain: "network_egress", Posterior: 0.12, Evidence: []string{}}}}
}

// TestIncidentGolden: the encoding is byte for byte the IncidentAttributionV1
// document the tracker has always produced, and decodes back to the value.
func TestIncidentGolden(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "incident.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(goldenIncident(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if got = append(got, '\n'); !bytes.Equal(got, want) {
		t.Errorf("encoding changed:\n%s\nwant:\n%s", got, want)
	}
	var back Incident
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.MarshalIndent(back, "", "  "); !bytes.Equal(append(b, '\n'), want) {
		t.Errorf("round trip changed the document:\n%s", b)
	}
	zero, _ := json.Marshal(Incident{})
	const wantZero = `{"incident_id":"","timestamp":"0001-01-01T00:00:00Z","cluster":"","namespace":"","service":"",` +
		`"objective":"","severity":"","rule":"","predicted_fault_domain":"","confidence":0,"evidence":null,` +
		`"slo_impact":{"sli":"","burn_rate":0,"window_minutes":0},"burn_rates":null,"trace_ids":null,` +
		`"request_ids":null,"fault_hypotheses":null}`
	if string(zero) != wantZero {
		t.Errorf("zero Incident = %s", zero)
	}
}

func TestCondition(t *testing.T) {
	if got, want := goldenIncident().Condition(), (Condition{"chat", "ttft_500ms_p99", "1h>14.4 and 5m>14.4"}); got != want {
		t.Errorf("Condition = %+v, want %+v", got, want)
	}
	long := Condition{Service: strings.Repeat("s", 300)}
	if k := alertKey(long); len(k) != 255 || !strings.HasPrefix(k, "llmslo/sss") {
		t.Errorf("alertKey of a long condition has %d bytes", len(k))
	}
}

func TestSlogSink(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	inc := goldenIncident()
	if err := SlogSink(l).Send(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	inc.Severity = SeverityTicket
	if err := SlogSink(l).Send(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := `level=ERROR msg="slo incident" incident_id=inc-20260102T030405Z-0a1b2c3d4e5f objective=ttft_500ms_p99 ` +
		`severity=page rule="1h>14.4 and 5m>14.4" burn_rate=20.5 predicted_fault_domain=provider_throttle confidence=0.93 ` +
		`trace_ids=[4bf92f3577b34da6a3ce929d0e0e4736]`
	if len(lines) != 2 || lines[0] != want || !strings.HasPrefix(lines[1], "level=WARN ") {
		t.Errorf("logged:\n%s\nwant first line:\n%s", buf.String(), want)
	}
	if err := SlogSink(nil).Send(context.Background(), inc); err != nil {
		t.Errorf("nil logger: %v", err)
	}
}
