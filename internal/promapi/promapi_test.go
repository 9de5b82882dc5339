package promapi_test

import (
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmslo/slo/internal/promapi"
)

const matrix = `{"status":"success","data":{"resultType":"matrix","result":[
 {"metric":{"good":"true","objective":"a"},"values":[[1700000000,"10"],[1700000060.5,"12.5"]]},
 {"metric":{"good":"false","objective":"a"},"values":[[1700000000,"NaN"]]}]}}`

func TestDecode(t *testing.T) {
	got, err := promapi.Decode([]byte(matrix), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []promapi.Series{
		{Labels: map[string]string{"good": "true", "objective": "a"}, Points: []promapi.Point{
			{T: time.Unix(1700000000, 0), V: 10}, {T: time.Unix(1700000060, 5e8), V: 12.5}}},
		{Labels: map[string]string{"good": "false", "objective": "a"}, Points: []promapi.Point{{T: time.Unix(1700000000, 0), V: math.NaN()}}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return a == b || (a != a && b != b) })); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	vec, err := promapi.Decode([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"3"]}]}}`), 0)
	if err != nil || len(vec) != 1 || vec[0].Points[0].V != 3 {
		t.Errorf("vector: %+v, %v", vec, err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"api error", `{"status":"error","errorType":"bad_data","error":"parse error"}`, "bad_data: parse error"},
		{"not json", `<html>`, "decode"},
		{"scalar", `{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`, "result type"},
		{"bad value", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}`, "value"},
		{"bad time", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":["t","1"]}]}}`, "timestamp"},
		{"short sample", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1]]}]}}`, "value"},
		{"no value", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}`, "without value"},
	} {
		if _, err := promapi.Decode([]byte(tc.body), 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := promapi.Decode([]byte(matrix), 2); !errors.Is(err, promapi.ErrTooLarge) {
		t.Errorf("3 points with a limit of 2: %v", err)
	}
}

func TestClient(t *testing.T) {
	var form url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form = r.PostForm
		switch r.URL.Path {
		case "/api/v1/query_range":
			io.WriteString(w, matrix)
		case "/api/v1/query":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"status":"error","errorType":"bad_data","error":"nope"}`)
		default:
			http.Error(w, "no", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	c := &promapi.Client{URL: srv.URL + "/"}
	start := time.Unix(1700000000, 0)
	s, err := c.QueryRange(t.Context(), "up", start, start.Add(time.Hour), 6*time.Minute)
	if err != nil || len(s) != 2 {
		t.Fatalf("QueryRange = %v, %v", s, err)
	}
	if form.Get("query") != "up" || form.Get("start") != "1700000000.000" || form.Get("end") != "1700003600.000" || form.Get("step") != "360" {
		t.Errorf("form %v", form)
	}
	if _, err := c.Query(t.Context(), "up", start); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Query error = %v", err)
	}
	if _, err := (&promapi.Client{URL: srv.URL + "/other"}).Query(t.Context(), "up", start); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("502: %v", err)
	}
	if _, err := (&promapi.Client{URL: srv.URL, MaxBytes: 100}).QueryRange(t.Context(), "up", start, start, time.Minute); !errors.Is(err, promapi.ErrTooLarge) {
		t.Errorf("MaxBytes: %v", err)
	}
}

// FuzzDecode: Decode never panics, and what it accepts has at most the
// points asked for.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(matrix), 3)
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1.5,"+Inf"]}]}}`), 1)
	f.Add([]byte(`{"status":"error","errorType":"timeout","error":"x"}`), 0)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		s, err := promapi.Decode(b, max)
		if err != nil {
			return
		}
		n := 0
		for _, x := range s {
			n += len(x.Points)
		}
		if limit := max; limit > 0 && n > limit || limit <= 0 && n > promapi.DefaultMaxPoints {
			t.Fatalf("%d points over the limit %d", n, max)
		}
	})
}
