// Package webhook delivers JSON payloads, such as incidents, to an HTTP
// endpoint reliably and without ever blocking the caller.
//
// A [Sender] owns a bounded queue and one goroutine that POSTs each payload
// in order, retrying network errors, 429 and 5xx responses with exponential
// backoff and jitter (honouring Retry-After), and giving up on other 4xx
// responses. [Sender.Enqueue] never blocks: when the queue is full the
// payload is dropped and counted in [Sender.Stats]. [Sender.Close] flushes
// the queue within the caller's deadline and stops the goroutine.
//
// # Wire format
//
// Every request is a POST with Content-Type application/json (overridable
// through [Config.Header]), the payload as body, and these headers:
//
//	X-Llmslo-Delivery:  <id>                  same on every retry of one payload, for de-duplication
//	X-Llmslo-Signature: t=<unix>,v1=<hex>     only when Config.Secret is set
//
// The signature, as in Stripe's scheme, is the lower-case hex HMAC-SHA256,
// keyed with the secret, of the decimal Unix timestamp of the attempt, a
// ".", and the exact body bytes. Receivers check it with [Verify], which also
// rejects timestamps outside a tolerance to limit replays, and accepts any of
// several v1 entries so that secrets can be rotated.
//
// # Errors
//
// [New] fails only on an invalid [Config]. Delivery failures are counted and,
// when [Config.OnError] is set, reported once per payload given up; errors
// carrying an HTTP status are [*StatusError]. Request URLs are left out of
// reported errors, since webhook URLs often embed credentials.
//
// # Concurrency
//
// A Sender's methods are safe for concurrent use. It starts exactly one
// goroutine in New, which is gone when Close returns. With the default
// client, Close also closes its idle connections; a caller-supplied
// [http.Client] is never modified and should have a Timeout, since a request
// that never returns stalls the queue until Close.
package webhook
