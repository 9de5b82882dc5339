package promapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of a [Client] whose fields are zero.
const (
	DefaultMaxBytes  = 8 << 20
	DefaultMaxPoints = 100_000
)

// ErrTooLarge is wrapped by the errors returned for a response over
// [Client.MaxBytes] or with more than [Client.MaxPoints] points.
var ErrTooLarge = errors.New("promapi: response too large")

// Client queries a Prometheus-compatible HTTP API. The zero value is not
// usable: URL is required. A Client is safe for concurrent use.
type Client struct {
	// URL is the base URL of the API, e.g. "http://prometheus:9090"; the
	// paths /api/v1/query and /api/v1/query_range are appended (a prefix
	// such as Mimir's "/prometheus" belongs in URL).
	URL string
	// HTTP sends the requests; nil means a client over
	// http.DefaultTransport. Bound the time with the context.
	HTTP *http.Client
	// MaxBytes bounds a response body; 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxPoints bounds the points of one response, over all its series; 0
	// means DefaultMaxPoints.
	MaxPoints int
}

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Series is one series of a result: its labels and points, oldest first.
// An instant query's series have one point each.
type Series struct {
	Labels map[string]string
	Points []Point
}

// QueryRange evaluates expr at start, start+step, … up to end
// (/api/v1/query_range).
func (c *Client) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	if step <= 0 {
		return nil, fmt.Errorf("promapi: step %v", step)
	}
	return c.do(ctx, "/api/v1/query_range", url.Values{"query": {expr}, "start": {unix(start)}, "end": {unix(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}})
}

// Query evaluates expr at t (/api/v1/query).
func (c *Client) Query(ctx context.Context, expr string, t time.Time) ([]Series, error) {
	return c.do(ctx, "/api/v1/query", url.Values{"query": {expr}, "time": {unix(t)}})
}

func unix(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

func (c *Client) do(ctx context.Context, path string, form url.Values) ([]Series, error) {
	if c.URL == "" {
		return nil, errors.New("promapi: no URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("promapi: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("promapi: %w", err)
	}
	defer resp.Body.Close()
	limit := c.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("promapi: read %s: %w", path, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, limit)
	}
	series, err := Decode(body, c.MaxPoints)
	if err != nil && resp.StatusCode/100 != 2 && !errors.Is(err, errAPI) {
		return nil, fmt.Errorf("promapi: %s: %s", path, resp.Status)
	}
	return series, err
}

// errAPI is wrapped by the errors of responses with status "error".
var errAPI = errors.New("promapi: query failed")

// response is the envelope of every API answer.
type response struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// sample is [<unix seconds>, "<value>"].
type sample [2]json.RawMessage

type rawSeries struct {
	Metric map[string]string `json:"metric"`
	Values []sample          `json:"values"` // matrix
	Value  *sample           `json:"value"`  // vector
}

// Decode parses a query API response body: a matrix or a vector result, or
// the API's error. It returns at most maxPoints points (0 means
// DefaultMaxPoints) and fails on anything else: scalars and strings, values
// that are not numbers, malformed JSON.
func Decode(body []byte, maxPoints int) ([]Series, error) {
	if maxPoints <= 0 {
		maxPoints = DefaultMaxPoints
	}
	var r response
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("promapi: decode: %w", err)
	}
	switch {
	case r.Status == "error":
		return nil, fmt.Errorf("%w: %s: %s", errAPI, r.ErrorType, r.Error)
	case r.Status != "success":
		return nil, fmt.Errorf("promapi: status %q", r.Status)
	case r.Data.ResultType != "matrix" && r.Data.ResultType != "vector":
		return nil, fmt.Errorf("promapi: result type %q", r.Data.ResultType)
	}
	var raw []rawSeries
	if err := json.Unmarshal(r.Data.Result, &raw); err != nil {
		return nil, fmt.Errorf("promapi: decode result: %w", err)
	}
	out := make([]Series, 0, len(raw))
	n := 0
	for _, rs := range raw {
		samples := rs.Values
		if r.Data.ResultType == "vector" {
			if rs.Value == nil {
				return nil, errors.New("promapi: vector sample without value")
			}
			samples = []sample{*rs.Value}
		}
		if n += len(samples); n > maxPoints {
			return nil, fmt.Errorf("%w: more than %d points", ErrTooLarge, maxPoints)
		}
		s := Series{Labels: rs.Metric, Points: make([]Point, len(samples))}
		for i, sm := range samples {
			p, err := sm.point()
			if err != nil {
				return nil, err
			}
			s.Points[i] = p
		}
		out = append(out, s)
	}
	return out, nil
}

func (s sample) point() (Point, error) {
	var ts float64
	var v string
	if err := json.Unmarshal(s[0], &ts); err != nil || math.IsNaN(ts) || math.Abs(ts) > 1e11 {
		return Point{}, fmt.Errorf("promapi: timestamp %s", s[0])
	}
	if err := json.Unmarshal(s[1], &v); err != nil {
		return Point{}, fmt.Errorf("promapi: value %s", s[1])
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return Point{}, fmt.Errorf("promapi: value %q", v)
	}
	sec, frac := math.Modf(ts)
	return Point{T: time.Unix(int64(sec), int64(math.Round(frac*1e9))), V: f}, nil
}
