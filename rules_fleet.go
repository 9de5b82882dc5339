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
		return fmt.Sprintf("sum(rate(%s[5m]))", serviceSel(opts, metric, "good", good))
	}
	labels := []string{"sloth_service", opts.Service, "sloth_window", "5m"}
	writeRule(b, "record", "slo:goodput_requests:rate5m", sel("llm_slo_goodput_requests_total", "true"), "", labels, nil)
	writeRule(b, "record", "slo:goodput_tokens:rate5m", sel("llm_slo_goodput_tokens_total", "true"), "", labels, nil)
	writeRule(b, "record", "slo:goodput:ratio_rate5m",
		"(\n  "+sel("llm_slo_goodput_requests_total", "true")+" or on() vector(0)\n)\n/\n"+sel("llm_slo_goodput_requests_total", ""), "", labels, nil)
}

// writePromptCacheRules writes the service's prompt-cache recording over
// 5m, slo:prompt_cache_hit:ratio_rate5m by gen_ai_request_model: the
// input tokens the provider served from its prompt cache over all input
// tokens, from the sums of llm_slo_server_token_usage_tokens by
// gen_ai_token_type (cache_read is part of input; docs/design.md §5).
func writePromptCacheRules(b *bytes.Buffer, opts RulesOptions) {
	fmt.Fprintf(b, "  - name: %s\n    rules:\n", yamlQuote("llmslo-prompt-cache-recordings-"+opts.Service))
	sum := func(tokenType string) string {
		return fmt.Sprintf("sum by (gen_ai_request_model) (rate(%s[5m]))",
			serviceSel(opts, "llm_slo_server_token_usage_tokens_sum", "gen_ai_token_type", tokenType))
	}
	writeRule(b, "record", "slo:prompt_cache_hit:ratio_rate5m", sum(tokenTypeCacheRead)+"\n/\n"+sum("input"), "",
		[]string{"sloth_service", opts.Service, "sloth_window", "5m"}, nil)
}

// serviceSel is the selector of metric with label = value (none when value
// is empty) and the options' selector.
func serviceSel(opts RulesOptions, metric, label, value string) string {
	var parts []string
	if value != "" {
		parts = append(parts, label+"="+promQuote(value))
	}
	if opts.Selector != "" {
		parts = append(parts, opts.Selector)
	}
	return metric + "{" + strings.Join(parts, ",") + "}"
}
