// Package slo measures how fast tokens reach the users of an LLM-serving Go
// process — time to first byte, time to first token, inter-token latency,
// time per output token, decode tokens/s, end-to-end latency, token usage and
// errors — judges every request against service-level objectives, keeps error
// budgets and multi-window burn rates in-process, and raises an
// [incident.Incident] seconds after a burn-rate alert condition starts to
// hold.
//
// # Quick start
//
//	t, err := slo.New(slo.WithObjectives(slo.TTFT(500*time.Millisecond, 0.99)))
//	if err != nil {
//		return err
//	}
//	defer t.Close()
//	http.Handle("/v1/chat/completions", t.Instrument(chatHandler))
//
// # Concepts
//
// [Tracker.Instrument] wraps a handler. Every Write and Flush of the response
// passes byte-for-byte unchanged through an incremental stream observer that
// recognises the format (SSE, NDJSON, JSON, text) and the dialect (OpenAI chat
// completions, OpenAI Responses, Anthropic messages, Ollama) and notes, in
// monotonic time, the first body byte (TTFB), the first chunk that carries
// output (TTFT), the gaps between output chunks (ITL), the end (E2E), and the
// usage the stream reports. The definitions:
//
//   - TTFB: request start → first response body byte.
//   - TTFT: request start → first chunk carrying output (text, tool-call or
//     reasoning delta); the first chunk when the dialect is unknown. Not
//     recorded for a non-streaming response.
//   - TPOT: (E2E − TTFT) / (output tokens − 1). Decode tokens/s: its inverse.
//   - Output tokens: the stream's own usage when present, else the handler's
//     report ([Request.Usage], [Request.Tokens]), else the number of output
//     chunks, marked estimated (llm.slo.tokens.estimated=true).
//
// The results go to the request's span (the one otelhttp started, or one
// Instrument starts), to OpenTelemetry metrics named by the GenAI semantic
// conventions (gen_ai.server.time_to_first_token, …) with the specification's
// bucket boundaries, and, with [WithRegisterer], to Prometheus.
//
// An [Objective] such as [TTFT](500ms, 0.99) judges each request good or bad.
// Burn rates are kept over 5m, 30m, 1h, 6h, 1d and 3d in bounded memory; an
// incident is raised when a multi-window, multi-burn-rate rule starts to hold
// (page on the 1h and 5m or the 6h and 30m burn rates, ticket on the 3d and
// 6h; the factors are in docs/design.md §8 and in the rules [PrometheusRules]
// writes), and goes to the sinks given with [WithIncidentSink]
// ([incident.SlogSink], [incident.NewWebhookSink], PagerDuty, Opsgenie).
// A rule decides only on windows the tracker has observed for at least half
// their span and with enough requests that one failure alone cannot page
// ([WithMinCoverage], [WithMinEvents]); [Tracker.Budget] reports each
// window's coverage. [WithStateFile] keeps the windows across restarts and
// [WithPrometheusSeed] fills the long ones from the fleet's metrics
// (docs/slo-state.md).
//
// An objective narrowed with [Objective.ForTenant] judges only the requests
// of a tenant or priority class, named by the function given to
// [WithTenant]: its own budget, burn rates and incidents. A request that
// met every objective that judged it counts as goodput ([GoodputStatus],
// llm_slo_goodput_requests_total and llm_slo_goodput_tokens_total). Model
// names read from request and response bodies keep at most
// [DefaultLabelLimit] label values per metric ([WithLabelLimit]); later ones
// are recorded as "other" (docs/design.md §15).
//
// # Client side
//
// [Tracker.Transport] wraps an http.RoundTripper for outbound LLM and
// retrieval calls (any SDK that accepts an *http.Client): client spans and
// the GenAI client metrics, the httptrace decomposition (DNS, connect, TLS,
// provider time to first byte), 429/Retry-After, 5xx, resets and SDK
// retries. A call made inside an instrumented request feeds that request's
// summary, which attribution reads; its retries and 429/5xx answers also
// feed the retry-storm detection of its destination.
//
// The client metrics follow the GenAI conventions of v1.41.0 by default and
// those of semantic-conventions-genai (gen_ai.client.inference.*, with
// prompt-cache and reasoning token counters) when
// OTEL_SEMCONV_STABILITY_OPT_IN lists gen_ai_latest_experimental, or both
// with gen_ai_latest_experimental/dup; [WithSemconv] overrides the variable,
// which [New] reads once.
//
// # Kernel support
//
// On Linux with BTF, [New] loads the eBPF probes of package probes into the
// process in the background (in-process, else through the privileged
// sidecar, else the unprivileged floor) and joins their events to requests
// (package correlate): spans get llm.ebpf.* attributes with the confidence of
// the join. [WithoutProbes] turns this off, [WithProbes] narrows it, and
// [Tracker.KernelStatus] reports the path and state of every signal. Nothing
// here is fatal: a probe that cannot load is reported, never returned as an
// error from New.
//
// # Attribution
//
// A bad request, and each incident, is attributed to a fault domain
// (network_dns, network_egress, cpu_throttle, cpu_contention,
// memory_pressure, provider_throttle, provider_error, provider_latency,
// retrieval_backend, or unknown) by package attribution, from the excess of
// its application and kernel signals over their healthy baselines.
// [WithRequestRecords] hands the record of every request — its SLIs, the
// objectives it met or missed, and the evidence attribution works from — to
// a function of yours.
//
// # Concurrency
//
// A [Tracker] and a [Request] are safe for concurrent use. Incidents are
// evaluated and delivered on the tracker's single background goroutine; the
// request path never waits for a sink.
//
// # Errors
//
// [New] fails only on invalid options, with an error that names the option,
// the value and what is accepted. A failure that merely degrades the
// tracker (an instrument that cannot be created, a sink that fails, an
// objective whose route never matched) goes to the error handler
// ([WithErrorHandler], default otel.Handle) and never to the request.
// Prompt and completion text are never recorded.
//
// # Zero values
//
// A nil *Tracker is off: Instrument and Transport return what they are given
// and every other method returns nothing; a zero Tracker behaves the same and
// reports itself through otel.Handle. Instrument(nil) answers 500 to every
// request and reports it once. A nil *Request does nothing.
package slo
