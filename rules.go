package slo

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmslo/slo/internal/burn"
)

// RulesOptions configures [PrometheusRulesWith].
type RulesOptions struct {
	// Service names the service: the sloth_service label, the sloth_id
	// prefix and the rule group names. Required.
	Service string
	// Selector holds extra PromQL label matchers added to every selector of
	// llm_slo_requests_total, e.g. `job="rag-service"` or
	// `namespace="prod",job="gateway"`. Empty means none: every series of
	// the objective's name counts, whatever target it was scraped from.
	Selector string
	// Period is the error-budget period; zero means 30 days (the tracker's
	// default, see [WithBudgetPeriod]). It must be a whole number of hours.
	Period time.Duration
	// MinEvents is the number of requests the long window of each alert
	// condition must hold, as [WithMinEvents] sets it for the tracker: 0 (the
	// default, like the tracker's) asks each rule for the fewest requests
	// with which one bad request alone cannot make it hold, ⌈1/(factor ×
	// (1 − target))⌉; 1 writes no such condition.
	MinEvents int
}

// slothWindows are the windows Sloth records the error ratio over, so that
// its dashboards work on the generated rules.
var slothWindows = []time.Duration{
	5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour,
}

// ruleWindows returns, ascending, the windows of the recorded error ratios:
// Sloth's and every window of rules.
func ruleWindows(rules []burn.Rule) []time.Duration {
	ws := slices.Clone(slothWindows)
	for _, r := range rules {
		ws = append(ws, r.Long, r.Short)
	}
	slices.Sort(ws)
	return slices.Compact(ws)
}

// PrometheusRules returns a Prometheus rule file (YAML) for objs of service:
// the same objectives, the same burn-rate alert conditions (docs/design.md §8)
// the tracker evaluates in process, taken from the same rule values and
// computed by Prometheus from the counter every tracker exports,
// llm_slo_requests_total{objective, good}.
//
// For each objective it writes, with Sloth-compatible names and labels
// (sloth_id, sloth_service, sloth_slo, sloth_window):
//
//   - recording rules slo:sli_error:ratio_rate<w> — the share of bad requests
//     over 5m, 30m, 1h, 2h, 6h, 1d and 3d, and over the budget period (the
//     average of the 5m ratio, as Sloth does);
//   - metadata: slo:objective:ratio, slo:error_budget:ratio,
//     slo:time_period:days, slo:current_burn_rate:ratio (5m),
//     slo:period_burn_rate:ratio, slo:period_error_budget_remaining:ratio and
//     sloth_slo_info;
//   - slo:sli_error_by_instance:ratio_rate5m — the 5m share of bad requests
//     per scraped instance, the fleet rule's per-instance breakdown;
//   - one alert per severity, LLMSLOBurnRatePage and LLMSLOBurnRateTicket,
//     whose expression is the "or" of the severity's rules: the long and
//     the short window's burn rates both exceed the rule's factor, and the
//     long window holds at least the rule's minimum of requests
//     ([RulesOptions.MinEvents]), as the tracker decides in process.
//
// Once per file it writes the service's goodput recordings over 5m:
// slo:goodput_requests:rate5m, slo:goodput_tokens:rate5m and
// slo:goodput:ratio_rate5m (from llm_slo_goodput_requests_total and
// llm_slo_goodput_tokens_total), then the prompt-cache hit ratio per model
// over 5m, slo:prompt_cache_hit:ratio_rate5m (cache-read input tokens over
// input tokens, from llm_slo_server_token_usage_tokens).
//
// A burn rate b over a window is the window's error ratio divided by the error
// budget 1 − target, so "burn rate > b" is written "ratio > b × (1 − target)".
//
// Last comes the llmslo-health group: the [HealthAlerts] over the tracker's
// self-health metrics (probe state, lost evidence, overhead-guard trips,
// correlation tiers, the sidecar session, sink failures, the last
// evaluation), with the same selector.
// It is shorthand for [PrometheusRulesWith] with only the service set.
func PrometheusRules(service string, objs ...Objective) ([]byte, error) {
	return PrometheusRulesWith(RulesOptions{Service: service}, objs...)
}

// PrometheusRulesWith is [PrometheusRules] with options.
func PrometheusRulesWith(opts RulesOptions, objs ...Objective) ([]byte, error) {
	if opts.Service == "" {
		return nil, errors.New("slo: prometheus rules: service name required")
	}
	if len(objs) == 0 {
		return nil, errors.New("slo: prometheus rules: no objectives")
	}
	period := opts.Period
	if period == 0 {
		period = 30 * 24 * time.Hour
	}
	if period < time.Hour || period%time.Hour != 0 {
		return nil, fmt.Errorf("slo: prometheus rules: period %v is not a positive whole number of hours", period)
	}
	if opts.MinEvents < 0 {
		return nil, fmt.Errorf("slo: prometheus rules: negative minimum of requests %d", opts.MinEvents)
	}
	if strings.ContainsAny(opts.Selector, "{}") {
		return nil, fmt.Errorf("slo: prometheus rules: selector %q: give label matchers without braces", opts.Selector)
	}
	seen := make(map[string]bool)
	for _, o := range objs {
		if err := o.validate(); err != nil {
			return nil, fmt.Errorf("slo: prometheus rules: %w", err)
		}
		if seen[o.Name()] {
			return nil, fmt.Errorf("slo: prometheus rules: two objectives named %q; use Objective.Named", o.Name())
		}
		seen[o.Name()] = true
	}

	var b bytes.Buffer
	b.WriteString("# Code generated by slo.PrometheusRules; DO NOT EDIT.\n")
	fmt.Fprintf(&b, "# Service %s, error-budget period %s. Source metric: llm_slo_requests_total{objective,good}.\n",
		opts.Service, burn.WindowName(period))
	b.WriteString("groups:\n")
	for _, o := range objs {
		writeObjectiveRules(&b, opts, period, o)
	}
	writeGoodputRules(&b, opts)
	writePromptCacheRules(&b, opts)
	writeHealthRules(&b, opts)
	return b.Bytes(), nil
}

// objRules holds what the rules of one objective share.
type objRules struct {
	opts   RulesOptions
	period time.Duration
	o      Objective
	name   string // o.Name()
	id     string // sloth_id
	idSel  string // {sloth_id="<id>"}
	budget float64
}

// labels returns the labels every rule of the objective carries, then extra.
func (r *objRules) labels(extra ...string) []string {
	return append([]string{"objective", r.name, "sloth_id", r.id, "sloth_service", r.opts.Service, "sloth_slo", r.name}, extra...)
}

// sel returns the selector of llm_slo_requests_total for the objective,
// narrowed to good="<good>" unless good is empty.
func (r *objRules) sel(good string) string {
	parts := []string{"objective=" + promQuote(r.name)}
	if good != "" {
		parts = append(parts, "good="+promQuote(good))
	}
	if r.opts.Selector != "" {
		parts = append(parts, r.opts.Selector)
	}
	return "llm_slo_requests_total{" + strings.Join(parts, ",") + "}"
}

func writeObjectiveRules(b *bytes.Buffer, opts RulesOptions, period time.Duration, o Objective) {
	id := opts.Service + "-" + o.Name()
	r := &objRules{opts: opts, period: period, o: o, name: o.Name(), id: id,
		idSel: "{sloth_id=" + promQuote(id) + "}", budget: burn.ErrorBudget(o.target)}
	rules := burn.DefaultRules()
	r.writeSLI(b, rules)
	r.writeMeta(b)
	r.writeAlerts(b, rules)
}

// writeSLI writes the recorded error ratios over every window and over the
// budget period.
func (r *objRules) writeSLI(b *bytes.Buffer, rules []burn.Rule) {
	fmt.Fprintf(b, "  - name: %s\n    rules:\n", yamlQuote("llmslo-sli-recordings-"+r.id))
	for _, w := range ruleWindows(rules) {
		wn := burn.WindowName(w)
		expr := fmt.Sprintf("(sum(rate(%s[%s])) or on() vector(0))\n/\nsum(rate(%s[%s]))", r.sel("false"), wn, r.sel(""), wn)
		writeRule(b, "record", "slo:sli_error:ratio_rate"+wn, expr, "", r.labels("sloth_window", wn), nil)
	}
	pn := burn.WindowName(r.period)
	expr := fmt.Sprintf("sum_over_time(slo:sli_error:ratio_rate5m%s[%s])\n/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m%s[%s])",
		r.idSel, pn, r.idSel, pn)
	writeRule(b, "record", "slo:sli_error:ratio_rate"+pn, expr, "", r.labels("sloth_window", pn), nil)
	r.writeInstanceRules(b)
}

// writeMeta writes the Sloth metadata recordings.
func (r *objRules) writeMeta(b *bytes.Buffer) {
	fmt.Fprintf(b, "  - name: %s\n    rules:\n", yamlQuote("llmslo-meta-recordings-"+r.id))
	pn := burn.WindowName(r.period)
	writeRule(b, "record", "slo:objective:ratio", "vector("+promFloat(r.o.target)+")", "", r.labels(), nil)
	writeRule(b, "record", "slo:error_budget:ratio", "vector("+promFloat(r.budget)+")", "", r.labels(), nil)
	writeRule(b, "record", "slo:time_period:days", "vector("+promFloat(r.period.Hours()/24)+")", "", r.labels(), nil)
	on := "/ on (sloth_id, sloth_slo, sloth_service) group_left\n"
	writeRule(b, "record", "slo:current_burn_rate:ratio",
		"slo:sli_error:ratio_rate5m"+r.idSel+"\n"+on+"slo:error_budget:ratio"+r.idSel, "", r.labels(), nil)
	writeRule(b, "record", "slo:period_burn_rate:ratio",
		"slo:sli_error:ratio_rate"+pn+r.idSel+"\n"+on+"slo:error_budget:ratio"+r.idSel, "", r.labels(), nil)
	writeRule(b, "record", "slo:period_error_budget_remaining:ratio",
		"1 - slo:period_burn_rate:ratio"+r.idSel, "", r.labels(), nil)
	writeRule(b, "record", "sloth_slo_info", "vector(1)", "",
		r.labels("sloth_mode", "llmslo", "sloth_objective", percent(r.o.target),
			"llmslo_sli", r.o.kind.String()), nil)
}

// writeAlerts writes one alert per severity of rules, most severe first,
// its conditions joined with "or".
func (r *objRules) writeAlerts(b *bytes.Buffer, rules []burn.Rule) {
	fmt.Fprintf(b, "  - name: %s\n    rules:\n", yamlQuote("llmslo-alerts-"+r.id))
	for sev := burn.Page; sev > burn.None; sev-- {
		var conds, texts []string
		for _, rule := range rules {
			if rule.Severity != sev {
				continue
			}
			conds = append(conds, r.condition(rule))
			text := fmt.Sprintf("the %s and %s burn rates both exceed %s",
				burn.WindowName(rule.Long), burn.WindowName(rule.Short), promFloat(rule.Factor))
			if n := r.minEvents(rule); n > 1 {
				text += fmt.Sprintf(" with at least %d requests in %s", n, burn.WindowName(rule.Long))
			}
			texts = append(texts, text)
		}
		if len(conds) == 0 {
			continue
		}
		s := sev.String()
		ann := []string{
			"summary", fmt.Sprintf("%s: objective %s is burning its %s error budget (%s)", r.opts.Service, r.name, burn.WindowName(r.period), s),
			"description", fmt.Sprintf("Objective %s (target %s of requests good) of %s: %s. Value: the short-window error ratio; budget %s.",
				r.name, promFloat(r.o.target), r.opts.Service, strings.Join(texts, ", or "), promFloat(r.budget)),
		}
		writeRule(b, "alert", alertName(sev), strings.Join(conds, "\nor\n"), "", r.labels("severity", s, "sloth_severity", s), ann)
	}
}

// condition is one rule's expression: both windows' ratios over the
// threshold and, unless the minimum is 1, the long window's requests at or
// over the rule's minimum.
func (r *objRules) condition(rule burn.Rule) string {
	thr := "(" + promFloat(rule.Factor) + " * " + promFloat(r.budget) + ")"
	cond := func(w time.Duration) string {
		return fmt.Sprintf("max(slo:sli_error:ratio_rate%s%s > %s) without (sloth_window)", burn.WindowName(w), r.idSel, thr)
	}
	expr := "(\n  " + cond(rule.Short) + "\n  and\n  " + cond(rule.Long)
	if n := r.minEvents(rule); n > 1 {
		expr += fmt.Sprintf("\n  and on ()\n  sum(increase(%s[%s])) >= %d", r.sel(""), burn.WindowName(rule.Long), n)
	}
	return expr + "\n)"
}

// minEvents is the requests rule's long window must hold: the options'
// minimum, or the rule's own for the objective's target.
func (r *objRules) minEvents(rule burn.Rule) int64 {
	if r.opts.MinEvents > 0 {
		return int64(r.opts.MinEvents)
	}
	return rule.MinEvents(r.o.target)
}

// alertName is the Prometheus alert of a severity: LLMSLOBurnRatePage,
// LLMSLOBurnRateTicket.
func alertName(sev burn.Severity) string {
	s := sev.String()
	return "LLMSLOBurnRate" + strings.ToUpper(s[:1]) + s[1:]
}

// writeRule writes one rule of a group. labels and annotations are key, value pairs.
func writeRule(b *bytes.Buffer, kind, name, expr, forDur string, labels, annotations []string) {
	fmt.Fprintf(b, "      - %s: %s\n", kind, name)
	if strings.Contains(expr, "\n") {
		b.WriteString("        expr: |-\n")
		for _, line := range strings.Split(expr, "\n") {
			b.WriteString("          " + line + "\n")
		}
	} else {
		b.WriteString("        expr: " + yamlQuote(expr) + "\n")
	}
	if forDur != "" {
		b.WriteString("        for: " + forDur + "\n")
	}
	writeMap(b, "labels", labels)
	writeMap(b, "annotations", annotations)
}

func writeMap(b *bytes.Buffer, key string, kv []string) {
	if len(kv) == 0 {
		return
	}
	b.WriteString("        " + key + ":\n")
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString("          " + kv[i] + ": " + yamlQuote(kv[i+1]) + "\n")
	}
}

func promFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// promQuote quotes s as a PromQL string literal.
func promQuote(s string) string { return strconv.Quote(s) }

// yamlQuote quotes s as a YAML double-quoted scalar (Go escapes are valid
// YAML escapes for the characters strconv.Quote produces).
func yamlQuote(s string) string { return strconv.Quote(s) }
