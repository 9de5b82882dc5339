package slo

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sseModel is an OpenAI stream of two chunks whose response model is
// model (the client side records its metrics at the second chunk and at
// the end: a fold still counts once).
func sseModel(model string) string {
	chunk := fmt.Sprintf("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n", model)
	return chunk + chunk + "data: [DONE]\n\n"
}

// TestModelLabelBounded sends 3,000 distinct model names, from the
// request side (Request.Model), from the response stream (the server
// side's fallback) and to the client side (Transport, in the v1.41.0
// conventions and in both at once), and reads from the
// registry that no metric has more than limit+1 series for any
// combination of its other labels: the first 1,000 names and "other".
func TestModelLabelBounded(t *testing.T) {
	const n, limit = 3000, DefaultLabelLimit
	sides := map[string]func(t *testing.T, tr *Tracker, i int){
		"request": func(_ *testing.T, tr *Tracker, i int) {
			h := tr.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				RequestFrom(r.Context()).Model(fmt.Sprintf("req-model-%d", i))
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, sseModel("m"))
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil))
		},
		"response": func(_ *testing.T, tr *Tracker, i int) {
			h := tr.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, sseModel(fmt.Sprintf("resp-model-%d", i)))
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil))
		},
		"client": sendClientModel,
		// Both client conventions at once: the v1.41.0 instruments and
		// the latest gen_ai.client.inference.* ones.
		"client-dup": sendClientModel,
	}
	for name, send := range sides {
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			var reports atomic.Int64
			opts := []Option{WithRegisterer(reg), WithoutProbes(), WithObjectives(ErrorRate(0.99)),
				WithErrorHandler(func(err error) {
					if strings.Contains(err.Error(), "gen_ai_request_model") {
						reports.Add(1)
					}
				})}
			if name == "client-dup" {
				opts = append(opts, WithSemconv(SemconvDup))
			}
			tr, err := New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			for i := range n {
				send(t, tr, i)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, mf := range mfs {
				groups := map[string]int{}
				for _, m := range mf.GetMetric() {
					var other []string
					for _, l := range m.GetLabel() {
						if l.GetName() != "gen_ai_request_model" {
							other = append(other, l.GetName()+"="+l.GetValue())
						}
					}
					groups[strings.Join(other, ",")]++
				}
				if !hasLabel(mf, "gen_ai_request_model") {
					continue
				}
				checked++
				for g, c := range groups {
					if c > limit+1 {
						t.Errorf("%s{%s}: %d series, want at most %d", mf.GetName(), g, c, limit+1)
					}
					if c != limit+1 {
						t.Errorf("%s{%s}: %d series, want the first %d models and %q", mf.GetName(), g, c, limit, OtherLabelValue)
					}
				}
			}
			if checked == 0 {
				t.Fatal("no metric with gen_ai_request_model gathered")
			}
			if got := tr.Status().FoldedLabelValues; got != n-limit {
				t.Errorf("FoldedLabelValues = %d, want %d", got, n-limit)
			}
			if got := reports.Load(); got != 1 {
				t.Errorf("the fold was reported %d times, want once", got)
			}
			var pm dto.Metric
			if err := tr.prom.folds.WithLabelValues("gen_ai_request_model").Write(&pm); err != nil {
				t.Fatal(err)
			}
			if got := pm.GetCounter().GetValue(); got != n-limit {
				t.Errorf("llm_slo_label_folds_total = %v, want %d", got, n-limit)
			}
			t.Logf("%d model names: %d metrics with the label, each at most %d series; %d folded", n, checked, limit+1, n-limit)
		})
	}
}

// sendClientModel makes one streamed call through tr's Transport whose
// response names the model client-model-i.
func sendClientModel(t *testing.T, tr *Tracker, i int) {
	t.Helper()
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
			Body: io.NopCloser(strings.NewReader(sseModel(fmt.Sprintf("client-model-%d", i)))), Request: r}, nil
	})
	c := &http.Client{Transport: tr.Transport(base)}
	resp, err := c.Post("http://api.openai.com/v1/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func hasLabel(mf *dto.MetricFamily, name string) bool {
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return true
			}
		}
	}
	return false
}
