package slo

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/internal/burn"
	"github.com/llmslo/slo/internal/promtest"
	"go.yaml.in/yaml/v3"
)

// ruleFile is the part of a Prometheus rule file the tests look at.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestPrometheusRulesErrors(t *testing.T) {
	ttft := TTFT(500*time.Millisecond, 0.99)
	tests := []struct {
		name string
		opts RulesOptions
		objs []Objective
		want string
	}{
		{"no service", RulesOptions{}, []Objective{ttft}, "service name required"},
		{"no objectives", RulesOptions{Service: "s"}, nil, "no objectives"},
		{"duplicate", RulesOptions{Service: "s"}, []Objective{ttft, ttft}, "two objectives named"},
		{"invalid objective", RulesOptions{Service: "s"}, []Objective{TTFT(0, 0.99)}, "the threshold must be a positive time.Duration"},
		{"zero objective", RulesOptions{Service: "s"}, []Objective{{}}, "zero value"},
		{"bad target", RulesOptions{Service: "s"}, []Objective{ErrorRate(1)}, "the target is a fraction in (0, 1)"},
		{"period not hours", RulesOptions{Service: "s", Period: 90 * time.Minute}, []Objective{ttft}, "whole number of hours"},
		{"selector braces", RulesOptions{Service: "s", Selector: `{job="x"}`}, []Objective{ttft}, "without braces"},
		{"negative minimum", RulesOptions{Service: "s", MinEvents: -1}, []Objective{ttft}, "negative minimum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := PrometheusRulesWith(tt.opts, tt.objs...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if b != nil {
				t.Errorf("got %d bytes with an error", len(b))
			}
		})
	}
}

// gwRules generates and parses the rules of two objectives of service gw,
// with a selector and a 7-day period.
func gwRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := PrometheusRulesWith(RulesOptions{Service: "gw", Selector: `job="gw"`, Period: 7 * 24 * time.Hour},
		ErrorRate(0.999), TTFT(300*time.Millisecond, 0.95).Named("fast"))
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, b)
	}
	return f
}

func TestPrometheusRulesStructure(t *testing.T) {
	f := gwRules(t)
	type rule struct{ Kind, Name string }
	var got []string
	names := map[string][]rule{}
	for _, g := range f.Groups {
		got = append(got, g.Name)
		for _, r := range g.Rules {
			if r.Record != "" {
				names[g.Name] = append(names[g.Name], rule{"record", r.Record})
			} else {
				names[g.Name] = append(names[g.Name], rule{"alert", r.Alert})
			}
		}
	}
	wantGroups := []string{
		"llmslo-sli-recordings-gw-error_rate_p99.9", "llmslo-meta-recordings-gw-error_rate_p99.9", "llmslo-alerts-gw-error_rate_p99.9",
		"llmslo-sli-recordings-gw-fast", "llmslo-meta-recordings-gw-fast", "llmslo-alerts-gw-fast",
		"llmslo-goodput-recordings-gw",
		"llmslo-prompt-cache-recordings-gw",
		"llmslo-health",
	}
	if diff := cmp.Diff(wantGroups, got); diff != "" {
		t.Fatalf("groups (-want +got):\n%s", diff)
	}
	wantSLI := []rule{
		{"record", "slo:sli_error:ratio_rate5m"}, {"record", "slo:sli_error:ratio_rate30m"}, {"record", "slo:sli_error:ratio_rate1h"},
		{"record", "slo:sli_error:ratio_rate2h"}, {"record", "slo:sli_error:ratio_rate6h"}, {"record", "slo:sli_error:ratio_rate1d"},
		{"record", "slo:sli_error:ratio_rate3d"}, {"record", "slo:sli_error:ratio_rate7d"},
		{"record", "slo:sli_error_by_instance:ratio_rate5m"},
	}
	if diff := cmp.Diff(wantSLI, names["llmslo-sli-recordings-gw-fast"]); diff != "" {
		t.Errorf("SLI recordings (-want +got):\n%s", diff)
	}
	wantMeta := []rule{
		{"record", "slo:objective:ratio"}, {"record", "slo:error_budget:ratio"}, {"record", "slo:time_period:days"},
		{"record", "slo:current_burn_rate:ratio"}, {"record", "slo:period_burn_rate:ratio"},
		{"record", "slo:period_error_budget_remaining:ratio"}, {"record", "sloth_slo_info"},
	}
	if diff := cmp.Diff(wantMeta, names["llmslo-meta-recordings-gw-fast"]); diff != "" {
		t.Errorf("meta recordings (-want +got):\n%s", diff)
	}
	wantAlerts := []rule{{"alert", "LLMSLOBurnRatePage"}, {"alert", "LLMSLOBurnRateTicket"}}
	if diff := cmp.Diff(wantAlerts, names["llmslo-alerts-gw-fast"]); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// TestPrometheusRulesExpressions checks generated expressions against
// hand-written ones: budget 1-0.95 = 0.05, thresholds 14.4·0.05, 6·0.05, 1·0.05.
func TestPrometheusRulesExpressions(t *testing.T) {
	f := gwRules(t)
	fast := f.Groups[3].Rules[0]
	wantExpr := "(sum(rate(llm_slo_requests_total{objective=\"fast\",good=\"false\",job=\"gw\"}[5m])) or on() vector(0))\n/\n" +
		"sum(rate(llm_slo_requests_total{objective=\"fast\",job=\"gw\"}[5m]))"
	if diff := cmp.Diff(wantExpr, fast.Expr); diff != "" {
		t.Errorf("5m ratio expr (-want +got):\n%s", diff)
	}
	wantLabels := map[string]string{"objective": "fast", "sloth_id": "gw-fast", "sloth_service": "gw", "sloth_slo": "fast", "sloth_window": "5m"}
	if diff := cmp.Diff(wantLabels, fast.Labels); diff != "" {
		t.Errorf("5m ratio labels (-want +got):\n%s", diff)
	}
	page := f.Groups[5].Rules[0]
	for _, want := range []string{
		`max(slo:sli_error:ratio_rate5m{sloth_id="gw-fast"} > (14.4 * 0.05)) without (sloth_window)`,
		`max(slo:sli_error:ratio_rate1h{sloth_id="gw-fast"} > (14.4 * 0.05)) without (sloth_window)`,
		`max(slo:sli_error:ratio_rate30m{sloth_id="gw-fast"} > (6 * 0.05)) without (sloth_window)`,
		`max(slo:sli_error:ratio_rate6h{sloth_id="gw-fast"} > (6 * 0.05)) without (sloth_window)`,
	} {
		if !strings.Contains(page.Expr, want) {
			t.Errorf("page expr lacks %q:\n%s", want, page.Expr)
		}
	}
	if page.Labels["severity"] != "page" {
		t.Errorf("page severity = %q", page.Labels["severity"])
	}
	ticket := f.Groups[5].Rules[1]
	// Minimum requests at 95 %: ⌈1/(14.4·0.05)⌉ = 2, ⌈1/(6·0.05)⌉ = 4, ⌈1/0.05⌉ = 20.
	for _, want := range []string{
		"and on ()\n  sum(increase(llm_slo_requests_total{objective=\"fast\",job=\"gw\"}[1h])) >= 2\n)",
		"and on ()\n  sum(increase(llm_slo_requests_total{objective=\"fast\",job=\"gw\"}[6h])) >= 4\n)",
	} {
		if !strings.Contains(page.Expr, want) {
			t.Errorf("page expr lacks %q:\n%s", want, page.Expr)
		}
	}
	for _, want := range []string{
		`max(slo:sli_error:ratio_rate6h{sloth_id="gw-fast"} > (1 * 0.05)) without (sloth_window)`,
		`max(slo:sli_error:ratio_rate3d{sloth_id="gw-fast"} > (1 * 0.05)) without (sloth_window)`,
		"sum(increase(llm_slo_requests_total{objective=\"fast\",job=\"gw\"}[3d])) >= 20\n)",
	} {
		if !strings.Contains(ticket.Expr, want) {
			t.Errorf("ticket expr lacks %q:\n%s", want, ticket.Expr)
		}
	}
	meta := map[string]string{}
	for _, r := range f.Groups[1].Rules {
		meta[r.Record] = r.Expr
	}
	for rec, want := range map[string]string{
		"slo:objective:ratio":    "vector(0.999)",
		"slo:error_budget:ratio": "vector(0.001)", // not 0.0010000000000000009
		"slo:time_period:days":   "vector(7)",
	} {
		if meta[rec] != want {
			t.Errorf("%s = %q, want %q", rec, meta[rec], want)
		}
	}
}

// TestPrometheusRulesAlertRulesInSync: the generated alerts use exactly the
// conditions the tracker evaluates in process.
func TestPrometheusRulesAlertRulesInSync(t *testing.T) {
	b, err := PrometheusRules("s", ErrorRate(0.99))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range burn.DefaultRules() {
		for _, w := range []time.Duration{r.Long, r.Short} {
			want := fmt.Sprintf("slo:sli_error:ratio_rate%s{sloth_id=\"s-error_rate_p99\"} > (%s * 0.01)", burn.WindowName(w), promFloat(r.Factor))
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("rule %q: output lacks %q", r, want)
			}
		}
	}
}

// TestPrometheusRulesMinEvents: a fixed minimum replaces every rule's own;
// a minimum of 1 writes no condition.
func TestPrometheusRulesMinEvents(t *testing.T) {
	for _, tc := range []struct {
		min  int
		want []string
	}{
		{0, []string{"[1h])) >= 7", "[6h])) >= 17", "[3d])) >= 100"}},
		{25, []string{"[1h])) >= 25", "[6h])) >= 25", "[3d])) >= 25"}},
		{1, nil},
	} {
		b, err := PrometheusRulesWith(RulesOptions{Service: "s", MinEvents: tc.min}, ErrorRate(0.99))
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("sum(increase(")); n != len(tc.want) {
			t.Errorf("MinEvents %d: %d minimum conditions, want %d", tc.min, n, len(tc.want))
		}
		for _, w := range tc.want {
			if !bytes.Contains(b, []byte(w)) {
				t.Errorf("MinEvents %d: output lacks %q", tc.min, w)
			}
		}
	}
}

func TestErrorBudget(t *testing.T) {
	for target, want := range map[float64]string{0.999: "0.001", 0.99: "0.01", 0.95: "0.05", 0.9999: "0.0001", 0.5: "0.5"} {
		if got := promFloat(burn.ErrorBudget(target)); got != want {
			t.Errorf("ErrorBudget(%v) = %s, want %s", target, got, want)
		}
	}
}

// promtool returns the path of promtool, skipping the test when it is absent
// outside CI; with CI or SLO_REQUIRE_BPF set a missing promtool is a failure.
func promtool(t *testing.T) string {
	t.Helper()
	return promtest.Binary(t, "promtool")
}

// TestPromptCacheRuleExpression checks the prompt-cache recording against a
// hand-written expression: the options' selector in both sums, by model.
func TestPromptCacheRuleExpression(t *testing.T) {
	f := gwRules(t)
	want := "sum by (gen_ai_request_model) (rate(llm_slo_server_token_usage_tokens_sum{gen_ai_token_type=\"cache_read\",job=\"gw\"}[5m]))\n/\n" +
		"sum by (gen_ai_request_model) (rate(llm_slo_server_token_usage_tokens_sum{gen_ai_token_type=\"input\",job=\"gw\"}[5m]))"
	found := 0
	for _, g := range f.Groups {
		if g.Name != "llmslo-prompt-cache-recordings-gw" {
			continue
		}
		found++
		if len(g.Rules) != 1 || g.Rules[0].Record != "slo:prompt_cache_hit:ratio_rate5m" {
			t.Fatalf("prompt-cache group holds %+v", g.Rules)
		}
		if diff := cmp.Diff(want, g.Rules[0].Expr); diff != "" {
			t.Errorf("expr (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"sloth_service": "gw", "sloth_window": "5m"}, g.Rules[0].Labels); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
	}
	if found != 1 {
		t.Fatalf("%d prompt-cache groups, want 1", found)
	}
}

// TestPromtoolCheckRules validates generated rules, and the committed
// deploy/prometheus/rules.yaml, with `promtool check rules`.
func TestPromtoolCheckRules(t *testing.T) {
	bin := promtool(t)
	b, err := PrometheusRulesWith(RulesOptions{Service: "gw", Selector: `job="gw",namespace="prod"`},
		TTFT(500*time.Millisecond, 0.99), TPOT(50*time.Millisecond, 0.99), Latency(5*time.Second, 0.995),
		TokensPerSecond(20, 0.9), ErrorRate(0.999), ErrorRate(0.9999).ForRoute("/chat").Named("chat \"errors\""))
	if err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(t.TempDir(), "generated.yaml")
	if err := os.WriteFile(gen, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{gen, filepath.Join("deploy", "prometheus", "rules.yaml")} {
		out, err := exec.CommandContext(t.Context(), bin, "check", "rules", f).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check rules %s: %v\n%s", f, err, out)
		}
	}
}

// TestPromtoolTestRules runs the unit tests of deploy/prometheus/tests.yaml:
// recorded request counters in, page and ticket alerts expected to fire or
// stay quiet.
func TestPromtoolTestRules(t *testing.T) {
	bin := promtool(t)
	out, err := exec.CommandContext(t.Context(), bin, "test", "rules", filepath.Join("deploy", "prometheus", "tests.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("SUCCESS")) {
		t.Fatalf("promtool test rules printed no SUCCESS:\n%s", out)
	}
}

func ExamplePrometheusRules() {
	rules, err := PrometheusRules("rag-service", TTFT(500*time.Millisecond, 0.99), ErrorRate(0.999))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Write rules to a file that Prometheus loads (rule_files) or wrap it in
	// a PrometheusRule custom resource. Here: list what was generated.
	var f ruleFile
	_ = yaml.Unmarshal(rules, &f)
	for _, g := range f.Groups {
		fmt.Println(g.Name, len(g.Rules))
	}
	// Output:
	// llmslo-sli-recordings-rag-service-ttft_500ms_p99 9
	// llmslo-meta-recordings-rag-service-ttft_500ms_p99 7
	// llmslo-alerts-rag-service-ttft_500ms_p99 2
	// llmslo-sli-recordings-rag-service-error_rate_p99.9 9
	// llmslo-meta-recordings-rag-service-error_rate_p99.9 7
	// llmslo-alerts-rag-service-error_rate_p99.9 2
	// llmslo-goodput-recordings-rag-service 3
	// llmslo-prompt-cache-recordings-rag-service 1
	// llmslo-health 7
}
