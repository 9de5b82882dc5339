package main

// doc is one document of the bundled corpus.
type doc struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// corpus is the small knowledge base the vector store serves: short notes on
// serving LLMs and measuring them, so that questions about the service itself
// retrieve sensible context.
var corpus = []doc{
	{"ttft", "Time to first token", "Time to first token (TTFT) is the time from the start of a request to the first chunk that carries output text. It is dominated by queueing, retrieval and the model's prefill of the prompt. Users perceive it as the responsiveness of a chat."},
	{"tpot", "Time per output token", "Time per output token (TPOT) is the decode time after the first token divided by the number of remaining output tokens. It sets the reading speed of a streamed answer. A TPOT above about 100 ms feels slower than reading."},
	{"itl", "Inter-token latency", "Inter-token latency is the gap between two consecutive output chunks of a stream. Its mean over a request approximates TPOT, while its maximum reveals stalls such as a garbage collection pause or a network hiccup."},
	{"ttfb", "Time to first byte", "Time to first byte is the time until any response byte leaves the server. A streaming server often sends headers or an empty role chunk early, so TTFB can be far below TTFT."},
	{"e2e", "End-to-end latency", "End-to-end latency runs from the request start to the last byte. For streamed answers it grows with the answer length, so it is a poor objective on its own; TTFT and TPOT separate the two phases."},
	{"prefill", "Prefill", "Prefill is the phase where the model reads the whole prompt before producing the first token. Its cost grows with the prompt length, which is why retrieval that adds long context raises TTFT."},
	{"decode", "Decode", "Decode is the phase where the model emits one token after another. Its speed depends on the model size, the batch size on the accelerator and memory bandwidth; it is measured in tokens per second."},
	{"slo", "Service-level objective", "A service-level objective states the share of requests that must be good, for example 99 percent of streamed requests with a TTFT under 500 ms over 30 days. The remaining share is the error budget."},
	{"budget", "Error budget", "The error budget is the share of requests an objective allows to be bad over its period. With a 99.9 percent target the budget is 0.1 percent of requests. Spending it faster than the period allows calls for action."},
	{"burn", "Burn rate", "The burn rate is the observed error ratio divided by the error budget. A burn rate of 1 spends exactly the whole budget over the period; a burn rate of 30 spends a 30-day budget in one day."},
	{"mwmb", "Multi-window multi-burn-rate alerts", "Multi-window multi-burn-rate alerting pages when both a long and a short window burn fast: 1 hour and 5 minutes, or 6 hours and 30 minutes, each pair above its own burn-rate factor. The long window proves significance, the short one makes the alert stop quickly after recovery."},
	{"ticket", "Ticket alerts", "A slow burn does not wake anyone up: when both the 3-day and the 6-hour burn rates exceed 1, a ticket is opened. Such burns come from gradual regressions like a bigger prompt template or a slower model version."},
	{"rag", "Retrieval-augmented generation", "Retrieval-augmented generation looks up documents relevant to the question in a vector store and puts them into the prompt. The retrieval hop adds its own latency and a failure mode before the model starts."},
	{"vector", "Vector stores", "A vector store keeps an embedding per document and answers nearest-neighbour queries, usually by cosine similarity. Small corpora are searched exhaustively; large ones use approximate indexes such as HNSW."},
	{"embed", "Embeddings", "An embedding maps text to a vector so that similar texts have similar vectors. This example uses the hashing trick on words, which needs no model and is good enough to rank a few dozen notes."},
	{"throttle", "Provider throttling", "Model providers limit requests and tokens per minute. Over the limit they answer HTTP 429 Too Many Requests, often with a Retry-After header. Throttling shows up as failed requests or, with client retries, as long TTFT."},
	{"provider-error", "Provider errors", "Providers sometimes fail with HTTP 500, 502 or 503, or reset the connection mid-stream during overload or deployments. Such errors burn the error-rate objective and often come in bursts."},
	{"provider-latency", "Slow providers", "A provider under load queues requests before prefill and decodes slower because of larger batches. Both raise TTFT and TPOT without any error, so only latency objectives catch it."},
	{"dns", "DNS latency", "Every new connection to a provider starts with a DNS lookup. A slow or failing resolver adds hundreds of milliseconds to TTFT, but only for requests that open a new connection, which makes the symptom intermittent."},
	{"egress", "Network egress problems", "Packet loss on the path to the provider causes TCP retransmissions; each lost segment can cost a retransmission timeout of 200 ms or more. Loss stretches both TTFT and inter-token gaps."},
	{"cfs", "CPU throttling", "Containers with a CPU limit are throttled by the CFS bandwidth controller once they use their quota in a period, commonly 100 ms. A throttled gateway stalls every stream it serves at the same moment."},
	{"contention", "CPU contention", "Noisy neighbours on the same cores make runnable threads wait in the run queue. The delay shows up as extra latency on every step of a request without any error, and eBPF scheduler probes measure it directly."},
	{"memory", "Memory pressure", "When a cgroup reaches its memory limit, allocations go through direct reclaim and can stall for milliseconds. Page cache thrashing under pressure also slows reading model files or indexes."},
	{"ebpf", "eBPF evidence", "eBPF programs attached to kernel tracepoints observe DNS queries, TCP retransmissions, connect latency, run-queue delay and reclaim stalls with low overhead. Joined to a request by connection and time, they explain why it was slow."},
	{"attribution", "Fault attribution", "Attribution ranks fault domains for a bad request from its own timings and the kernel evidence: network, CPU, memory, provider or retrieval. When the evidence is weak it answers unknown instead of guessing."},
	{"incident", "Incidents", "An incident is raised when a burn-rate alert starts to hold. It names the objective, the burn rates, the most likely fault domain with its evidence and the trace IDs of example requests."},
	{"otel", "OpenTelemetry GenAI conventions", "The OpenTelemetry GenAI semantic conventions name the server metrics gen_ai.server.time_to_first_token and gen_ai.server.time_per_output_token, and span attributes such as gen_ai.request.model and gen_ai.usage.output_tokens."},
	{"prometheus", "Prometheus rules", "Recording rules precompute the error ratio of each objective over several windows; alerting rules compare them to burn-rate thresholds. Generating both from the same objectives as the service avoids drift."},
	{"streaming", "Server-sent events", "OpenAI-compatible APIs stream with server-sent events: each chunk is a data line with a JSON object, and the stream ends with data: [DONE]. A proxy must flush every chunk or it destroys the streaming latency."},
	{"retries", "Retries", "Client SDKs retry 429 and 5xx answers with exponential backoff. Retries hide errors from users but turn them into latency, and many clients retrying at once can create a retry storm that prolongs an outage."},
	{"tokens", "Token usage", "Providers report prompt and completion token counts in the final chunk of a stream when asked with stream_options.include_usage. Without it, tokens can only be estimated from the number of chunks."},
	{"capacity", "Capacity planning", "Throughput of a model server is bounded by accelerator memory for the KV cache. Past saturation, queueing makes TTFT grow quickly while TPOT stays flat, a sign to add replicas rather than to tune the model."},
}
