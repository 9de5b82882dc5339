package slo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// routeHarness serves requests and keeps their records.
type routeHarness struct {
	*harness
	mu   sync.Mutex
	recs []RequestRecord
}

func newRouteHarness(t *testing.T, opts ...Option) *routeHarness {
	rh := &routeHarness{}
	rh.harness = newHarness(t, append([]Option{WithoutProbes(), WithRequestRecords(func(_ context.Context, r RequestRecord) {
		rh.mu.Lock()
		rh.recs = append(rh.recs, r)
		rh.mu.Unlock()
	})}, opts...)...)
	return rh
}

// serve serves one request through h and returns its record.
func (rh *routeHarness) serve(t *testing.T, h http.Handler, method, path string) RequestRecord {
	t.Helper()
	rh.mu.Lock()
	rh.recs = rh.recs[:0]
	rh.mu.Unlock()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	rh.mu.Lock()
	defer rh.mu.Unlock()
	if len(rh.recs) != 1 {
		t.Fatalf("%s %s: %d records", method, path, len(rh.recs))
	}
	return rh.recs[0]
}

// TestForRouteLayouts judges requests by ForRoute under both layouts the
// README shows — Instrument around one route's handler, and around the
// whole ServeMux — and without any ServeMux.
func TestForRouteLayouts(t *testing.T) {
	rh := newRouteHarness(t, WithObjectives(
		ErrorRate(0.9).Named("path").ForRoute("/v1/chat/completions"),
		ErrorRate(0.9).Named("full").ForRoute("POST /v1/chat/completions"),
		ErrorRate(0.9).Named("get").ForRoute("GET /v1/chat/completions"),
		ErrorRate(0.9).Named("by-id").ForRoute("/v1/{id}"),
		ErrorRate(0.9).Named("files").ForRoute("/v1/files/{id}/content"),
	))
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })

	// mux.Handle("POST /v1/chat/completions", t.Instrument(h))
	outer := http.NewServeMux()
	outer.Handle("POST /v1/chat/completions", rh.t.Instrument(ok))
	// t.Instrument(mux)
	inner := http.NewServeMux()
	inner.Handle("POST /v1/chat/completions", ok)
	inner.Handle("/v1/{id}", ok)
	wrapped := rh.t.Instrument(inner)

	for _, tc := range []struct {
		name         string
		h            http.Handler
		method, path string
		route        string
		judged       []string
		span         string
	}{
		{"handler in mux", outer, "POST", "/v1/chat/completions", "POST /v1/chat/completions", []string{"path", "full"}, "POST /v1/chat/completions"},
		{"mux in Instrument", wrapped, "POST", "/v1/chat/completions", "POST /v1/chat/completions", []string{"path", "full"}, "POST /v1/chat/completions"},
		{"wildcard pattern", wrapped, "GET", "/v1/abc", "/v1/{id}", []string{"by-id"}, "GET /v1/{id}"},
		{"no pattern matched", wrapped, "GET", "/v1/files/file-3f2a9c0e/content", "/v1/files/{id}/content", []string{"files"}, "GET"},
		{"no mux", rh.t.Instrument(ok), "POST", "/v1/chat/completions", "/v1/chat/completions", []string{"path", "full"}, "POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rh.serve(t, tc.h, tc.method, tc.path)
			if r.Route != tc.route {
				t.Errorf("route %q, want %q", r.Route, tc.route)
			}
			if diff := cmp.Diff(tc.judged, r.Objectives); diff != "" {
				t.Errorf("judged by (-want +got)\n%s", diff)
			}
			ended := rh.spans.Ended()
			if name := ended[len(ended)-1].Name(); name != tc.span {
				t.Errorf("span %q, want %q", name, tc.span)
			}
		})
	}
}

// TestUnmatchedObjectiveReported: an objective whose ForRoute or ForModel
// applied to none of the first 1000 requests is reported once through the
// error handler (and the logger); one that applied is not.
func TestUnmatchedObjectiveReported(t *testing.T) {
	var mu sync.Mutex
	var reports []string
	rh := newRouteHarness(t, WithErrorHandler(func(err error) {
		mu.Lock()
		reports = append(reports, err.Error())
		mu.Unlock()
	}), WithObjectives(
		ErrorRate(0.9).Named("typo").ForRoute("/v1/chat"),
		ErrorRate(0.9).Named("model").ForModel("gpt-4o"),
		ErrorRate(0.9).Named("served").ForRoute("/v1/chat/completions"),
		ErrorRate(0.9).Named("all"),
	))
	mux := http.NewServeMux()
	mux.Handle("POST /v1/chat/completions", rh.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		RequestFrom(r.Context()).Model("m-1")
	})))
	const after = 1000 // as ForRoute documents
	for i := range after + 20 {
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/chat/completions", nil))
		mu.Lock()
		n := len(reports)
		mu.Unlock()
		if i < after-1 && n > 0 {
			t.Fatalf("reported after %d requests: %q", i+1, reports)
		}
	}
	want := []string{
		`slo: objective typo applied to none of the first 1000 requests (ForRoute ["/v1/chat"], ForModel []; the last request: route "POST /v1/chat/completions", method POST, model "m-1")`,
		`slo: objective model applied to none of the first 1000 requests (ForRoute [], ForModel ["gpt-4o"]; the last request: route "POST /v1/chat/completions", method POST, model "m-1")`,
	}
	if diff := cmp.Diff(want, reports); diff != "" {
		t.Errorf("reports (-want +got)\n%s", diff)
	}
}

// TestNormalizePath checks the route of requests no ServeMux pattern routed
// against hand-written values, and its bound.
func TestNormalizePath(t *testing.T) {
	long := strings.Repeat("a", 33)
	for _, tc := range []struct{ path, want string }{
		{"", "/"},
		{"/", "/"},
		{"//", "/"},
		{"/v1/chat/completions", "/v1/chat/completions"},
		{"/v1/chat/completions/", "/v1/chat/completions"},
		{"/v1//models", "/v1/models"},
		{"/v1/abc", "/v1/abc"},
		{"/v1/files/file-3f2a9c0e/content", "/v1/files/{id}/content"},
		{"/v1/threads/123", "/v1/threads/{id}"},
		{"/v1beta2/models", "/v1beta2/models"},
		{"/api/v2/users/9b2c1c0e-6a0f-4d3e-9a8e-1f6c2b3d4e5f", "/api/v2/users/{id}"},
		{"/a/b/c/d/e/f/g", "/a/b/c/d/{rest...}"},
		{"/" + long, "/{id}"},
		{"/" + strings.Repeat("a", 32), "/" + strings.Repeat("a", 32)},
		{"/café/x", "/{id}/x"},
		{"/v1/chat completions", "/v1/{id}"},
		{"/v1/{id}", "/v1/{id}"},
		{"/a/b/c/d/{rest...}", "/a/b/c/d/{rest...}"},
	} {
		if got := normalizePath(tc.path); got != tc.want {
			t.Errorf("normalizePath(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
	worst := strings.Repeat("/"+strings.Repeat("b", 32), 4) + "/x"
	if got := normalizePath(worst); len(got) != maxNormalizedRoute {
		t.Errorf("longest route %d bytes (%q), want %d", len(got), got, maxNormalizedRoute)
	}
	if n := testing.AllocsPerRun(100, func() { normalizePath("/v1/chat/completions") }); n != 0 {
		t.Errorf("%v allocations for a path kept as it is", n)
	}
}

// FuzzNormalizePath: any path gives a route of bounded length that parses
// as a ServeMux path and that normalizes to itself.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/v1/chat/completions", "/v1/files/x1/content", "/a/b/c/d/e", "", "/\xff/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		got := normalizePath(path)
		if len(got) > maxNormalizedRoute {
			t.Fatalf("normalizePath(%q) = %d bytes, over %d", path, len(got), maxNormalizedRoute)
		}
		if r, ok := parseRoute(got); !ok || r.method != "" || r.host != "" {
			t.Fatalf("normalizePath(%q) = %q is no path", path, got)
		}
		if again := normalizePath(got); again != got {
			t.Fatalf("normalizePath(%q) = %q, normalized again %q", path, got, again)
		}
	})
}

// TestRouteMatches checks which ForRoute routes cover which request routes.
func TestRouteMatches(t *testing.T) {
	for _, tc := range []struct {
		want, got, method string
		match             bool
	}{
		{"/v1/chat/completions", "POST /v1/chat/completions", "POST", true},
		{"POST /v1/chat/completions", "POST /v1/chat/completions", "POST", true},
		{"POST /v1/chat/completions", "/v1/chat/completions", "POST", true},
		{"POST /v1/chat/completions", "/v1/chat/completions", "GET", false},
		{"GET /v1/chat/completions", "POST /v1/chat/completions", "POST", false},
		{"/v1/chat", "POST /v1/chat/completions", "POST", false},
		{"example.com/v1/x", "POST example.com/v1/x", "POST", true},
		{"example.com/v1/x", "POST other.com/v1/x", "POST", false},
		{"/v1/x", "POST example.com/v1/x", "POST", true},
		{"/v1/{id}", "/v1/{id}", "GET", true},
	} {
		w, ok := parseRoute(tc.want)
		g, ok2 := parseRoute(tc.got)
		if !ok || !ok2 {
			t.Fatalf("%q or %q does not parse", tc.want, tc.got)
		}
		if m := w.matches(g, tc.method); m != tc.match {
			t.Errorf("ForRoute(%q) on %s %q: %v, want %v", tc.want, tc.method, tc.got, m, tc.match)
		}
	}
}
