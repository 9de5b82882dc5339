package slo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/llmslo/slo/incident"
	"go.opentelemetry.io/otel"
)

// otelErrors records what reaches otel.Handle, the error handler of a
// Tracker without one. Set once for the test binary: the global handler
// cannot be restored (its default delegates to the first one set).
var otelErrors struct {
	once sync.Once
	mu   sync.Mutex
	errs []string
}

func captureOTelErrors() func() []string {
	otelErrors.once.Do(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			otelErrors.mu.Lock()
			otelErrors.errs = append(otelErrors.errs, err.Error())
			otelErrors.mu.Unlock()
		}))
	})
	otelErrors.mu.Lock()
	from := len(otelErrors.errs)
	otelErrors.mu.Unlock()
	return func() []string {
		otelErrors.mu.Lock()
		defer otelErrors.mu.Unlock()
		return append([]string(nil), otelErrors.errs[from:]...)
	}
}

// TestNilAndZeroTracker: every method of a nil and of a zero Tracker is safe;
// Instrument and Transport pass through unchanged; the zero one reports
// itself at wrap time.
func TestNilAndZeroTracker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tr      *Tracker
		reports int
	}{
		{"nil", nil, 0},
		{"zero", &Tracker{}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			since := captureOTelErrors()
			tr := tc.tr
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				RequestFrom(r.Context()).Model("m") // nil *Request: does nothing
				_, _ = w.Write([]byte("hello"))
			})
			rec := httptest.NewRecorder()
			tr.Instrument(ok).ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", nil))
			if rec.Code != 200 || rec.Body.String() != "hello" {
				t.Errorf("Instrument(h) served %d %q, want h's 200 \"hello\"", rec.Code, rec.Body)
			}
			if got := tr.Transport(nil); got != http.DefaultTransport {
				t.Errorf("Transport(nil) = %T, want http.DefaultTransport", got)
			}
			if b := tr.Budget(); b != nil {
				t.Errorf("Budget() = %v", b)
			}
			if s := tr.Status(); s.Requests != 0 || s.Signals != nil {
				t.Errorf("Status() = %+v", s)
			}
			if k := tr.KernelStatus(); k != nil {
				t.Errorf("KernelStatus() = %v", k)
			}
			if inc := tr.Incidents(); inc != nil {
				t.Errorf("Incidents() = %v", inc)
			}
			if h, ok := tr.Holding(incident.Condition{Service: "unknown_service"}); h || ok {
				t.Errorf("Holding() = %v, %v", h, ok)
			}
			if err := tr.Seed(context.Background()); err == nil {
				t.Error("Seed() = nil, want an error")
			}
			if err := tr.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
			errs := since()
			if len(errs) != tc.reports {
				t.Errorf("otel.Handle got %d reports, want %d: %q", len(errs), tc.reports, errs)
			}
			for _, e := range errs {
				if !strings.Contains(e, "a zero Tracker (not made by slo.New) measures nothing") {
					t.Errorf("report %q does not say what is wrong", e)
				}
			}
		})
	}
}

// TestInstrumentNil: Instrument(nil) is reported once, when it is called,
// through the tracker's error handler, and answers every request 500,
// judged as a failure; with a nil Tracker the report goes to otel.Handle.
func TestInstrumentNil(t *testing.T) {
	var mu sync.Mutex
	var reports []string
	var records []RequestRecord
	tr, err := New(WithoutProbes(), WithObjectives(ErrorRate(0.99)),
		WithErrorHandler(func(err error) { mu.Lock(); reports = append(reports, err.Error()); mu.Unlock() }),
		WithRequestRecords(func(_ context.Context, r RequestRecord) { records = append(records, r) }))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	h := tr.Instrument(nil)
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", rec.Code)
		}
	}
	const want = "slo: Instrument(nil): every request is answered 500 Internal Server Error; give Instrument the handler to measure"
	mu.Lock()
	if len(reports) != 1 || reports[0] != want {
		t.Errorf("reports %q, want one %q", reports, want)
	}
	mu.Unlock()
	if len(records) != 3 || !records[0].Failed || len(records[0].Breached) != 1 {
		t.Errorf("records %+v, want 3 failed requests breaching the error rate", records)
	}

	since := captureOTelErrors()
	var off *Tracker
	rec := httptest.NewRecorder()
	off.Instrument(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("nil Tracker, nil handler: status %d, want 500", rec.Code)
	}
	if errs := since(); len(errs) != 1 || errs[0] != want {
		t.Errorf("otel.Handle got %q, want one %q", errs, want)
	}
}
