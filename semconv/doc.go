// Package semconv holds every attribute, metric and event name llmslo emits,
// as typed constants, and the pinned upstream semantic-conventions version.
//
// Upstream OpenTelemetry GenAI names (gen_ai.*) are reused verbatim; they are at
// "development" stability upstream, so the version this module follows is pinned
// in [GenAISchemaVersion]. Project names use the llm.slo.* (application side)
// and llm.ebpf.* (kernel side) prefixes. No other package writes attribute
// string literals.
//
// The package has no logic and no state.
package semconv
