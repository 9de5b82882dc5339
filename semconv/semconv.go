package semconv

import "go.opentelemetry.io/otel/attribute"

// GenAISchemaVersion is the OpenTelemetry semantic-conventions release whose
// gen_ai.* names this module uses (through go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv).
const GenAISchemaVersion = "1.41.0"

// SchemaURL is the schema URL matching [GenAISchemaVersion].
const SchemaURL = "https://opentelemetry.io/schemas/1.41.0"

// GenAILatestVersion is the release of open-telemetry/semantic-conventions-genai,
// where the GenAI conventions live after v1.41.0, whose client inference
// names this module emits when asked for the latest experimental GenAI
// conventions (OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental or
// the tracker's option of the same meaning). Names below marked "latest"
// come from it; names marked "v1.41.0" from [GenAISchemaVersion]; names
// marked "both" are spelled the same in the two.
const GenAILatestVersion = "0.1.0"

// Upstream GenAI and HTTP attribute keys reused verbatim (v1.41.0 unless
// marked otherwise; every one of them is also in the latest conventions).
const (
	// GenAIOperationName is gen_ai.operation.name (string; e.g. "chat").
	GenAIOperationName = attribute.Key("gen_ai.operation.name")
	// GenAIProviderName is gen_ai.provider.name (string; e.g. "openai").
	GenAIProviderName = attribute.Key("gen_ai.provider.name")
	// GenAIRequestModel is gen_ai.request.model (string).
	GenAIRequestModel = attribute.Key("gen_ai.request.model")
	// GenAIResponseModel is gen_ai.response.model (string).
	GenAIResponseModel = attribute.Key("gen_ai.response.model")
	// GenAIUsageInputTokens is gen_ai.usage.input_tokens (int).
	GenAIUsageInputTokens = attribute.Key("gen_ai.usage.input_tokens")
	// GenAIUsageOutputTokens is gen_ai.usage.output_tokens (int).
	GenAIUsageOutputTokens = attribute.Key("gen_ai.usage.output_tokens")
	// GenAIResponseFinishReasons is gen_ai.response.finish_reasons (string slice).
	GenAIResponseFinishReasons = attribute.Key("gen_ai.response.finish_reasons")
	// GenAITokenType is gen_ai.token.type ("input" or "output").
	GenAITokenType = attribute.Key("gen_ai.token.type")
	// ErrorType is error.type (string; an HTTP status code or an error class).
	ErrorType = attribute.Key("error.type")
	// ServerAddress is server.address (string).
	ServerAddress = attribute.Key("server.address")
	// ServerPort is server.port (int).
	ServerPort = attribute.Key("server.port")
	// HTTPResponseStatusCode is http.response.status_code (int).
	HTTPResponseStatusCode = attribute.Key("http.response.status_code")
)

// GenAI usage details and client inference names.
const (
	// GenAIUsageCacheReadInputTokens is gen_ai.usage.cache_read.input_tokens
	// (int; both): input tokens served from the provider's prompt cache, a
	// part of gen_ai.usage.input_tokens.
	GenAIUsageCacheReadInputTokens = attribute.Key("gen_ai.usage.cache_read.input_tokens")
	// GenAIUsageCacheCreationInputTokens is
	// gen_ai.usage.cache_creation.input_tokens (int; v1.41.0): input tokens
	// written to the provider's prompt cache. The latest conventions rename
	// it [GenAIUsageCacheWriteInputTokens].
	GenAIUsageCacheCreationInputTokens = attribute.Key("gen_ai.usage.cache_creation.input_tokens")
	// GenAIUsageCacheWriteInputTokens is gen_ai.usage.cache_write.input_tokens
	// (int; latest): input tokens written to the provider's prompt cache.
	GenAIUsageCacheWriteInputTokens = attribute.Key("gen_ai.usage.cache_write.input_tokens")
	// GenAIUsageReasoningOutputTokens is gen_ai.usage.reasoning.output_tokens
	// (int; both): output tokens spent on reasoning, a part of
	// gen_ai.usage.output_tokens.
	GenAIUsageReasoningOutputTokens = attribute.Key("gen_ai.usage.reasoning.output_tokens")
	// GenAIResponseTimeToFirstChunk is gen_ai.response.time_to_first_chunk
	// (double, seconds; latest on client inference spans): call start to
	// the first output chunk of a stream.
	GenAIResponseTimeToFirstChunk = attribute.Key("gen_ai.response.time_to_first_chunk")
	// GenAITokenModality is gen_ai.token.modality (string; latest: "text",
	// "image", "audio" or "unknown"), the attribute of the usage counters.
	GenAITokenModality = attribute.Key("gen_ai.token.modality")

	// MetricClientInferenceDuration is gen_ai.client.inference.duration
	// (histogram, s; latest): replaces gen_ai.client.operation.duration for
	// inference.
	MetricClientInferenceDuration = "gen_ai.client.inference.duration"
	// MetricClientInferenceTimeToFirstChunk is
	// gen_ai.client.inference.time_to_first_chunk (histogram, s; latest).
	MetricClientInferenceTimeToFirstChunk = "gen_ai.client.inference.time_to_first_chunk"
	// MetricClientInferenceTimePerOutputChunk is
	// gen_ai.client.inference.time_per_output_chunk (histogram, s; latest):
	// one record per chunk after the first, the end of the previous chunk to
	// the end of this one.
	MetricClientInferenceTimePerOutputChunk = "gen_ai.client.inference.time_per_output_chunk"
	// MetricClientUsageInputTokens is gen_ai.client.inference.usage.input_tokens
	// (counter, {token}; latest), by gen_ai.token.modality.
	MetricClientUsageInputTokens = "gen_ai.client.inference.usage.input_tokens"
	// MetricClientUsageOutputTokens is gen_ai.client.inference.usage.output_tokens
	// (counter, {token}; latest), by gen_ai.token.modality.
	MetricClientUsageOutputTokens = "gen_ai.client.inference.usage.output_tokens"
	// MetricClientUsageCacheReadInputTokens is
	// gen_ai.client.inference.usage.cache_read.input_tokens (counter, {token};
	// latest): the part of the input counter served from the prompt cache.
	MetricClientUsageCacheReadInputTokens = "gen_ai.client.inference.usage.cache_read.input_tokens"
	// MetricClientUsageCacheWriteInputTokens is
	// gen_ai.client.inference.usage.cache_write.input_tokens (counter,
	// {token}; latest): the part of the input counter written to the cache.
	MetricClientUsageCacheWriteInputTokens = "gen_ai.client.inference.usage.cache_write.input_tokens"
	// MetricClientUsageReasoningOutputTokens is
	// gen_ai.client.inference.usage.reasoning.output_tokens (counter,
	// {token}; latest): the part of the output counter spent on reasoning.
	MetricClientUsageReasoningOutputTokens = "gen_ai.client.inference.usage.reasoning.output_tokens"
	// MetricClientOperationInputTokens is
	// gen_ai.client.inference.operation.input_tokens (histogram, {token};
	// latest): input tokens per inference call.
	MetricClientOperationInputTokens = "gen_ai.client.inference.operation.input_tokens"
	// MetricClientOperationOutputTokens is
	// gen_ai.client.inference.operation.output_tokens (histogram, {token};
	// latest): output tokens per inference call.
	MetricClientOperationOutputTokens = "gen_ai.client.inference.operation.output_tokens"
)

// Application-side SLO attributes (llm.slo.*). Durations are float64 milliseconds.
const (
	// SLOTTFTMs is llm.slo.ttft_ms: request start to the first output-bearing chunk.
	SLOTTFTMs = attribute.Key("llm.slo.ttft_ms")
	// SLOTTFBMs is llm.slo.ttfb_ms: request start to the first response body byte.
	SLOTTFBMs = attribute.Key("llm.slo.ttfb_ms")
	// SLOTPOTMs is llm.slo.tpot_ms: (E2E − TTFT) / (output tokens − 1).
	SLOTPOTMs = attribute.Key("llm.slo.tpot_ms")
	// SLOE2EMs is llm.slo.e2e_ms: request start to the last byte or handler return.
	SLOE2EMs = attribute.Key("llm.slo.e2e_ms")
	// SLOITLMaxMs is llm.slo.itl_max_ms: the largest gap between consecutive output chunks.
	SLOITLMaxMs = attribute.Key("llm.slo.itl_max_ms")
	// SLOITLMeanMs is llm.slo.itl_mean_ms: the mean gap between consecutive output chunks.
	SLOITLMeanMs = attribute.Key("llm.slo.itl_mean_ms")
	// SLOTokensPerSec is llm.slo.tokens_per_sec: (output tokens − 1) / (E2E − TTFT).
	SLOTokensPerSec = attribute.Key("llm.slo.tokens_per_sec")
	// SLOOutputChunks is llm.slo.output_chunks (int): chunks that carried output.
	SLOOutputChunks = attribute.Key("llm.slo.output_chunks")
	// SLOTokensEstimated is llm.slo.tokens.estimated (bool): output tokens were
	// counted from chunks because the stream reported no usage.
	SLOTokensEstimated = attribute.Key("llm.slo.tokens.estimated")
	// SLOStreamFormat is llm.slo.stream.format (string: sse, ndjson, json, text, unknown).
	SLOStreamFormat = attribute.Key("llm.slo.stream.format")
	// SLOStreamDialect is llm.slo.stream.dialect (string: openai_chat, openai_responses, anthropic, ollama, unknown).
	SLOStreamDialect = attribute.Key("llm.slo.stream.dialect")
	// SLOObjective is llm.slo.objective (string slice): the objectives judged on this request.
	SLOObjective = attribute.Key("llm.slo.objective")
	// SLOGood is llm.slo.good (bool): every objective judged this request good.
	SLOGood = attribute.Key("llm.slo.good")
	// SLOBreached is llm.slo.breached (string slice): the objectives this request missed.
	SLOBreached = attribute.Key("llm.slo.breached")
	// SLOCancelled is llm.slo.cancelled (bool): the client went away before the end.
	SLOCancelled = attribute.Key("llm.slo.cancelled")
	// SLOProviderWaitMs is llm.slo.provider.wait_ms: time this server request spent in outbound provider calls.
	SLOProviderWaitMs = attribute.Key("llm.slo.provider.wait_ms")

	// SLORetrievalDNSMs is llm.slo.retrieval.dns_ms: DNS time of a client call (httptrace).
	SLORetrievalDNSMs = attribute.Key("llm.slo.retrieval.dns_ms")
	// SLORetrievalNetworkMs is llm.slo.retrieval.network_ms: connect + TLS time of a client call.
	SLORetrievalNetworkMs = attribute.Key("llm.slo.retrieval.network_ms")
	// SLORetrievalVectorDBMs is llm.slo.retrieval.vectordb_ms: a retrieval backend's own time.
	SLORetrievalVectorDBMs = attribute.Key("llm.slo.retrieval.vectordb_ms")
	// SLONetConnectMs is llm.slo.net.connect_ms: TCP connect time of a client call.
	SLONetConnectMs = attribute.Key("llm.slo.net.connect_ms")
	// SLONetTLSMs is llm.slo.net.tls_ms: TLS handshake time of a client call.
	SLONetTLSMs = attribute.Key("llm.slo.net.tls_ms")
	// SLONetConnReused is llm.slo.net.conn_reused (bool): the client call reused a pooled connection.
	SLONetConnReused = attribute.Key("llm.slo.net.conn_reused")
	// SLOProviderTTFBMs is llm.slo.provider.ttfb_ms: client call start to the first response byte.
	SLOProviderTTFBMs = attribute.Key("llm.slo.provider.ttfb_ms")
	// SLOProviderRetryAfterMs is llm.slo.provider.retry_after_ms: the provider's Retry-After.
	SLOProviderRetryAfterMs = attribute.Key("llm.slo.provider.retry_after_ms")
	// SLORetries is llm.slo.retries (int): retries of this logical client operation.
	SLORetries = attribute.Key("llm.slo.retries")
)

// Kernel-side attributes (llm.ebpf.*). Durations are float64 milliseconds.
const (
	EBPFDNSLatencyMs            = attribute.Key("llm.ebpf.dns.latency_ms")                 // DNS query→response time
	EBPFTCPRetransmits          = attribute.Key("llm.ebpf.tcp.retransmits")                // retransmits on the request's connections (int)
	EBPFTCPRetryStorm           = attribute.Key("llm.ebpf.tcp.retry_storm")                // a retry storm toward the destination (bool)
	EBPFSchedRunqueueDelayMs    = attribute.Key("llm.ebpf.sched.runqueue_delay_ms")        // run-queue delay apportioned to the request
	EBPFCPUStealPct             = attribute.Key("llm.ebpf.cpu.steal_pct")                  // hypervisor steal during the request
	EBPFCPUCFSThrottledMs       = attribute.Key("llm.ebpf.cpu.cfs_throttled_ms")           // CFS throttled time apportioned to the request
	EBPFNetConnectLatencyMs     = attribute.Key("llm.ebpf.net.connect_latency_ms")         // SYN_SENT→ESTABLISHED
	EBPFNetConnectErrorsTotal   = attribute.Key("llm.ebpf.net.connect_errors_total")       // failed connects (int)
	EBPFTLSHandshakeMs          = attribute.Key("llm.ebpf.tls.handshake_ms")               // TLS handshake time
	EBPFMMReclaimLatencyMs      = attribute.Key("llm.ebpf.mm.reclaim_latency_ms")          // direct reclaim stall
	EBPFBlkIOLatencyMs          = attribute.Key("llm.ebpf.blk.io_latency_ms")              // block I/O latency outliers
	EBPFSyscallLatencyMs        = attribute.Key("llm.ebpf.syscall.latency_ms")             // syscall latency outliers
	EBPFGoSchedLatencyMs        = attribute.Key("llm.ebpf.go.sched_latency_ms")            // Go scheduler latency (unprivileged floor)
	EBPFPSISomeCPUPct           = attribute.Key("llm.ebpf.psi.cpu_some_pct")               // PSI cpu some avg10
	EBPFRetrievalKernelAttribMs = attribute.Key("llm.ebpf.retrieval.kernel_attributed_ms") // part of a slow client call the kernel explains
	EBPFCorrelationConfidence   = attribute.Key("llm.ebpf.correlation_confidence")         // highest tier confidence used (float64)
	EBPFCorrelationTier         = attribute.Key("llm.ebpf.correlation_tier")               // name of that tier
	EBPFSignalPath              = attribute.Key("llm.ebpf.path")                           // in_process, sidecar or floor
)

// Incident and attribution attributes.
const (
	// SLOFaultDomain is llm.slo.fault_domain: the top-ranked fault domain of a bad request.
	SLOFaultDomain = attribute.Key("llm.slo.fault_domain")
	// SLOFaultPosterior is llm.slo.fault_posterior (float64): its posterior probability.
	SLOFaultPosterior = attribute.Key("llm.slo.fault_posterior")
)

// Correlation tiers (docs/design.md §6): names and measured confidences (docs/tiers.md).
const (
	TierTraceIDExact = "trace_id_exact" // 1.00
	TierPodPID100ms  = "pod_pid_100ms"  // 0.51
	TierPodConn250ms = "pod_conn_250ms" // 0.05
	TierSvcNode500ms = "svc_node_500ms" // 0.13
)

// Fault domains (docs/design.md §7).
const (
	DomainNetworkDNS       = "network_dns"
	DomainNetworkEgress    = "network_egress"
	DomainCPUThrottle      = "cpu_throttle"
	DomainCPUContention    = "cpu_contention"
	DomainMemoryPressure   = "memory_pressure"
	DomainProviderThrottle = "provider_throttle"
	DomainProviderError    = "provider_error"
	DomainProviderLatency  = "provider_latency"
	DomainRetrievalBackend = "retrieval_backend"
	DomainUnknown          = "unknown"
)

// Metric names beyond the upstream GenAI ones (OTel names; Prometheus mirrors
// them with dots as underscores and _seconds/_total suffixes).
const (
	MetricServerTTFB         = "llm.slo.server.time_to_first_byte"    // histogram, s
	MetricServerTokensPerSec = "llm.slo.server.decode_tokens_per_sec" // histogram, {token}/s
	MetricRequests           = "llm.slo.requests"                     // counter, by objective and good
	MetricBurnRate           = "llm.slo.burn_rate"                    // gauge, by objective and window
	MetricBurnRateCoverage   = "llm.slo.burn_rate.coverage"           // gauge, by objective and window: share of the window observed
	MetricBudgetRemaining    = "llm.slo.error_budget.remaining"       // gauge, fraction
	MetricIncidents          = "llm.slo.incidents"                    // counter
	MetricCorrelation        = "llm.slo.correlation"                  // counter, by tier, enriched and scope
	// MetricGoodputRequests counts the requests judged by at least one
	// objective, by llm.slo.good: true when they met every objective that
	// judged them (goodput), false otherwise.
	MetricGoodputRequests = "llm.slo.goodput.requests"
	// MetricGoodputTokens counts the output tokens of those requests, by
	// llm.slo.good.
	MetricGoodputTokens = "llm.slo.goodput.tokens"
	// MetricLabelFolds counts label values folded into "other" because a
	// label reached its limit of distinct values, by llm.slo.label.
	MetricLabelFolds = "llm.slo.label.folds"
	// SLOLabel is llm.slo.label: the metric label (attribute) a fold concerns.
	SLOLabel = attribute.Key("llm.slo.label")
	// SLOTenant is llm.slo.tenant: the tenant or priority class of a request
	// and of the objectives narrowed to it.
	SLOTenant = attribute.Key("llm.slo.tenant")
)

// Metric and attribute names of the tracker's own instruments.
const (
	// MetricServerTokenUsage is the per-request token usage histogram of the server side, by gen_ai.token.type:
	// input, output, and the parts of them the response's stream reported (cache_read, cache_write, reasoning).
	MetricServerTokenUsage = "llm.slo.server.token.usage"
	// SLOWindow is llm.slo.window: the window of a burn-rate gauge ("5m", "1h", ...).
	SLOWindow = attribute.Key("llm.slo.window")
	// SLOSeverity is llm.slo.severity: "page" or "ticket".
	SLOSeverity = attribute.Key("llm.slo.severity")
)

// Client-side (Transport) names: metrics beyond the upstream GenAI client
// ones, and attributes of client spans.
const (
	MetricClientDNS       = "llm.slo.client.dns.duration"       // histogram, s: DNS time of a client call (httptrace)
	MetricClientConnect   = "llm.slo.client.connect.duration"   // histogram, s: TCP connect time of a client call
	MetricClientTLS       = "llm.slo.client.tls.duration"       // histogram, s: TLS handshake time of a client call
	MetricClientTTFB      = "llm.slo.client.time_to_first_byte" // histogram, s: call start to the first response byte
	MetricClientRetries   = "llm.slo.client.retries"            // counter: attempts the SDK marked as retries, by provider
	MetricClientRetrieval = "llm.slo.client.retrieval.duration" // histogram, s: retrieval-backend call duration

	// SLOClientRetrieval is llm.slo.client.retrieval (bool): the call went to a retrieval backend, not an LLM provider.
	SLOClientRetrieval = attribute.Key("llm.slo.client.retrieval")
	// SLONetSocketCookie is llm.slo.net.socket_cookie (int): SO_COOKIE of the connection the call used (Linux).
	SLONetSocketCookie = attribute.Key("llm.slo.net.socket_cookie")
	// SLOStreamTruncated is llm.slo.stream.truncated (bool): a streamed body ended without its terminal event.
	SLOStreamTruncated = attribute.Key("llm.slo.stream.truncated")
)

// Kernel correlation (package correlate and the tracker's kernel side).
const (
	// TierHTTPTrace marks span evidence measured by the request's own client
	// calls (httptrace) rather than joined from kernel events; confidence 1.
	TierHTTPTrace = "httptrace"
	// PathInProcess, PathSidecar and PathFloor are the values of
	// llm.ebpf.path and of a signal's path in the tracker status: probes
	// loaded in this process, a privileged sidecar, or the unprivileged
	// floor (httptrace, runtime/metrics, /proc pollers).
	PathInProcess = "in_process"
	PathSidecar   = "sidecar"
	PathFloor     = "floor"
	// SLOCorrelationTier is llm.slo.correlation.tier: the tier of a join
	// (attribute of the llm.slo.correlation counter).
	SLOCorrelationTier = attribute.Key("llm.slo.correlation.tier")
	// SLOCorrelationEnriched is llm.slo.correlation.enriched (bool): the join
	// reached the enrichment threshold.
	SLOCorrelationEnriched = attribute.Key("llm.slo.correlation.enriched")
	// SLOCorrelationScope is llm.slo.correlation.scope: ScopeOwned for an
	// event that has an owner to join by (a connection, a thread, a
	// process, a cgroup), ScopeNode for a node-wide one (CPU steal, PSI),
	// which joins at svc_node_500ms by its nature.
	SLOCorrelationScope = attribute.Key("llm.slo.correlation.scope")
	ScopeOwned          = "owned"
	ScopeNode           = "node"
	// PromCorrelationTotal is the Prometheus name of [MetricCorrelation],
	// with labels tier, enriched and scope.
	PromCorrelationTotal = "llm_slo_correlation_total"
)

// The tracker's self-health: whether its evidence is whole (docs/design.md
// §14). OTel names, and the Prometheus names the llmslo-health rule group
// and the dashboard query.
const (
	// MetricProbeUp (gauge, 1 or 0): a kernel or runtime signal delivers
	// (on or degraded), by llm.slo.signal and llm.slo.signal.path.
	MetricProbeUp = "llm.slo.probe.up"
	PromProbeUp   = "llm_slo_probe_up" // Prometheus name of MetricProbeUp
	// MetricEventsLost (counter): evidence lost before it was used, by
	// llm.slo.queue (QueueRingBuffer, QueueKernel, QueueIncidents,
	// QueueSLOEvents).
	MetricEventsLost = "llm.slo.events.lost"
	PromEventsLost   = "llm_slo_events_lost_total" // Prometheus name of MetricEventsLost
	// MetricProbeShed (counter): times the overhead guard turned a signal
	// off, by llm.slo.signal.
	MetricProbeShed = "llm.slo.probe.shed"
	PromProbeShed   = "llm_slo_probe_shed_total" // Prometheus name of MetricProbeShed
	// MetricProbeOverhead (gauge, %): the overhead guard's last measurement
	// of the probes' share of the process's CPU.
	MetricProbeOverhead = "llm.slo.probe.overhead"
	PromProbeOverhead   = "llm_slo_probe_overhead_percent" // Prometheus name of MetricProbeOverhead
	// MetricRequestsJoined (counter): server requests by the best tier
	// their kernel evidence joined at (llm.slo.correlation.tier; "none"
	// without kernel evidence).
	MetricRequestsJoined = "llm.slo.requests.joined"
	PromRequestsJoined   = "llm_slo_requests_joined_total" // Prometheus name of MetricRequestsJoined
	// MetricSidecarConnected (gauge, 1 or 0): the session with the
	// slo-sidecar is up; exported only while the sidecar is in use.
	MetricSidecarConnected = "llm.slo.sidecar.connected"
	PromSidecarConnected   = "llm_slo_sidecar_connected" // Prometheus name of MetricSidecarConnected
	// MetricSinkFailures (counter): failed deliveries, by llm.slo.sink
	// (SinkIncident, SinkSLOEvent).
	MetricSinkFailures = "llm.slo.sink.failures"
	PromSinkFailures   = "llm_slo_sink_failures_total" // Prometheus name of MetricSinkFailures
	// MetricLastEvaluation (gauge, s since the Unix epoch): when the
	// tracker last evaluated its alert rules.
	MetricLastEvaluation = "llm.slo.evaluation.last"
	PromLastEvaluation   = "llm_slo_last_evaluation_timestamp_seconds" // Prometheus name of MetricLastEvaluation

	// SLOSignal is llm.slo.signal: a probes signal name ("dns_latency", ...).
	SLOSignal = attribute.Key("llm.slo.signal")
	// SLOSignalPath is llm.slo.signal.path: PathInProcess, PathSidecar,
	// PathFloor, "off" or "starting".
	SLOSignalPath = attribute.Key("llm.slo.signal.path")
	// SLOQueue is llm.slo.queue: where lost evidence was dropped.
	SLOQueue = attribute.Key("llm.slo.queue")
	// SLOSink is llm.slo.sink: the kind of sink a delivery failed at.
	SLOSink = attribute.Key("llm.slo.sink")

	QueueRingBuffer = "ring_buffer" // the kernel's ring buffer was full
	QueueKernel     = "kernel"      // the queue from the probes to correlation was full
	QueueIncidents  = "incidents"   // the incident delivery queue was full
	QueueSLOEvents  = "slo_events"  // the SLO event delivery queue was full
	SinkIncident    = "incident"    // an incident sink (WithIncidentSink)
	SinkSLOEvent    = "slo_event"   // the SLO event sink (WithEventSink)
)

// Incidents and SLO events as OpenTelemetry log records (event records):
// their event names and the attributes they carry beside a body in the
// IncidentAttributionV1 or SloEventV1 shape (schemas/).
const (
	// EventIncident is the event name of an incident's log record.
	EventIncident = "llm.slo.incident"
	// EventSLO is the event name of a per-request SLO event's log record.
	EventSLO = "llm.slo.event"
	// SLOIncidentID is llm.slo.incident.id: the incident_id of an incident.
	SLOIncidentID = attribute.Key("llm.slo.incident.id")
	// SLOEventStatus is llm.slo.event.status: ok, warning or breach.
	SLOEventStatus = attribute.Key("llm.slo.event.status")
	// SLOSLIName is llm.slo.sli.name: the sli_name of an SLO event or the
	// slo_impact.sli of an incident (ttft_ms, error_rate, ...).
	SLOSLIName = attribute.Key("llm.slo.sli.name")
)
