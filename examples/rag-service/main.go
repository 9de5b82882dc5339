// Command rag-service is the llmslo reference service: an OpenAI-compatible
// chat API (POST /v1/chat/completions, streaming and not) served by an
// embedded fake model, instrumented with llmslo. It needs no external service.
//
//	go run ./examples/rag-service                 # listen on 127.0.0.1:8080
//	go run ./examples/rag-service -load 5         # also drive 5 requests/s against itself
//
// Then:
//
//	curl -N http://127.0.0.1:8080/v1/chat/completions -d '{"model":"fake-1","stream":true,"messages":[{"role":"user","content":"hi"}]}'
//	curl http://127.0.0.1:8080/metrics
//	curl http://127.0.0.1:8080/slo
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/llmslo/slo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rag-service:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	load := flag.Float64("load", 0, "drive this many requests per second against the service itself (0 = off)")
	statusEvery := flag.Duration("status-every", 10*time.Second, "print the SLO status this often (0 = never)")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	reg := prometheus.NewRegistry()
	tracker, err := slo.New(
		slo.WithService("rag-service"),
		slo.WithRegisterer(reg),
		slo.WithLogger(logger),
		slo.WithIncidentSink(slo.SlogSink(logger)),
		slo.WithObjectives(
			slo.TTFT(500*time.Millisecond, 0.99),
			slo.TPOT(50*time.Millisecond, 0.99),
			slo.ErrorRate(0.999),
		),
	)
	if err != nil {
		return err
	}
	defer tracker.Close()

	model := &fakeModel{prefillBase: 80 * time.Millisecond, prefillPerChar: 200 * time.Microsecond,
		tokenDelay: 15 * time.Millisecond, jitter: 5 * time.Millisecond}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/chat/completions", tracker.Instrument(http.HandlerFunc(model.chatCompletions)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /slo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"budget": tracker.Budget(), "status": tracker.Status(), "incidents": tracker.Incidents()})
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	base := "http://" + ln.Addr().String()
	logger.Info("rag-service listening", "url", base, "try",
		`curl -N `+base+`/v1/chat/completions -d '{"model":"fake-1","stream":true,"messages":[{"role":"user","content":"hi"}]}'`)
	if *load > 0 {
		go drive(ctx, base, *load, logger)
	}
	if *statusEvery > 0 {
		go printStatus(ctx, tracker, *statusEvery, logger)
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func printStatus(ctx context.Context, t *slo.Tracker, every time.Duration, l *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for _, b := range t.Budget() {
				var rates []string
				for _, w := range b.BurnRates {
					rates = append(rates, fmt.Sprintf("%s=%.2f", w.Window, w.Rate))
				}
				l.Info("slo", "objective", b.Objective, "good", b.Good, "total", b.Total,
					"budget_remaining", fmt.Sprintf("%.3f", b.Remaining), "burn", strings.Join(rates, " "))
			}
		}
	}
}

// drive sends rate streaming requests per second to base until ctx ends.
func drive(ctx context.Context, base string, rate float64, l *slog.Logger) {
	client := &http.Client{Timeout: 30 * time.Second}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	prompts := []string{"What is an error budget?", "Explain time to first token in one paragraph.", "hi"}
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		go func(p string) {
			body := fmt.Sprintf(`{"model":"fake-1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":%q}]}`, p)
			req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/chat/completions", strings.NewReader(body))
			resp, err := client.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					l.Warn("load request failed", "err", err)
				}
				return
			}
			defer resp.Body.Close()
			var sink [4096]byte
			for {
				if _, err := resp.Body.Read(sink[:]); err != nil {
					return
				}
			}
		}(prompts[i%len(prompts)])
	}
}
