package slo

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/llmslo/slo/semconv"
)

// HealthAlert is one alert of the llmslo-health rule group: a fact about
// the tracker's own evidence, not about the service's objectives.
type HealthAlert struct {
	// Name is the Prometheus alert name, e.g. "LLMSLOProbeDown".
	Name string
	// For is how long the condition must hold before the alert fires.
	For string
	// Summary says what is wrong, and Description what it costs and where
	// to look.
	Summary, Description string
	// expr builds the expression from a label selector body (without
	// braces, maybe empty).
	expr func(sel func(matchers ...string) string) string
}

// HealthAlerts returns the alerts of the llmslo-health rule group that
// [PrometheusRules] writes beside the objectives' rules, in the order
// written (docs/design.md §14).
func HealthAlerts() []HealthAlert {
	return []HealthAlert{
		{Name: "LLMSLOProbeDown", For: "2m",
			Summary:     "a kernel or runtime signal that delivered in the last hour is off",
			Description: "Requests lose that signal's evidence and attribution falls back on what is left. The tracker's KernelStatus (the status page) says why.",
			expr: func(sel func(...string) string) string {
				return "max without (path) (" + sel(semconv.PromProbeUp) + ") == 0\nand\nmax without (path) (max_over_time(" + sel(semconv.PromProbeUp) + "[1h])) == 1"
			}},
		{Name: "LLMSLOEventsLost", For: "5m",
			Summary:     "evidence is being lost before use",
			Description: "Kernel events (a full ring buffer or a full queue to correlation), incidents or SLO events (a full delivery queue) were dropped in the last 10 minutes: raise the probes' rate limit or the buffer, or unblock the sink.",
			expr: func(sel func(...string) string) string {
				return "increase(" + sel(semconv.PromEventsLost) + "[10m]) > 0"
			}},
		{Name: "LLMSLOProbeOverheadHigh", For: "1m",
			Summary:     "the overhead guard turned a signal off",
			Description: "The probes used more of the process's CPU than their budget and the guard shed a signal in the last 30 minutes; its evidence is missing until it is turned back on.",
			expr: func(sel func(...string) string) string {
				return "increase(" + sel(semconv.PromProbeShed) + "[30m]) > 0"
			}},
		{Name: "LLMSLOCorrelationDegraded", For: "15m",
			Summary:     "most kernel events with an owner join requests below the enrichment threshold",
			Description: "Over half the joins of the last 15 minutes of events that have an owner (a connection, a thread, a process) were at tiers under the enrichment threshold (0.50 by default, docs/tiers.md): connection ownership or pod identity is missing (sidecar filtering, socket cookies), so spans carry little kernel evidence. Node-wide signals (CPU steal, PSI), which join at svc_node by their nature, are not counted; nor is a replica with fewer than 60 such joins in the 15 minutes.",
			expr: func(sel func(...string) string) string {
				owned := sel(semconv.PromCorrelationTotal, `scope="owned"`)
				return "sum without (tier, enriched, scope) (rate(" + sel(semconv.PromCorrelationTotal, `scope="owned"`, `enriched="false"`) + "[15m]))\n/\n" +
					"sum without (tier, enriched, scope) (rate(" + owned + "[15m])) > 0.5\n" +
					"and\nsum without (tier, enriched, scope) (increase(" + owned + "[15m])) >= 60"
			}},
		{Name: "LLMSLOSidecarDisconnected", For: "1m",
			Summary:     "the slo-sidecar is in use and its session is down",
			Description: "Kernel signals that come from the sidecar are off while it reconnects; check the sidecar container and its socket volume.",
			expr: func(sel func(...string) string) string {
				return sel(semconv.PromSidecarConnected) + " == 0"
			}},
		{Name: "LLMSLOSinkFailing", For: "5m",
			Summary:     "deliveries to an incident or SLO event sink keep failing",
			Description: "The sink refused or timed out on deliveries throughout the last minutes; incidents or SLO events are not reaching it (the tracker's error handler has the errors).",
			expr: func(sel func(...string) string) string {
				return "increase(" + sel(semconv.PromSinkFailures) + "[10m]) > 0"
			}},
		{Name: "LLMSLOEvaluationStale", For: "2m",
			Summary:     "the tracker stopped evaluating its alert rules",
			Description: "Its last evaluation time has not moved for 5 minutes: in-process incidents are not raised (a sink that blocks delivery, a stuck tracker).",
			expr: func(sel func(...string) string) string {
				return "changes(" + sel(semconv.PromLastEvaluation) + "[5m]) == 0"
			}},
	}
}

// writeHealthRules writes the llmslo-health group: HealthAlerts with
// opts.Selector added to every selector.
func writeHealthRules(b *bytes.Buffer, opts RulesOptions) {
	sel := func(metric string, matchers ...string) string {
		if opts.Selector != "" {
			matchers = append(matchers, opts.Selector)
		}
		if len(matchers) == 0 {
			return metric
		}
		return metric + "{" + strings.Join(matchers, ",") + "}"
	}
	b.WriteString("  - name: \"llmslo-health\"\n    rules:\n")
	for _, a := range HealthAlerts() {
		expr := a.expr(func(m ...string) string { return sel(m[0], m[1:]...) })
		writeRule(b, "alert", a.Name, expr, a.For,
			[]string{"severity", "ticket", "sloth_service", opts.Service, "llmslo_health", "true"},
			[]string{"summary", fmt.Sprintf("%s: %s", opts.Service, a.Summary), "description", a.Description})
	}
}
