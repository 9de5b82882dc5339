// Package incident defines the incidents that burn-rate alerts raise and the
// sinks that deliver them: the [Incident] document (the IncidentAttributionV1
// JSON shape, whose schema is in the module's schemas directory), the [Sink]
// interface, and sinks for slog, webhooks, PagerDuty and Opsgenie.
//
// A tracker ([github.com/llmslo/slo.New]) raises an incident when an
// objective's multi-window, multi-burn-rate condition starts to hold, ranks
// the likely fault domains, and hands it to the sinks given with
// [github.com/llmslo/slo.WithIncidentSink], from its own goroutine, never
// from a request. A [Sink] is anything with Send; [SinkFunc] adapts a
// function, [SlogSink] logs.
//
// # Vendor sinks
//
// [WebhookSink] posts the incident as JSON, signed with HMAC-SHA256 when a
// secret is set ([VerifyWebhook] checks it on the receiving side).
// [PagerDutySink] sends Events API v2 triggers and [OpsgenieSink] creates
// Alert API v2 alerts; both can resolve what they opened once the condition
// clears, by watching a [Monitor] (the tracker is one).
//
// The vendor sinks are files of this package rather than subpackages: they
// share one delivery path (a bounded queue per endpoint, retries with
// backoff, counted drops), the key that names an alert condition on the
// vendor's side and the resolver, and none needs a dependency beyond
// net/http, so one import serves all of them and nothing is exported only to
// be shared. Each is configured by an options struct whose zero value means
// the documented defaults ([WebhookOptions], [PagerDutyOptions],
// [OpsgenieOptions], with [Delivery] for what they have in common).
//
// Per-request SLO events (SloEventV1) are not here: they are the tracker's
// measurement output, one per judged request like its spans and metrics,
// built from its request state and sent to the function given with
// [github.com/llmslo/slo.WithEventSink]. This package holds what an alert
// raises.
//
// # Concurrency
//
// The sinks of this package are safe for concurrent use. Send never blocks on
// the network: each vendor sink queues deliveries (a full queue drops the
// delivery and Send returns an error) and sends them from its own goroutine,
// stopped by Close, which flushes what is queued within its context's
// deadline and is idempotent. The tracker closes the sinks it was given.
//
// # Errors
//
// Constructors fail on an empty key or an URL that is not absolute http or
// https. Send fails only when the delivery cannot be queued. Deliveries that
// are given up later (a 4xx answer, or every attempt failed) go to
// [Delivery.OnError] when set; request URLs are left out of errors, since
// webhook URLs often embed credentials.
package incident
