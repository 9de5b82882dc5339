// Command rag-service is the llmslo reference service: a retrieval-augmented
// chat API, OpenAI-compatible (POST /v1/chat/completions, streaming and not)
// plus a plain POST /chat, instrumented with llmslo on both sides — the
// server side with Tracker.Instrument, the outbound calls to the vector store
// and the model provider with Tracker.Transport.
//
// Everything runs in one process without any external service: the vector
// store (a bundled corpus, cosine top-k over hashed bag-of-words embeddings)
// and a fake OpenAI-compatible provider (prefill time growing with the prompt,
// per-token decode jitter) each listen on their own loopback port, so both
// hops are real sockets. With OPENAI_BASE_URL (and OPENAI_API_KEY) or
// OLLAMA_HOST set, the service talks to that model instead of the fake.
//
//	go run ./examples/rag-service                                 # http://127.0.0.1:8080
//	go run ./examples/rag-service -load 5                         # drive 5 requests/s
//	go run ./examples/rag-service -load 5 -fault provider_throttle # inject a fault after 20 s
//	go run ./examples/rag-service -rules > deploy/prometheus/rules.yaml
//
// Open http://127.0.0.1:8080/ for the status page; /api/status is its JSON,
// /metrics the Prometheus metrics. See README.md beside this file for a tour.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/llmslo/slo"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rag-service:", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rag-service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	load := fs.Float64("load", 0, "drive this many requests per second against the service itself (0 = off)")
	fault := fs.String("fault", "", "inject a fault: "+faultNames()+" (kernel faults need root and the incident lab)")
	faultAfter := fs.Duration("fault-after", 20*time.Second, "with -fault: inject after this long, so a healthy baseline comes first")
	faultFor := fs.Duration("fault-for", 0, "with -fault: clear the fault after this long (0 = keep it)")
	statusEvery := fs.Duration("status-every", 10*time.Second, "log the SLO status this often (0 = never)")
	model := fs.String("model", "", "upstream model (default: fake-1, $OPENAI_MODEL or gpt-4o-mini, $OLLAMA_MODEL or llama3.2)")
	showVersion := fs.Bool("version", false, "print the version of the llmslo module (slo.Version) and exit")
	rules := fs.Bool("rules", false, "print the Prometheus rules generated from the service's objectives and exit")
	minCoverage := fs.Float64("min-coverage", 0.5, "share of each window of an alert rule observed before the rule may hold (0 = page on the first seconds of data)")
	partial := fs.Bool("partial-coverage", false, "let a rule hold on a partly covered window when burn × coverage exceeds its factor")
	stateFile := fs.String("state-file", "", "keep the SLO windows, alert states and budgets in this file across restarts")
	seedURL := fs.String("seed-url", "", "seed the long SLO windows from this Prometheus-compatible query API at start")
	seedSelector := fs.String("seed-selector", `job="rag-service"`, "with -seed-url: label matchers selecting the service's replicas")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		_, err := fmt.Fprintln(stdout, slo.Version())
		return err
	}
	if *rules {
		b, err := slo.PrometheusRules(serviceName, objectives()...)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
	if *fault != "" {
		if _, err := lookupFault(*fault); err != nil {
			return err // unknown or kernel-level: refuse before starting anything
		}
		if *load == 0 {
			*load = 5
		}
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := startApp(ctx, config{Addr: *addr, Model: *model, Logger: logger,
		Tracker: []slo.Option{slo.WithMinCoverage(*minCoverage), slo.WithPartialCoverage(*partial), slo.WithStateFile(*stateFile),
			slo.WithPrometheusSeed(slo.PrometheusSeed{URL: *seedURL, Selector: *seedSelector})}})
	if err != nil {
		return err
	}
	defer a.Close()
	if *fault != "" {
		if f, _ := lookupFault(*fault); f.needsFake && a.up.Kind != "fake" {
			return fmt.Errorf("fault %q acts on the embedded fake provider, and the upstream is %s (%s)", *fault, a.up.Kind, a.up.BaseURL)
		}
	}
	base := a.URL()
	logger.Info("rag-service listening", "status_page", base+"/", "upstream", a.up.Kind, "upstream_url", a.up.BaseURL,
		"model", a.up.Model, "vector_store", a.storeURL, "otlp", a.tel.otlp)
	logger.Info("try", "stream", `curl -N `+base+`/v1/chat/completions -d '{"model":"fake-1","stream":true,"messages":[{"role":"user","content":"What is TTFT?"}]}'`,
		"chat", `curl -N `+base+`/chat -d '{"message":"What is a burn rate?"}'`)

	if *load > 0 {
		go a.drive(ctx, *load, logger)
		logger.Info("load generator on", "rate_per_second", *load)
	}
	if *fault != "" {
		go a.scheduleFault(ctx, *fault, *faultAfter, *faultFor)
	}
	if *statusEvery > 0 {
		go a.logStatus(ctx, *statusEvery, logger)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return nil
}

func (a *app) scheduleFault(ctx context.Context, name string, after, dur time.Duration) {
	a.log.Info("fault scheduled", "fault", name, "in", after)
	if !sleepFor(ctx, after) {
		return
	}
	if err := a.injectFault(ctx, name); err != nil {
		a.log.Error("inject fault", "err", err)
		return
	}
	if dur > 0 && sleepFor(ctx, dur) {
		a.clearFault()
	}
}

func sleepFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// logStatus logs the objectives' budgets and the live percentiles every period.
func (a *app) logStatus(ctx context.Context, every time.Duration, l *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s := a.status()
		l.Info("latency", "window_s", s.Latency.WindowSeconds, "ttft_p99_ms", fmtMs(s.Latency.TTFT.P99),
			"tpot_p99_ms", fmtMs(s.Latency.TPOT.P99), "streams", s.Latency.TTFT.Count)
		for _, o := range s.Objs {
			var rates []string
			for _, w := range burnWindows {
				rates = append(rates, fmt.Sprintf("%s=%.2f", w, o.BurnRates[w]))
			}
			l.Info("slo", "objective", o.Name, "origin", o.Origin, "good", o.Good, "total", o.Total,
				"budget_remaining", fmt.Sprintf("%.3f", o.BudgetRemaining), "budget_remaining_raw", fmt.Sprintf("%.3f", o.BudgetRemainingRaw),
				"burn", strings.Join(rates, " "), "coverage_1h", fmt.Sprintf("%.3f", o.Coverage["1h"]))
		}
	}
}

func fmtMs(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f", *p)
}
