package slo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/llmslo/slo/internal/webhook"
)

// WebhookSink posts each incident as a JSON body (the IncidentAttributionV1
// shape) to a URL. Deliveries are queued (bounded; a full queue drops and
// counts) and sent from one background goroutine with bounded retries and
// exponential backoff, honouring Retry-After; the tracker never waits for the
// network. When a secret is set, every request carries
//
//	X-Llmslo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// which the receiver checks with [VerifyWebhook].
type WebhookSink struct {
	s *webhook.Sender
}

// WebhookOption configures a [WebhookSink].
type WebhookOption func(*webhook.Config)

// WebhookSecret sets the HMAC-SHA256 signing secret. The default is none (unsigned).
func WebhookSecret(secret []byte) WebhookOption {
	return func(c *webhook.Config) { c.Secret = secret }
}

// WebhookHeader adds a header to every delivery (an Authorization header, say).
func WebhookHeader(key, value string) WebhookOption {
	return func(c *webhook.Config) {
		if c.Header == nil {
			c.Header = http.Header{}
		}
		c.Header.Add(key, value)
	}
}

// WebhookClient sets the HTTP client. The default is a private client with a
// 5 s timeout. A nil client is ignored.
func WebhookClient(hc *http.Client) WebhookOption {
	return func(c *webhook.Config) {
		if hc != nil {
			c.Client = hc
		}
	}
}

// WebhookRetries sets the number of delivery attempts (default 5).
func WebhookRetries(attempts int) WebhookOption {
	return func(c *webhook.Config) { c.MaxAttempts = attempts }
}

// NewWebhookSink returns a sink posting incidents to url. It starts one
// goroutine, stopped by Close (the tracker closes the sinks it was given).
func NewWebhookSink(url string, opts ...WebhookOption) (*WebhookSink, error) {
	cfg := webhook.Config{URL: url}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	s, err := webhook.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("slo: webhook sink: %w", err)
	}
	return &WebhookSink{s: s}, nil
}

// Send queues inc for delivery; it never blocks on the network.
func (w *WebhookSink) Send(_ context.Context, inc Incident) error {
	body, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("slo: webhook sink: encode incident: %w", err)
	}
	if !w.s.Enqueue(body) {
		return fmt.Errorf("slo: webhook sink: queue full, incident %s dropped", inc.ID)
	}
	return nil
}

// Close delivers what is queued within ctx's deadline and stops the sink's
// goroutine. It is idempotent.
func (w *WebhookSink) Close(ctx context.Context) error { return w.s.Close(ctx) }

// VerifyWebhook checks the X-Llmslo-Signature header of a delivery: the HMAC
// must match body under secret and the timestamp be within tolerance of now.
func VerifyWebhook(secret []byte, signature string, body []byte, tolerance time.Duration) error {
	return webhook.Verify(secret, signature, body, time.Now(), tolerance)
}
