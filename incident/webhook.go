package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/llmslo/slo/internal/webhook"
)

// Delivery configures how a sink delivers: its HTTP client and its retries.
// The zero value means the documented defaults.
type Delivery struct {
	// Client sends the requests. Nil means a private client with a 5 s
	// timeout per attempt that does not follow redirects. A client given
	// here should have a Timeout: a request that never returns stalls the
	// sink's queue until Close.
	Client *http.Client
	// Attempts bounds the attempts per event, the first included; 0 means 5.
	Attempts int
	// Backoff is the wait before the first retry, doubled for each further
	// one, with jitter; 0 means 500 ms.
	Backoff time.Duration
	// OnError, if set, receives from the sink's goroutines each event given
	// up (a 4xx answer, or every attempt failed) and each resolution that
	// could not be queued. It must not block.
	OnError func(error)
}

// config is the internal sender configuration for url.
func (d Delivery) config(url string) webhook.Config {
	return webhook.Config{URL: url, Client: d.Client, MaxAttempts: d.Attempts, BaseBackoff: d.Backoff, OnError: d.OnError}
}

// WebhookOptions configures a [WebhookSink]. The zero value means unsigned
// deliveries with the default [Delivery].
type WebhookOptions struct {
	// Secret, when set, signs every delivery with HMAC-SHA256 (see
	// [WebhookSink]); it is copied.
	Secret []byte
	// Header holds extra headers for every delivery, an Authorization
	// header say; it is copied.
	Header http.Header
	Delivery
}

// WebhookSink posts each incident as a JSON body (the IncidentAttributionV1
// shape) to a URL. Deliveries are queued (bounded; a full queue drops and
// counts) and sent from one background goroutine with bounded retries and
// exponential backoff, honouring Retry-After; the tracker never waits for the
// network. When a secret is set, every request carries
//
//	X-Llmslo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// which the receiver checks with [VerifyWebhook]. Its methods are safe for
// concurrent use.
type WebhookSink struct {
	s *webhook.Sender
}

// NewWebhookSink returns a sink posting incidents to url, an absolute http
// or https URL. It starts one goroutine, stopped by Close (the tracker
// closes the sinks it was given).
func NewWebhookSink(url string, opts WebhookOptions) (*WebhookSink, error) {
	cfg := opts.config(url)
	cfg.Secret, cfg.Header = opts.Secret, opts.Header
	s, err := webhook.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("incident: webhook sink: %w", err)
	}
	return &WebhookSink{s: s}, nil
}

// Send queues inc for delivery; it never blocks on the network.
func (w *WebhookSink) Send(_ context.Context, inc Incident) error {
	body, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("incident: webhook sink: encode incident: %w", err)
	}
	if !w.s.Enqueue(body) {
		return fmt.Errorf("incident: webhook sink: queue full, incident %s dropped", inc.ID)
	}
	return nil
}

// Close delivers what is queued within ctx's deadline and stops the sink's
// goroutine. It is idempotent.
func (w *WebhookSink) Close(ctx context.Context) error { return w.s.Close(ctx) }

// VerifyWebhook checks the X-Llmslo-Signature header of a delivery: one of
// its v1 entries must be the HMAC of body under secret, and its timestamp
// within tolerance of now (0 means 5 minutes). Several v1 entries let a
// sender rotate secrets.
func VerifyWebhook(secret []byte, signature string, body []byte, tolerance time.Duration) error {
	return webhook.Verify(secret, signature, body, time.Now(), tolerance)
}
