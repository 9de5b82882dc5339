package promapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/llmslo/slo/internal/promapi"
)

func ExampleClient_QueryRange() {
	// A stand-in for Prometheus answering every query with one series.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"status":"success","data":{"resultType":"matrix","result":[`+
			`{"metric":{"objective":"ttft","good":"true"},"values":[[1700000360,"98"],[1700000720,"97"]]}]}}`)
	}))
	defer srv.Close()
	c := &promapi.Client{URL: srv.URL, MaxPoints: 1000}
	start := time.Unix(1700000360, 0)
	series, err := c.QueryRange(context.Background(), `sum by (objective, good) (increase(llm_slo_requests_total[6m]))`,
		start, start.Add(6*time.Minute), 6*time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range series {
		for _, p := range s.Points {
			fmt.Println(s.Labels["objective"], s.Labels["good"], p.T.UTC().Format(time.TimeOnly), p.V)
		}
	}
	// Output:
	// ttft true 22:19:20 98
	// ttft true 22:25:20 97
}
