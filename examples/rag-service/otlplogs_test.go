package main

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/llmslo/slo"
	"github.com/llmslo/slo/incident"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"
)

// logReceiver is an OTLP/HTTP receiver of log records: it decodes every
// export request (protobuf) and keeps the records.
type logReceiver struct {
	mu      sync.Mutex
	records []*logspb.LogRecord
	errs    []error
}

func (rc *logReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/logs" {
		w.WriteHeader(http.StatusOK) // spans and metrics: not looked at here
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	var req collogs.ExportLogsServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil {
		rc.errs = append(rc.errs, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			if sl.GetScope().GetName() == slo.ScopeName {
				rc.records = append(rc.records, sl.GetLogRecords()...)
			}
		}
	}
	out, _ := proto.Marshal(&collogs.ExportLogsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// bodyField returns the string field key of a record's map body.
func bodyField(r *logspb.LogRecord, key string) string {
	for _, kv := range r.GetBody().GetKvlistValue().GetValues() {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

func attr(r *logspb.LogRecord, key string) *commonpb.AnyValue {
	for _, kv := range r.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

// TestOTLPLogs: with OTEL_EXPORTER_OTLP_ENDPOINT set, the reference service
// exports the incident a provider_throttle fault raises as an OTLP log
// record carrying the trace and span ids of the incident's newest exemplar,
// and every judged request's SLO events as records carrying their
// request's trace; the receiver decodes them from protobuf.
func TestOTLPLogs(t *testing.T) {
	rc := &logReceiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	a, err := startApp(t.Context(), config{Addr: "127.0.0.1:0", Env: os.Getenv,
		Tracker: []slo.Option{slo.WithMinCoverage(0), slo.WithMinEvents(1)}})
	if err != nil {
		t.Fatal(err)
	}
	raiseIncident(t, a)
	a.Close()                     // delivers what is queued, flushes the log batcher
	incs := a.tracker.Incidents() // every incident raised, delivered (and logged) before Close returned

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.errs) > 0 {
		t.Fatalf("undecodable exports: %v", rc.errs)
	}
	var events, incidents int
	for _, r := range rc.records {
		switch r.GetEventName() {
		case "llm.slo.event":
			events++
			if got, want := hex.EncodeToString(r.GetTraceId()), bodyField(r, "trace_id"); got != want || len(r.GetSpanId()) != 8 {
				t.Errorf("SLO event record: trace id %s span id %x, body trace_id %s", got, r.GetSpanId(), want)
			}
		case "llm.slo.incident":
			incidents++
			id := bodyField(r, "incident_id")
			i := slices.IndexFunc(incs, func(inc incident.Incident) bool { return inc.ID == id })
			if i < 0 {
				t.Errorf("incident record %q is not one of the tracker's incidents", id)
				continue
			}
			inc := incs[i]
			wantSev := logspb.SeverityNumber_SEVERITY_NUMBER_WARN
			if inc.Severity == incident.SeverityPage {
				wantSev = logspb.SeverityNumber_SEVERITY_NUMBER_ERROR
			}
			tid := hex.EncodeToString(r.GetTraceId())
			if len(inc.TraceIDs) == 0 || tid != inc.TraceIDs[0] || len(r.GetSpanId()) != 8 {
				t.Errorf("incident %s record: trace id %s span id %x, want the newest exemplar's %v", id, tid, r.GetSpanId(), inc.TraceIDs)
			}
			if r.GetSeverityNumber() != wantSev || attr(r, "llm.slo.objective").GetStringValue() != inc.Objective ||
				bodyField(r, "predicted_fault_domain") != inc.PredictedFaultDomain {
				t.Errorf("incident %s record: severity %v objective %v domain %q, want %v %s %s", id, r.GetSeverityNumber(),
					attr(r, "llm.slo.objective"), bodyField(r, "predicted_fault_domain"), wantSev, inc.Objective, inc.PredictedFaultDomain)
			}
			t.Logf("incident %s (%s, %s) exported with exemplar trace %s span %x", id, inc.Objective, inc.Severity, tid, r.GetSpanId())
		}
	}
	t.Logf("%d log records: %d SLO events, %d incidents (tracker: %d incidents)", len(rc.records), events, incidents, len(incs))
	if incidents != len(incs) {
		t.Errorf("%d incident records exported, the tracker raised %d", incidents, len(incs))
	}
	if events < 40 {
		t.Errorf("%d SLO event records exported, want at least one per request before the fault (40)", events)
	}
}
