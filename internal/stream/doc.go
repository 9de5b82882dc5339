// Package stream observes LLM response bodies as they are written or read and
// reports, chunk by chunk, what each chunk carries: output, usage, a finish
// reason, a terminal marker or an error.
//
// An [Observer] is fed the exact byte slices that pass through a
// [net/http.ResponseWriter] or a client response body (uncompressed: a
// gzip-encoded body is not decoded here and yields no meaningful chunks).
// It detects the framing ([Format]: Server-Sent Events, NDJSON, a single JSON
// body or plain text) from the Content-Type and the first bytes, and the
// provider protocol ([Dialect]: OpenAI chat completions, OpenAI Responses,
// Anthropic messages, Ollama) from a hint ([DialectFromPath]) or the content,
// and calls a sink synchronously once per decoded chunk, so that the caller
// can take the timestamp.
//
// # Chunks
//
// An SSE chunk is one dispatched event (an event made only of comments, or of
// fields other than data, is not a chunk); an NDJSON chunk is one non-blank
// line; a JSON body is a single chunk delivered by [Observer.Close]; with
// [FormatText] every non-empty Write is a chunk carrying output. When the
// dialect is unknown every SSE or NDJSON chunk with data counts as output,
// except error events and the [DONE] marker. The sink is called for every
// chunk, also those that carry nothing (keep-alive pings, lifecycle events).
//
// # Output, usage and finish reasons per dialect
//
//   - OpenAI chat completions: a choice's delta (or message) with a non-empty
//     content, reasoning_content, reasoning or refusal string, or with
//     tool_calls or function_call; finish_reason; usage from the final usage
//     chunk (stream_options.include_usage) or any chunk that carries it;
//     "data: [DONE]" is Done.
//   - OpenAI Responses: response.output_text.delta, response.refusal.delta,
//     response.function_call_arguments.delta, response.reasoning_text.delta,
//     response.reasoning_summary_text.delta (and the custom-tool, MCP,
//     code-interpreter argument and audio transcript deltas) unless the
//     delta is empty; response.completed and response.incomplete are Done and
//     carry the usage; response.failed and error events are Error.
//   - Anthropic: content_block_delta with a non-empty text_delta,
//     input_json_delta or thinking_delta (the empty partial_json that opens a
//     tool call carries nothing); message_start carries the input usage
//     (input_tokens plus the cache creation and cache read tokens),
//     message_delta the stop reason and the output usage; message_stop is
//     Done; an error event is Error.
//   - Ollama /api/chat and /api/generate: non-empty message.content,
//     message.thinking, thinking or response, or message.tool_calls;
//     "done":true is Done with done_reason, prompt_eval_count (input) and
//     eval_count (output).
//
// Besides input and output, [Usage] carries the prompt-cache and reasoning
// counts where a dialect reports them: OpenAI chat's
// prompt_tokens_details.cached_tokens and
// completion_tokens_details.reasoning_tokens (and DeepSeek's
// prompt_cache_hit_tokens), the Responses input_tokens_details and
// output_tokens_details, Anthropic's cache_read_input_tokens and
// cache_creation_input_tokens (cache writes). Ollama reports none of them.
// Cached tokens are part of the input, reasoning tokens part of the output.
//
// [Observer.Usage] merges what the chunks reported, field by field, the last
// report winning; usage is never estimated.
//
// # Memory and allocation
//
// The observer never modifies or retains the caller's slices. An event that
// lies entirely inside one Write is classified in place; an event that spans
// Writes is copied into the observer's own buffer, bounded by
// [Config.MaxEventBytes]. A larger event is classified from its first
// MaxEventBytes bytes; the rest is skipped except for a small tail window
// (4 KiB) where usage reported at the very end of a large event (an Ollama
// final line with a long context array, an OpenAI Responses
// response.completed event with a long output) is still found. Such events
// are counted by [Observer.Overflowed]. A non-streaming JSON body is buffered
// up to [Config.MaxJSONBytes]; beyond it, usage is not extracted.
// Steady-state streaming allocates nothing per chunk: the JSON payloads are
// walked by a small hand-written scanner, finish reasons are interned
// constants, and the model name is copied once per stream.
//
// # Concurrency
//
// An Observer is not safe for concurrent use; the caller serialises Write and
// Close (an http.ResponseWriter or a response body already is). The sink
// must not call back into the Observer. [Observer.Reset] makes an Observer
// reusable, for example from a sync.Pool.
//
// # Errors
//
// Nothing here returns an error or panics on bad input: malformed, truncated,
// binary or gigantic streams yield fewer or emptier events, never invented
// output or usage.
package stream
