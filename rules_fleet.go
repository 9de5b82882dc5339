package slo

import (
	"bytes"
	"fmt"
	"strings"
)

// writeInstanceRules writes, at the end of the SLI recordings, the fleet rule's per-instance breakdown of the
// objective: the share of bad requests over 5m of each scraped instance,
// slo:sli_error_by_instance:ratio_rate5m{instance=...}, beside the fleet's
// slo:sli_error:ratio_rate5m (which the alerts read). A replica whose own
// budget burns shows there while the fleet's may not.
func (r *objRules) writeInstanceRules(b *bytes.Buffer) {
	bad := fmt.Sprintf("sum by (instance) (rate(%s[5m]))", r.sel("false"))
	all := fmt.Sprintf("sum by (instance) (rate(%s[5m]))", r.sel(""))
	expr := fmt.Sprintf("(%s\nor\n0 * %s)\n/\n%s", bad, all, all)
	writeRule(b, "record", "slo:sli_error_by_instance:ratio_rate5m", expr, "", r.labels("sloth_window", "5m"), nil)
}

// writeGoodputRules writes the service's goodput recordings over 5m, from
// llm_slo_goodput_requests_total and llm_slo_goodput_tokens_total
// (docs/design.md §15): slo:goodput_requests:rate5m (requests/s that met
// every objective that judged them), slo:goodput_tokens:rate5m (their
// output tokens/s) and slo:goodput:ratio_rate5m (their share of the
// judged requests).
func writeGoodputRules(b *bytes.Buffer, opts RulesOptions) {
	fmt.Fprintf(b, "  - name: %s\n    rules:\n", yamlQuote("llmslo-goodput-recordings-"+opts.Service))
	sel := func(metric, good string) string {
		parts := []string{}
		if good != "" {
			parts = append(parts, "good="+promQuote(good))
		}
		if opts.Selector != "" {
			parts = append(parts, opts.Selector)
		}
		return fmt.Sprintf("sum(rate(%s{%s}[5m]))", metric, strings.Join(parts, ","))
	}
	labels := []string{"sloth_service", opts.Service, "sloth_window", "5m"}
	writeRule(b, "record", "slo:goodput_requests:rate5m", sel("llm_slo_goodput_requests_total", "true"), "", labels, nil)
	writeRule(b, "record", "slo:goodput_tokens:rate5m", sel("llm_slo_goodput_tokens_total", "true"), "", labels, nil)
	writeRule(b, "record", "slo:goodput:ratio_rate5m",
		"(\n  "+sel("llm_slo_goodput_requests_total", "true")+" or on() vector(0)\n)\n/\n"+sel("llm_slo_goodput_requests_total", ""), "", labels, nil)
}
