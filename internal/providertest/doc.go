// Package providertest serves the wire formats of LLM providers from a local
// httptest server with controlled pacing, so that clients and instrumentation
// can be tested against real protocol bytes: OpenAI chat completions and
// Responses, Anthropic messages, Ollama's native /api/chat and /api/generate
// (NDJSON) and its OpenAI-compatible /v1, each streaming or not.
//
// A [Server] answers every request with the [Response] its [Plan] returns:
// how many output chunks, after which prefill delay and with which gap
// between them, what usage to report, or an error status with Retry-After,
// a mid-stream connection reset, a truncated stream, gzip encoding, padding
// that makes events megabytes long. The dialect is chosen by the request
// path; streaming by the request body's "stream" field, as the real
// providers do.
//
// Every request served is recorded with what the handler itself saw
// ([Truth]): when it started, sent headers, wrote the first output chunk
// and finished. On a loaded machine a sleep overshoots; tests compare a
// client's measurements against these timestamps rather than against the
// nominal pacing alone.
package providertest
