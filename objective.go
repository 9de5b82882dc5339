package slo

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
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
	named     bool // Named was called: its name must not be empty
	routes    []string
	models    []string
	tenants   []string
	// noRoute, noModel and noTenant: ForRoute, ForModel or ForTenant was
	// called with nothing, which would make the objective judge nothing.
	noRoute, noModel, noTenant bool
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

// ForRoute limits the objective to requests served on one of routes. A route
// is a ServeMux pattern, "[METHOD ][HOST]/PATH", and matches a request when
// it equals the request's route (see [Tracker.Instrument]) or names the
// same path, with the same method and host where it gives them: so
// ForRoute("/v1/chat/completions") and ForRoute("POST /v1/chat/completions")
// both match a request served under the pattern
// "POST /v1/chat/completions", whether Instrument wraps that route's
// handler or the whole ServeMux. [New] rejects ForRoute() and an empty or
// malformed route, and reports through [WithErrorHandler] an objective
// narrowed by ForRoute or ForModel that applied to none of the tracker's
// first 1000 requests.
func (o Objective) ForRoute(routes ...string) Objective {
	o.routes = append(slices.Clip(o.routes), routes...)
	o.noRoute = o.noRoute || len(routes) == 0
	return o
}

// ForModel limits the objective to requests for one of models (as reported by
// [Request.Model] or the response stream). [New] rejects ForModel() and an
// empty model.
func (o Objective) ForModel(models ...string) Objective {
	o.models = append(slices.Clip(o.models), models...)
	o.noModel = o.noModel || len(models) == 0
	return o
}

// ForTenant limits the objective to requests served for one of tenants, or
// priority classes, as the function given to [WithTenant] names them (or
// [Request.Tenant]). The objective then keeps its own error budget, burn
// rates and alerts, and its incidents name the tenant
// ([incident.Incident].Tenant): one objective per tenant, e.g.
// TTFT(500*time.Millisecond, 0.99).ForTenant("gold") beside the same
// objective ForTenant("free"), burns for one tenant while the other's
// budget stays untouched. Its generated name gains "@" and the tenants,
// e.g. "ttft_500ms_p99@gold". Tenants reach metrics only through the
// objectives' names, so their number is the number of objectives given.
// [New] rejects ForTenant() and an empty tenant.
func (o Objective) ForTenant(tenants ...string) Objective {
	o.tenants = append(slices.Clip(o.tenants), tenants...)
	o.noTenant = o.noTenant || len(tenants) == 0
	return o
}

// Tenant returns the tenants the objective is narrowed to, joined by ","
// ([Objective.ForTenant]); empty when it is not.
func (o Objective) Tenant() string { return strings.Join(o.tenants, ",") }

// Named replaces the generated name, e.g. "ttft_500ms_p99", by name. [New]
// rejects an empty name.
func (o Objective) Named(name string) Objective {
	o.name, o.named = name, true
	return o
}

// Name returns the objective's name: the one given to [Objective.Named], or
// one derived from its definition such as "ttft_500ms_p99" or
// "error_rate_p99.9999" (the target as a percentage, every digit kept).
func (o Objective) Name() string {
	if o.named {
		return o.name
	}
	t := percent(o.target)
	var name string
	switch o.kind {
	case sliTokensPerSec:
		name = fmt.Sprintf("tokens_per_sec_%s_p%s", strconv.FormatFloat(o.minTPS, 'f', -1, 64), t)
	case sliErrorRate:
		name = "error_rate_p" + t
	default:
		name = fmt.Sprintf("%s_%s_p%s", o.kind, o.threshold, t)
	}
	if len(o.tenants) > 0 {
		name += "@" + o.Tenant()
	}
	return name
}

// Target returns the objective's target share of good requests, in (0, 1).
func (o Objective) Target() float64 { return o.target }

// percent writes target, a fraction, as a percentage with every digit of
// its shortest decimal form: 0.99 → "99", 0.999999999 → "99.9999999"
// (never rounded up to "100").
func percent(target float64) string {
	s := strconv.FormatFloat(target, 'f', -1, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart != "0" || strings.HasPrefix(s, "-") {
		return strconv.FormatFloat(target*100, 'f', -1, 64) // not a fraction: validate rejects it
	}
	frac += "00"[min(len(frac), 2):]
	whole := strings.TrimLeft(frac[:2], "0")
	if whole == "" {
		whole = "0"
	}
	if rest := strings.TrimRight(frac[2:], "0"); rest != "" {
		return whole + "." + rest
	}
	return whole
}

// fraction writes a percentage in (1, 100) as a fraction, every digit kept:
// 99 → "0.99", 99.9 → "0.999" (percent's inverse, for error messages).
func fraction(pct float64) string {
	whole, frac, _ := strings.Cut(strconv.FormatFloat(pct, 'f', -1, 64), ".")
	if len(whole) < 2 {
		whole = "0" + whole
	}
	return "0." + strings.TrimRight(whole+frac, "0")
}

// Bounds of the objectives' parameters, checked by validate.
const (
	// minErrorBudget is the smallest error budget (1 − target) accepted:
	// nine nines. Below it, the budget written into the Prometheus rules
	// (rounded to 1e-12) is off by more than 0.05 %, and a single bad
	// request among a billion already exceeds the budget.
	minErrorBudget = 1e-9
	// minLatencyThreshold is the smallest TTFT or Latency threshold: below
	// a millisecond (less than a loopback round trip) it is almost surely a
	// unit mistake, TTFT(500, …) being 500 ns.
	minLatencyThreshold = time.Millisecond
	// minTPOTThreshold is the smallest TPOT threshold: 100 µs per token,
	// 10 000 tokens/s in one stream, beyond any serving stack.
	minTPOTThreshold = 100 * time.Microsecond
)

// call returns how the objective was built, e.g.
// `TTFT(500ms, 0.99).Named("chat")`, for error messages.
func (o Objective) call() string {
	g := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	var c string
	switch o.kind {
	case sliTTFT:
		c = fmt.Sprintf("TTFT(%v, %s)", o.threshold, g(o.target))
	case sliTPOT:
		c = fmt.Sprintf("TPOT(%v, %s)", o.threshold, g(o.target))
	case sliLatency:
		c = fmt.Sprintf("Latency(%v, %s)", o.threshold, g(o.target))
	case sliTokensPerSec:
		c = fmt.Sprintf("TokensPerSecond(%s, %s)", g(o.minTPS), g(o.target))
	case sliErrorRate:
		c = fmt.Sprintf("ErrorRate(%s)", g(o.target))
	default:
		c = "Objective{}"
	}
	if o.named {
		c += fmt.Sprintf(".Named(%q)", o.name)
	}
	return c
}

// validate checks the objective's parameters; the error names the
// constructor call, the value and what is accepted.
func (o Objective) validate() error {
	if o.kind == 0 {
		return errors.New("Objective{}: the zero value judges nothing; build one with TTFT, TPOT, Latency, TokensPerSecond or ErrorRate")
	}
	if err := o.validateTarget(); err != nil {
		return err
	}
	switch o.kind {
	case sliTTFT, sliTPOT, sliLatency:
		if err := o.validateThreshold(); err != nil {
			return err
		}
	case sliTokensPerSec:
		if !(o.minTPS > 0) || math.IsInf(o.minTPS, 1) {
			return fmt.Errorf("%s: the minimum decode rate must be a finite number of tokens/s above 0", o.call())
		}
	}
	if o.named && o.name == "" {
		return fmt.Errorf("%s: the name must not be empty", o.call())
	}
	return o.validateFilters()
}

func (o Objective) validateTarget() error {
	t := o.target
	switch {
	case t > 1 && t < 100:
		return fmt.Errorf("%s: the target is a fraction in (0, 1), not a percentage: did you mean %s?", o.call(), fraction(t))
	case !(t > 0 && t < 1):
		return fmt.Errorf("%s: the target is a fraction in (0, 1), e.g. 0.99 for 99%% of requests good", o.call())
	case 1-t < minErrorBudget*(1-1e-6): // 0.999999999 itself is accepted
		return fmt.Errorf("%s: the target leaves an error budget (1 − target) of %.3g, below the smallest the burn-rate arithmetic keeps exact, %g (a target of at most 0.999999999)",
			o.call(), 1-t, minErrorBudget)
	}
	return nil
}

func (o Objective) validateThreshold() error {
	least := minLatencyThreshold
	if o.kind == sliTPOT {
		least = minTPOTThreshold
	}
	switch {
	case o.threshold <= 0:
		return fmt.Errorf("%s: the threshold must be a positive time.Duration, e.g. 500*time.Millisecond", o.call())
	case o.threshold < time.Microsecond:
		return fmt.Errorf("%s: a threshold of %v is almost surely a unit mistake (the least accepted is %v): did you mean %d*time.Millisecond?",
			o.call(), o.threshold, least, int64(o.threshold))
	case o.threshold < least:
		return fmt.Errorf("%s: a threshold of %v is below the least accepted, %v", o.call(), o.threshold, least)
	}
	return nil
}

func (o Objective) validateFilters() error {
	const patterns = `ServeMux patterns such as "/v1/chat/completions" or "POST /v1/chat/completions"`
	if o.noRoute {
		return fmt.Errorf("%s.ForRoute(): no route given; give %s", o.call(), patterns)
	}
	for _, r := range o.routes {
		if _, ok := parseRoute(r); !ok {
			return fmt.Errorf("%s.ForRoute(%q): not a route; give %s", o.call(), r, patterns)
		}
	}
	if o.noModel {
		return fmt.Errorf("%s.ForModel(): no model given", o.call())
	}
	if slices.Contains(o.models, "") {
		return fmt.Errorf("%s.ForModel(\"\"): a model name must not be empty", o.call())
	}
	if o.noTenant {
		return fmt.Errorf("%s.ForTenant(): no tenant given", o.call())
	}
	if slices.Contains(o.tenants, "") {
		return fmt.Errorf("%s.ForTenant(\"\"): a tenant must not be empty", o.call())
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
