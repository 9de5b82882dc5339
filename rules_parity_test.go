package slo

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/llmslo/slo/internal/burn"
)

// A parity scenario is a synthetic request series of one objective: per
// minute, a number of requests and how many of them are bad. The requests
// of minute m complete at m:30; both sides evaluate at every whole minute.
type parityScenario struct {
	name   string
	target float64
	phases []parityPhase
	fires  []string // the rules the engine fires on, in order
}

type parityPhase struct{ minutes, total, bad int }

// perMinute expands the phases into one (total, bad) pair per minute.
func (sc parityScenario) perMinute() (total, bad []int) {
	for _, p := range sc.phases {
		for range p.minutes {
			total, bad = append(total, p.total), append(bad, p.bad)
		}
	}
	return total, bad
}

// paritySeverities are the severities compared, in alert order.
var paritySeverities = []burn.Severity{burn.Page, burn.Ticket}

// parityScenarios cross every rule of the standard set, and the minimum of
// requests of the 1h rule, each scenario shorter than six hours, so that
// the longer windows hold the whole series on both sides and the crossings
// of the 1h window are steep (at whole minutes the engine's 1h window is the
// last 60 minutes, as Prometheus's range is: see package burn).
var parityScenarios = []parityScenario{
	{"fast", 0.99, []parityPhase{ // a ticket, escalated to a page on 1h/5m, a fall to ticket, a page on 6h/30m
		{120, 100, 0}, {60, 100, 30}, {120, 100, 0}, {40, 100, 50}, {20, 100, 0},
	}, []string{"3d>1 and 6h>1", "1h>14.4 and 5m>14.4", "6h>6 and 30m>6"}},
	{"slow", 0.99, []parityPhase{ // a page on 6h/30m (1h stays under 14.4), cleared, and again
		{90, 100, 10}, {60, 100, 0}, {40, 100, 12}, {60, 100, 0},
	}, []string{"6h>6 and 30m>6", "6h>6 and 30m>6"}},
	{"ticket", 0.999, []parityPhase{ // a ticket, cleared as the 6h ratio falls
		{30, 210, 0}, {45, 210, 1}, {160, 210, 0},
	}, []string{"3d>1 and 6h>1"}},
	{"blip", 0.99, []parityPhase{ // 5m over every factor for two minutes, nothing else: no alert
		{240, 100, 0}, {2, 100, 60}, {60, 100, 0},
	}, nil},
	// Sparse traffic (99.9 %: the 1h rule wants 70 requests, the 6h one
	// 167): a burst of failures at one request a minute burns far over
	// every factor, but the 1h window holds 60 + 30 requests at most, 90 over
	// 6h: nothing. When traffic rises to five a minute, one of them bad, the
	// 1h window passes 70 requests three minutes in (57 + 15 = 72): page.
	{"sparse", 0.999, []parityPhase{
		{60, 1, 0}, {30, 1, 1}, {40, 5, 1}, {60, 5, 0},
	}, []string{"1h>14.4 and 5m>14.4"}},
}

// engineStates runs sc through the alert engine the tracker uses, with the
// tracker's default gate, and returns, per whole minute k (evaluation at k
// minutes), whether each severity's condition holds, and the minutes and
// severities at which an alert fired. The series counts as observed for a
// whole period before start (no coverage limit): Prometheus knows nothing
// of coverage, and the counters start as after a long uptime.
func engineStates(t *testing.T, sc parityScenario, start time.Time) (holds []map[burn.Severity]bool, fired map[int]burn.Alert) {
	t.Helper()
	o, err := newObjState(ErrorRate(sc.target), 0, 0, burn.DefaultGate())
	if err != nil {
		t.Fatal(err)
	}
	o.series.Start(start.Add(-burn.DefaultPeriod))
	total, bad := sc.perMinute()
	fired = map[int]burn.Alert{}
	for k := 0; k <= len(total); k++ {
		if k > 0 {
			at := start.Add(time.Duration(k-1)*time.Minute + 30*time.Second)
			for i := range total[k-1] {
				o.series.Add(at, i >= bad[k-1])
			}
		}
		if a, ok := o.alerts.Fire(start.Add(time.Duration(k) * time.Minute)); ok {
			fired[k] = a
		}
		h := map[burn.Severity]bool{}
		for r := range o.alerts.Holding() {
			h[r.Severity] = true
		}
		holds = append(holds, h)
	}
	return holds, fired
}

// TestRulesAgreeWithPrometheus generates the Prometheus rules and evaluates
// the same series in process, through the engine, and in Prometheus, with
// `promtool test rules`: at every evaluation more than one step away from a
// change of the engine's state, each severity's Prometheus alert fires
// exactly when the engine's condition of that severity holds. Each alert
// therefore starts and stops firing within one evaluation step of the
// engine; and the engine fires a page exactly when its page condition starts
// to hold, a ticket when its ticket condition does while nothing held.
func TestRulesAgreeWithPrometheus(t *testing.T) {
	bin := promtool(t)
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var objs []Objective
	for _, sc := range parityScenarios {
		objs = append(objs, ErrorRate(sc.target).Named(sc.name))
	}
	rules, err := PrometheusRules("parity", objs...)
	if err != nil {
		t.Fatal(err)
	}
	var tests []promtoolTest
	for _, sc := range parityScenarios {
		holds, fired := engineStates(t, sc, start)
		checkParityScenario(t, sc, holds, fired)
		tests = append(tests, promtoolCase(t, rules, sc, holds))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := yaml.Marshal(map[string]any{"rule_files": []string{"rules.yaml"}, "evaluation_interval": "1m", "tests": tests})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tests.yaml"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "test", "rules", filepath.Join(dir, "tests.yaml")).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("SUCCESS")) {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// checkParityScenario checks what the comparison rests on: the engine's
// state changes at least three steps apart (so no transition hides between
// the skipped evaluations), a page fired at each onset of the page
// condition, a ticket at each onset of the ticket condition while nothing
// held, and no other alert. It logs the transitions.
func checkParityScenario(t *testing.T, sc parityScenario, holds []map[burn.Severity]bool, fired map[int]burn.Alert) {
	t.Helper()
	var log []string
	for _, sev := range paritySeverities {
		last := -3
		for k := 1; k < len(holds); k++ {
			if holds[k][sev] == holds[k-1][sev] {
				continue
			}
			if k-last < 3 {
				t.Errorf("%s: %s condition changes at minutes %d and %d: too close to compare within a step", sc.name, sev, last, k)
			}
			last = k
			log = append(log, fmt.Sprintf("%s %v at %dm", sev, holds[k][sev], k))
		}
	}
	var rules []string
	for k := 0; k < len(holds); k++ {
		a, ok := fired[k]
		var want burn.Severity
		switch {
		case k == 0:
		case holds[k][burn.Page] && !holds[k-1][burn.Page]:
			want = burn.Page
		case holds[k][burn.Ticket] && !holds[k][burn.Page] && len(holds[k-1]) == 0:
			want = burn.Ticket
		}
		if a.Severity != want {
			t.Errorf("%s: at %dm the engine fired %v, want %v", sc.name, k, a.Severity, want)
		}
		if ok {
			rules = append(rules, a.Rule.String())
			log = append(log, fmt.Sprintf("fired %s at %dm", a.Rule, k))
		}
	}
	if fmt.Sprint(rules) != fmt.Sprint(sc.fires) {
		t.Errorf("%s: the engine fired on %q, the scenario is written for %q", sc.name, rules, sc.fires)
	}
	t.Logf("%s: %s", sc.name, strings.Join(log, ", "))
}

// promtoolTest is one test group of a promtool rule test file.
type promtoolTest struct {
	Interval    string          `yaml:"interval"`
	InputSeries []promtoolInput `yaml:"input_series"`
	AlertTests  []promtoolAlert `yaml:"alert_rule_test"`
}

type promtoolInput struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type promtoolAlert struct {
	EvalTime  string             `yaml:"eval_time"`
	AlertName string             `yaml:"alertname"`
	ExpAlerts []promtoolExpAlert `yaml:"exp_alerts"`
}

type promtoolExpAlert struct {
	Labels      map[string]string `yaml:"exp_labels"`
	Annotations map[string]string `yaml:"exp_annotations"`
}

// promtoolCase writes sc as a promtool test group: the counters the tracker
// exports (starting high, as after a long uptime, so that Prometheus's
// extrapolation treats both alike), and the engine's state at every
// evaluation that is not within one step of a change of it.
func promtoolCase(t *testing.T, rules []byte, sc parityScenario, holds []map[burn.Severity]bool) promtoolTest {
	t.Helper()
	total, bad := sc.perMinute()
	goodVals, badVals := []string{}, []string{}
	var g, b int64 = 1_000_000, 1_000_000
	for m := 0; m <= len(total); m++ {
		if m > 0 {
			g, b = g+int64(total[m-1]-bad[m-1]), b+int64(bad[m-1])
		}
		goodVals, badVals = append(goodVals, strconv.FormatInt(g, 10)), append(badVals, strconv.FormatInt(b, 10))
	}
	series := func(good string) string {
		return fmt.Sprintf("llm_slo_requests_total{objective=%q,good=%q}", sc.name, good)
	}
	tc := promtoolTest{Interval: "1m", InputSeries: []promtoolInput{
		{series("true"), strings.Join(goodVals, " ")}, {series("false"), strings.Join(badVals, " ")},
	}}
	for _, sev := range paritySeverities {
		exp := expectedAlert(t, rules, sc.name, sev)
		for k := 1; k+1 < len(holds); k++ {
			if holds[k-1][sev] != holds[k][sev] || holds[k][sev] != holds[k+1][sev] {
				continue // within one step of a change
			}
			at := promtoolAlert{EvalTime: strconv.Itoa(k) + "m", AlertName: alertName(sev), ExpAlerts: []promtoolExpAlert{}}
			if holds[k][sev] {
				at.ExpAlerts = append(at.ExpAlerts, exp)
			}
			tc.AlertTests = append(tc.AlertTests, at)
		}
	}
	return tc
}

// expectedAlert is the firing alert of severity sev for objective in the
// generated rules: the rule's labels, the expression's, and its annotations.
func expectedAlert(t *testing.T, rules []byte, objective string, sev burn.Severity) promtoolExpAlert {
	t.Helper()
	var f ruleFile
	if err := yaml.Unmarshal(rules, &f); err != nil {
		t.Fatal(err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == alertName(sev) && r.Labels["objective"] == objective {
				return promtoolExpAlert{Labels: r.Labels, Annotations: r.Annotations}
			}
		}
	}
	t.Fatalf("no %s alert for %s in the generated rules", sev, objective)
	return promtoolExpAlert{}
}
