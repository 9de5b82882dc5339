package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo"
	"github.com/llmslo/slo/semconv"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite deploy/prometheus/rules.yaml")

// TestRulesUpToDate regenerates deploy/prometheus/rules.yaml from the
// service's objectives and diffs it with the committed file (-update rewrites it).
func TestRulesUpToDate(t *testing.T) {
	want, err := slo.PrometheusRules(serviceName, objectives()...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "deploy", "prometheus", "rules.yaml")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s is stale; run `go test ./examples/rag-service -run TestRulesUpToDate -update` (-generated +committed):\n%s", path, diff)
	}
	var out bytes.Buffer
	if err := run([]string{"-rules"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Error("-rules prints something else than slo.PrometheusRules")
	}
}

// TestGrafanaDashboard checks that the dashboard is valid JSON and queries
// only metrics the service exports or the generated rules record.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "llmslo-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) < 6 {
		t.Fatalf("dashboard: title %q uid %q, %d panels", d.Title, d.UID, len(d.Panels))
	}
	rules, err := slo.PrometheusRules(serviceName, objectives()...)
	if err != nil {
		t.Fatal(err)
	}
	a := startTestApp(t)
	streamMany(t, a, 5, 5)
	waitRequests(t, a, 5)
	mfs := scrape(t, a.URL())
	known := map[string]bool{}
	for name := range mfs {
		known[name] = true
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			known[name+suffix] = true
		}
	}
	for _, m := range regexp.MustCompile(`(?m)(?:record|alert): (\S+)`).FindAllSubmatch(rules, -1) {
		known[string(m[1])] = true
	}
	known["ALERTS"] = true
	// Exported only while an slo-sidecar is in use or the probes are loaded.
	known[semconv.PromSidecarConnected], known[semconv.PromProbeOverhead] = true, true
	// The goodput panels: the counters in process, the ratio and the rates
	// the rules record; the per-instance breakdown and the prompt-cache hit
	// ratio the rules record.
	for _, want := range []string{"llm_slo_goodput_requests_total", "llm_slo_goodput_tokens_total", "slo:goodput:ratio_rate5m",
		"slo:goodput_requests:rate5m", "slo:goodput_tokens:rate5m", "slo:sli_error_by_instance:ratio_rate5m",
		"slo:prompt_cache_hit:ratio_rate5m"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("dashboard: no panel queries %s", want)
		}
	}
	metric := regexp.MustCompile(`\b(llm_slo_[a-z_]+|gen_ai_[a-z_]+|slo:[a-z_:0-9]+|sloth_slo_info|ALERTS)\b`)
	// Label names (in matchers and by/without clauses) are not metrics.
	labels := regexp.MustCompile(`\b[a-z_]+\s*(?:=~|!~|!=|=)|\b(?:by|without)\s*\([^)]*\)`)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			names := metric.FindAllString(labels.ReplaceAllString(tg.Expr, ""), -1)
			if len(names) == 0 && tg.Expr != "" {
				t.Errorf("panel %q: query %q uses no known metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !known[n] {
					t.Errorf("panel %q: metric %s is neither exported nor recorded", p.Title, n)
				}
			}
		}
	}
}

func TestVectorStoreSearch(t *testing.T) {
	s := newVectorStore(corpus)
	tests := []struct{ query, want string }{
		{"What is time to first token?", "ttft"},
		{"What does a burn rate of 30 mean?", "burn"},
		{"provider answered 429 too many requests", "throttle"},
		{"How do vector stores find documents?", "vector"},
		{"CFS quota throttled container", "cfs"},
	}
	for _, tt := range tests {
		hits := s.search(tt.query, 3)
		if len(hits) != 3 {
			t.Fatalf("%q: %d hits", tt.query, len(hits))
		}
		if hits[0].ID != tt.want {
			t.Errorf("%q: top hit %s (%.3f), want %s; hits %s %s", tt.query, hits[0].ID, hits[0].Score, tt.want, hits[1].ID, hits[2].ID)
		}
		if !(hits[0].Score >= hits[1].Score && hits[1].Score >= hits[2].Score) {
			t.Errorf("%q: hits not sorted", tt.query)
		}
	}
	// Embeddings are unit vectors: self-similarity 1.
	v := embed("time to first token")
	if got := dot(v, v); math.Abs(got-1) > 1e-6 {
		t.Errorf("|v|² = %v, want 1", got)
	}
}

func TestHistQuantile(t *testing.T) {
	inf := math.Inf(1)
	// 10 observations: 4 in (0, 0.1], 4 in (0.1, 0.2], 2 in (0.2, 0.5].
	h := hist{bounds: []float64{0.1, 0.2, 0.5, inf}, cum: []uint64{4, 8, 10, 10}}
	tests := []struct{ q, want float64 }{
		{0.2, 0.05},  // rank 2 of 4 in the first bucket: 0 + 0.1·2/4
		{0.5, 0.125}, // rank 5: first of the second bucket: 0.1 + 0.1·1/4
		{0.8, 0.2},   // rank 8: top of the second bucket
		{0.9, 0.35},  // rank 9: 0.2 + 0.3·1/2
		{0.99, 0.485},
	}
	for _, tt := range tests {
		if got := h.quantile(tt.q); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	// In the +Inf bucket: the highest finite bound, as histogram_quantile.
	over := hist{bounds: []float64{0.1, inf}, cum: []uint64{1, 10}}
	if got := over.quantile(0.9); got != 0.1 {
		t.Errorf("+Inf bucket: %v, want 0.1", got)
	}
	if got := (hist{}).quantile(0.5); !math.IsNaN(got) {
		t.Errorf("empty: %v, want NaN", got)
	}
	d := h.sub(hist{bounds: h.bounds, cum: []uint64{4, 4, 4, 4}})
	if diff := cmp.Diff([]uint64{0, 4, 6, 6}, d.cum); diff != "" {
		t.Errorf("sub (-want +got):\n%s", diff)
	}
}

func TestUpstreamFromEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		model string
		want  upstream
	}{
		{"fake", nil, "", upstream{Kind: "fake", Model: "fake-1", Provider: "llmslo_fake"}},
		{"openai", map[string]string{"OPENAI_BASE_URL": "https://api.example.com/v1/", "OPENAI_API_KEY": "k"}, "",
			upstream{Kind: "openai", BaseURL: "https://api.example.com/v1", Model: "gpt-4o-mini", Provider: "openai", apiKey: "k"}},
		{"openai model flag", map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1", "OPENAI_MODEL": "m1"}, "m2",
			upstream{Kind: "openai", BaseURL: "http://127.0.0.1:8000/v1", Model: "m2", Provider: "openai"}},
		{"ollama bare host", map[string]string{"OLLAMA_HOST": "127.0.0.1"}, "",
			upstream{Kind: "ollama", BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.2", Provider: "ollama"}},
		{"ollama url", map[string]string{"OLLAMA_HOST": "http://gpu-box:11434", "OLLAMA_MODEL": "qwen3"}, "",
			upstream{Kind: "ollama", BaseURL: "http://gpu-box:11434/v1", Model: "qwen3", Provider: "ollama"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := upstreamFromEnv(func(k string) string { return tt.env[k] }, tt.model)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(upstream{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRelaySSE(t *testing.T) {
	in := ": comment\nevent: x\ndata: {\"a\":1}\n\ndata:{\"b\":2}\n\ndata: [DONE]\n\n"
	var got []string
	if err := relaySSE(strings.NewReader(in), func(d []byte) error { got = append(got, string(d)); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`{"a":1}`, `{"b":2}`, "[DONE]"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !isUsageOnly([]byte(`{"choices":[],"usage":{"prompt_tokens":1}}`)) || isUsageOnly([]byte(`{"choices":[{}],"usage":null}`)) {
		t.Error("isUsageOnly")
	}
}

func TestFakeAnswerUsesContext(t *testing.T) {
	sys, _ := json.Marshal("Context:\n[1] Burn rate: The burn rate is the ratio. More.\n[2] Error budget: The budget is small. More.\n")
	user, _ := json.Marshal("what is a burn rate")
	words := fakeAnswer([]chatMessage{{Role: "system", Content: sys}, {Role: "user", Content: user}})
	got := strings.Join(words, "")
	want := "According to [1], the burn rate is the ratio. Also [2]: the budget is small."
	if got != want {
		t.Errorf("answer %q, want %q", got, want)
	}
	for i, w := range words[1:] {
		if !strings.HasPrefix(w, " ") {
			t.Errorf("word %d %q lacks its leading space", i+1, w)
		}
	}
}

func TestFaultRefusals(t *testing.T) {
	a := startTestApp(t)
	if err := a.injectFault(context.Background(), "packet_loss"); !errors.Is(err, errKernelFault) {
		t.Errorf("packet_loss: err = %v, want a kernel-fault refusal", err)
	}
	if err := a.injectFault(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "provider_throttle") {
		t.Errorf("unknown fault: err = %v, want the list of faults", err)
	}
	for _, f := range appFaults {
		if err := a.injectFault(context.Background(), f.name); err != nil {
			t.Errorf("%s: %v", f.name, err)
		}
	}
	if a.status().Fault.Name != "slow_retrieval" {
		t.Errorf("active fault %q, want the last injected", a.status().Fault.Name)
	}
	a.clearFault()
	if p := a.provFaults.Plan(); p.ThrottleRate != 0 || p.ErrorRate != 0 || p.PrefillDelay != 0 {
		t.Errorf("provider plan after clear: %+v", p)
	}
	if p := a.retrFaults.Plan(); p.Delay != 0 {
		t.Errorf("retrieval plan after clear: %+v", p)
	}
}

// TestKubernetesManifest checks that deploy/kubernetes/rag-service.yaml
// parses and that its container runs this command's flags.
func TestKubernetesManifest(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "deploy", "kubernetes", "rag-service.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var kinds []string
	for {
		var doc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Args []string `yaml:"args"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("not YAML: %v", err)
		}
		kinds = append(kinds, doc.Kind)
		for _, c := range doc.Spec.Template.Spec.Containers {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.String("addr", "", "")
			fs.Duration("status-every", 0, "")
			if err := fs.Parse(c.Args); err != nil {
				t.Errorf("container args %q: %v", c.Args, err)
			}
		}
	}
	if diff := cmp.Diff([]string{"Deployment", "Service"}, kinds); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
}

// TestAlertRulesOnPage: the status page shows and colours by the tracker's
// own alert rules.
func TestAlertRulesOnPage(t *testing.T) {
	if got, want := ruleLegend(), "Page: 1h>14.4 and 5m>14.4, or 6h>6 and 30m>6; ticket: 3d>1 and 6h>1"; got != want {
		t.Errorf("ruleLegend() = %q, want %q", got, want)
	}
	for rate, want := range map[float64]string{20: "bad", 14.4: "warn", 7: "warn", 6: "mild", 1.5: "mild", 1: "", 0: ""} {
		if got := rateClass(map[string]float64{"1h": rate}, "1h"); got != want {
			t.Errorf("rateClass(%v) = %q, want %q", rate, got, want)
		}
	}
}
