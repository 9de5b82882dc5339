// Package promapi queries a Prometheus-compatible HTTP API (Prometheus,
// Thanos Query, Cortex or Mimir, VictoriaMetrics): instant and range
// queries, bounded in memory ([Client.MaxBytes], [Client.MaxPoints]) and in
// time (the caller's context). The tracker seeds its long windows from the
// fleet with it, and the tests that run a real Prometheus server query it
// with it.
//
// # Errors
//
// Every method returns an error for a transport failure, an HTTP status
// other than 2xx without an API error in the body, the API's own error
// ("status": "error"), a body that is not the API's JSON, a result other
// than a matrix or a vector, and a response over its bounds ([ErrTooLarge]).
// [Decode] never panics on any input.
//
// # Concurrency
//
// A [Client] is safe for concurrent use; it starts no goroutine.
package promapi
