package slo

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// sliKind is the indicator an Objective judges.
type sliKind uint8

const (
	sliTTFT sliKind = iota + 1
	sliTPOT
	sliLatency
	sliTokensPerSec
	sliErrorRate
)

func (k sliKind) String() string {
	switch k {
	case sliTTFT:
		return "ttft"
	case sliTPOT:
		return "tpot"
	case sliLatency:
		return "latency"
	case sliTokensPerSec:
		return "tokens_per_sec"
	case sliErrorRate:
		return "error_rate"
	}
	return "unknown"
}

// eventSLIName is the SloEventV1 sli_name of the kind.
func (k sliKind) eventSLIName() string {
	switch k {
	case sliTTFT:
		return "ttft_ms"
	case sliLatency:
		return "request_latency_ms"
	case sliTPOT, sliTokensPerSec:
		return "token_throughput_tps" // TPOT is judged as its inverse, decode tokens/s
	}
	return "error_rate"
}

// Objective is a service-level objective judged on every request it applies
// to: the share of good requests should be at least Target. Build one with
// [TTFT], [TPOT], [Latency], [TokensPerSecond] or [ErrorRate], and narrow it
// with [Objective.ForRoute] and [Objective.ForModel].
//
// The zero value is not a valid objective. Objective is a small value type,
// safe to copy and to use from several goroutines.
type Objective struct {
	kind      sliKind
	threshold time.Duration
	minTPS    float64
	target    float64
	name      string
	routes    []string
	models    []string
}

// TTFT is met by a streaming request whose first output-bearing chunk left
// within threshold of the request start. A request that failed before any
// output is bad; a non-streaming response is not judged.
func TTFT(threshold time.Duration, target float64) Objective {
	return Objective{kind: sliTTFT, threshold: threshold, target: target}
}

// TPOT is met by a request whose time per output token, (E2E − TTFT) /
// (output tokens − 1), is at most threshold. Requests with fewer than two
// output tokens are not judged.
func TPOT(threshold time.Duration, target float64) Objective {
	return Objective{kind: sliTPOT, threshold: threshold, target: target}
}

// Latency is met by a request whose end-to-end duration (start to last byte or
// handler return) is at most threshold. Failed requests are bad.
func Latency(threshold time.Duration, target float64) Objective {
	return Objective{kind: sliLatency, threshold: threshold, target: target}
}

// TokensPerSecond is met by a request whose decode rate, (output tokens − 1)
// / (E2E − TTFT), is at least minimum. Requests with fewer than two output
// tokens are not judged.
func TokensPerSecond(minimum float64, target float64) Objective {
	return Objective{kind: sliTokensPerSec, minTPS: minimum, target: target}
}

// ErrorRate is met by every request that did not fail: a 5xx or 429 status,
// a handler panic, or an error event in the stream. A request the client
// abandoned is not judged.
func ErrorRate(target float64) Objective {
	return Objective{kind: sliErrorRate, target: target}
}

// ForRoute limits the objective to requests whose route (the ServeMux pattern,
// or the URL path when there is none) is one of routes.
func (o Objective) ForRoute(routes ...string) Objective {
	o.routes = append(slices.Clip(o.routes), routes...)
	return o
}

// ForModel limits the objective to requests for one of models (as reported by
// [Request.Model] or the response stream).
func (o Objective) ForModel(models ...string) Objective {
	o.models = append(slices.Clip(o.models), models...)
	return o
}

// Named replaces the generated name, e.g. "ttft_500ms_99" by name.
func (o Objective) Named(name string) Objective {
	o.name = name
	return o
}

// Name returns the objective's name: the one given to [Objective.Named], or
// one derived from its definition such as "ttft_500ms_p99".
func (o Objective) Name() string {
	if o.name != "" {
		return o.name
	}
	t := strconv.FormatFloat(math.Round(o.target*1e6)/1e4, 'f', -1, 64)
	switch o.kind {
	case sliTokensPerSec:
		return fmt.Sprintf("tokens_per_sec_%s_p%s", strconv.FormatFloat(o.minTPS, 'f', -1, 64), t)
	case sliErrorRate:
		return "error_rate_p" + t
	}
	return fmt.Sprintf("%s_%s_p%s", o.kind, o.threshold, t)
}

// Target returns the objective's target share of good requests, in (0, 1).
func (o Objective) Target() float64 { return o.target }

func (o Objective) validate() error {
	if o.kind == 0 {
		return fmt.Errorf("objective: zero value; build one with TTFT, TPOT, Latency, TokensPerSecond or ErrorRate")
	}
	if !(o.target > 0 && o.target < 1) {
		return fmt.Errorf("objective %s: target %v must be in (0, 1)", o.Name(), o.target)
	}
	switch o.kind {
	case sliTTFT, sliTPOT, sliLatency:
		if o.threshold <= 0 {
			return fmt.Errorf("objective %s: threshold must be positive", o.Name())
		}
	case sliTokensPerSec:
		if !(o.minTPS > 0) {
			return fmt.Errorf("objective %s: minimum tokens/s must be positive", o.Name())
		}
	}
	return nil
}

// verdict is the outcome of judging one request.
type verdict uint8

const (
	notJudged verdict = iota
	good
	bad
)

// applies reports whether o covers a request on route for model.
func (o *Objective) applies(route, model string) bool {
	if len(o.routes) > 0 && !slices.Contains(o.routes, route) {
		return false
	}
	if len(o.models) > 0 && !slices.Contains(o.models, model) {
		return false
	}
	return true
}

// judge applies the objective's definition to the request's SLIs.
func (o *Objective) judge(s *sli) (v verdict, value float64) {
	if s.cancelled {
		return notJudged, 0
	}
	switch o.kind {
	case sliErrorRate:
		if s.failed {
			return bad, 1
		}
		return good, 0
	case sliLatency:
		ms := durMs(s.e2e)
		if s.failed || s.e2e > o.threshold {
			return bad, ms
		}
		return good, ms
	case sliTTFT:
		if s.hasTTFT {
			ms := durMs(s.ttft)
			if s.ttft > o.threshold {
				return bad, ms
			}
			return good, ms
		}
		if s.failed {
			return bad, durMs(s.e2e)
		}
		return notJudged, 0
	case sliTPOT:
		if !s.hasTPOT {
			return notJudged, 0
		}
		ms := durMs(s.tpot)
		if s.tpot > o.threshold {
			return bad, ms
		}
		return good, ms
	case sliTokensPerSec:
		if !s.hasTPOT {
			return notJudged, 0
		}
		if s.tokensPerSec < o.minTPS {
			return bad, s.tokensPerSec
		}
		return good, s.tokensPerSec
	}
	return notJudged, 0
}

func durMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
