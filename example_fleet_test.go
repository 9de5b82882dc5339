package slo_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/llmslo/slo"
)

// Objectives per tenant: the tenant comes from a header, each tenant's
// objective keeps its own budget, and goodput counts the requests that met
// every objective that judged them.
func ExampleObjective_ForTenant() {
	t, err := slo.New(
		slo.WithTenant(func(r *http.Request) string { return r.Header.Get("X-Tenant") }),
		slo.WithObjectives(
			slo.ErrorRate(0.99).ForTenant("gold"),
			slo.ErrorRate(0.9).ForTenant("free"),
		),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	h := t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Tenant") == "free" {
			w.WriteHeader(http.StatusServiceUnavailable) // shed the free tier
		}
	}))
	for _, tenant := range []string{"gold", "free", "gold"} {
		r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
		r.Header.Set("X-Tenant", tenant)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for _, b := range t.Budget() {
		fmt.Printf("%s (tenant %s): %d of %d good\n", b.Objective, b.Tenant, b.Good, b.Total)
	}
	g := t.Status().Goodput
	fmt.Printf("goodput: %d of %d requests\n", g.GoodRequests, g.Requests)
	// Output:
	// error_rate_p99@gold (tenant gold): 2 of 2 good
	// error_rate_p90@free (tenant free): 0 of 1 good
	// goodput: 2 of 3 requests
}

// A gateway that records the model named in each request body keeps at
// most 1000 (here 2) distinct model labels; the rest are "other".
func ExampleWithLabelLimit() {
	t, err := slo.New(slo.WithLabelLimit(2), slo.WithErrorHandler(func(err error) { fmt.Println(err) }),
		slo.WithObjectives(slo.Latency(time.Second, 0.99)))
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	h := t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slo.RequestFrom(r.Context()).Model(r.URL.Query().Get("model"))
	}))
	for _, m := range []string{"a", "b", "c", "d", "a"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/v1/chat/completions?model="+m, nil))
	}
	fmt.Println("folded:", t.Status().FoldedLabelValues)
	// Output:
	// slo: label gen_ai_request_model reached its limit of 2 distinct values; further values are recorded as "other" (WithLabelLimit)
	// folded: 2
}
