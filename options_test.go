package slo

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestBadOptions: every invalid option value makes New fail with an error
// naming the option (or the objective's constructor), the value and what is
// accepted; several invalid values are all reported.
func TestBadOptions(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"ttft in ns", []Option{WithObjectives(TTFT(500, 0.99))},
			"slo: TTFT(500ns, 0.99): a threshold of 500ns is almost surely a unit mistake (the least accepted is 1ms): did you mean 500*time.Millisecond?"},
		{"ttft under 1ms", []Option{WithObjectives(TTFT(500*time.Microsecond, 0.99))},
			"slo: TTFT(500µs, 0.99): a threshold of 500µs is below the least accepted, 1ms"},
		{"latency in ns", []Option{WithObjectives(Latency(2000, 0.9))},
			"slo: Latency(2µs, 0.9): a threshold of 2µs is below the least accepted, 1ms"},
		{"tpot in ns", []Option{WithObjectives(TPOT(50, 0.99))},
			"slo: TPOT(50ns, 0.99): a threshold of 50ns is almost surely a unit mistake (the least accepted is 100µs): did you mean 50*time.Millisecond?"},
		{"tpot under 100µs", []Option{WithObjectives(TPOT(50*time.Microsecond, 0.99))},
			"slo: TPOT(50µs, 0.99): a threshold of 50µs is below the least accepted, 100µs"},
		{"zero threshold", []Option{WithObjectives(Latency(0, 0.9))},
			"slo: Latency(0s, 0.9): the threshold must be a positive time.Duration, e.g. 500*time.Millisecond"},
		{"negative threshold", []Option{WithObjectives(TTFT(-time.Second, 0.9))},
			"slo: TTFT(-1s, 0.9): the threshold must be a positive time.Duration, e.g. 500*time.Millisecond"},
		{"target as percent", []Option{WithObjectives(TTFT(500*ms, 99))},
			"slo: TTFT(500ms, 99): the target is a fraction in (0, 1), not a percentage: did you mean 0.99?"},
		{"target 99.9 percent", []Option{WithObjectives(ErrorRate(99.9))},
			"slo: ErrorRate(99.9): the target is a fraction in (0, 1), not a percentage: did you mean 0.999?"},
		{"target 1", []Option{WithObjectives(ErrorRate(1))},
			"slo: ErrorRate(1): the target is a fraction in (0, 1), e.g. 0.99 for 99% of requests good"},
		{"target 0", []Option{WithObjectives(TPOT(50*ms, 0))},
			"slo: TPOT(50ms, 0): the target is a fraction in (0, 1), e.g. 0.99 for 99% of requests good"},
		{"target NaN", []Option{WithObjectives(TTFT(time.Second, math.NaN()))},
			"slo: TTFT(1s, NaN): the target is a fraction in (0, 1), e.g. 0.99 for 99% of requests good"},
		{"target 100", []Option{WithObjectives(ErrorRate(100))},
			"slo: ErrorRate(100): the target is a fraction in (0, 1), e.g. 0.99 for 99% of requests good"},
		{"ten nines", []Option{WithObjectives(ErrorRate(0.9999999999))},
			"slo: ErrorRate(0.9999999999): the target leaves an error budget (1 − target) of 1e-10, below the smallest the burn-rate arithmetic keeps exact, 1e-09 (a target of at most 0.999999999)"},
		{"tokens/s +Inf", []Option{WithObjectives(TokensPerSecond(math.Inf(1), 0.99))},
			"slo: TokensPerSecond(+Inf, 0.99): the minimum decode rate must be a finite number of tokens/s above 0"},
		{"tokens/s NaN", []Option{WithObjectives(TokensPerSecond(math.NaN(), 0.99))},
			"slo: TokensPerSecond(NaN, 0.99): the minimum decode rate must be a finite number of tokens/s above 0"},
		{"tokens/s 0", []Option{WithObjectives(TokensPerSecond(0, 0.9))},
			"slo: TokensPerSecond(0, 0.9): the minimum decode rate must be a finite number of tokens/s above 0"},
		{"tokens/s negative", []Option{WithObjectives(TokensPerSecond(-20, 0.9))},
			"slo: TokensPerSecond(-20, 0.9): the minimum decode rate must be a finite number of tokens/s above 0"},
		{"empty name", []Option{WithObjectives(ErrorRate(0.99).Named(""))},
			`slo: ErrorRate(0.99).Named(""): the name must not be empty`},
		{"no route", []Option{WithObjectives(TTFT(500*ms, 0.99).ForRoute())},
			`slo: TTFT(500ms, 0.99).ForRoute(): no route given; give ServeMux patterns such as "/v1/chat/completions" or "POST /v1/chat/completions"`},
		{"empty route", []Option{WithObjectives(TTFT(500*ms, 0.99).ForRoute(""))},
			`slo: TTFT(500ms, 0.99).ForRoute(""): not a route; give ServeMux patterns such as "/v1/chat/completions" or "POST /v1/chat/completions"`},
		{"route without slash", []Option{WithObjectives(TTFT(500*ms, 0.99).Named("chat").ForRoute("/v1/chat", "POST chat"))},
			`slo: TTFT(500ms, 0.99).Named("chat").ForRoute("POST chat"): not a route; give ServeMux patterns such as "/v1/chat/completions" or "POST /v1/chat/completions"`},
		{"no model", []Option{WithObjectives(ErrorRate(0.99).ForModel())},
			"slo: ErrorRate(0.99).ForModel(): no model given"},
		{"empty model", []Option{WithObjectives(ErrorRate(0.99).ForModel("gpt-4o", ""))},
			`slo: ErrorRate(0.99).ForModel(""): a model name must not be empty`},
		{"zero objective", []Option{WithObjectives(Objective{})},
			"slo: Objective{}: the zero value judges nothing; build one with TTFT, TPOT, Latency, TokensPerSecond or ErrorRate"},
		{"duplicate", []Option{WithObjectives(ErrorRate(0.9), ErrorRate(0.9))},
			`slo: two objectives named "error_rate_p90"; use Objective.Named`},
		{"negative period", []Option{WithBudgetPeriod(-time.Hour)},
			"slo: WithBudgetPeriod(-1h0m0s): the budget period must be from 1h0m0s to 8784h0m0s (366 days)"},
		{"period of a minute", []Option{WithBudgetPeriod(time.Minute)},
			"slo: WithBudgetPeriod(1m0s): the budget period must be from 1h0m0s to 8784h0m0s (366 days)"},
		{"zero period", []Option{WithBudgetPeriod(0)},
			"slo: WithBudgetPeriod(0s): the budget period must be from 1h0m0s to 8784h0m0s (366 days)"},
		{"period over a year", []Option{WithBudgetPeriod(400 * 24 * time.Hour)},
			"slo: WithBudgetPeriod(9600h0m0s): the budget period must be from 1h0m0s to 8784h0m0s (366 days)"},
		{"all reported", []Option{WithBudgetPeriod(time.Minute), WithObjectives(TTFT(500, 0.99), ErrorRate(0.999))},
			"slo: WithBudgetPeriod(1m0s): the budget period must be from 1h0m0s to 8784h0m0s (366 days)\n" +
				"slo: TTFT(500ns, 0.99): a threshold of 500ns is almost surely a unit mistake (the least accepted is 1ms): did you mean 500*time.Millisecond?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := New(append([]Option{WithoutProbes()}, tc.opts...)...)
			if err == nil {
				tr.Close()
				t.Fatalf("New accepted it; want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %q\nwant %q", err, tc.want)
			}
			if tr != nil {
				t.Errorf("New returned a tracker with its error")
			}
		})
	}
}

// TestSecondTrackerSameRegistry: a second Tracker on the registry of a first
// one still open is refused with an error that says so and how to fix it;
// once the first is closed, the second is accepted.
func TestSecondTrackerSameRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := New(WithoutProbes(), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(WithoutProbes(), WithRegisterer(reg))
	const want = "slo: WithRegisterer: the registerer already holds gen_ai_server_time_to_first_token_seconds, probably from another Tracker: " +
		"give each Tracker its own registry (WithRegisterer(prometheus.NewRegistry())), or Close the other Tracker first (Close unregisters its metrics): " +
		"duplicate metrics collector registration attempted"
	if err == nil || err.Error() != want {
		t.Fatalf("second tracker: %v\nwant %s", err, want)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := New(WithoutProbes(), WithRegisterer(reg))
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	second.Close()
}

// TestValidOptionsAccepted: the edges of what is accepted, and objective
// names keep every digit of the target.
func TestValidOptionsAccepted(t *testing.T) {
	objs := []Objective{
		TTFT(time.Millisecond, 0.99), TPOT(100*time.Microsecond, 0.5), Latency(time.Hour, 0.9995),
		TokensPerSecond(0.5, 0.05), ErrorRate(0.999999999), ErrorRate(0.001),
		TTFT(time.Second, 0.9).ForRoute("/v1/chat/completions", "POST /chat").ForModel("m").Named("chat"),
	}
	tr, err := New(WithoutProbes(), WithObjectives(objs...), WithBudgetPeriod(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if tr, err = New(WithoutProbes(), WithBudgetPeriod(366*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	want := []string{"ttft_1ms_p99", "tpot_100µs_p50", "latency_1h0m0s_p99.95", "tokens_per_sec_0.5_p5",
		"error_rate_p99.9999999", "error_rate_p0.1", "chat"}
	for i, o := range objs {
		if o.Name() != want[i] {
			t.Errorf("objective %d: Name() = %q, want %q", i, o.Name(), want[i])
		}
	}
	rules, err := PrometheusRules("s", ErrorRate(0.999999999))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rules), `sloth_objective: "99.9999999"`) {
		t.Errorf("the rules do not carry the target with every digit:\n%s", rules)
	}
}
