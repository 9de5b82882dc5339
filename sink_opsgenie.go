package slo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/llmslo/slo/internal/webhook"
)

// OpsgenieAPIURL is the Opsgenie API base URL (US instance); the EU instance
// is https://api.eu.opsgenie.com.
const OpsgenieAPIURL = "https://api.opsgenie.com"

// maxOpsgenieAliases bounds the alert aliases a sink closes (one delivery
// queue each); there is one per objective and rule, so a handful in practice.
const maxOpsgenieAliases = 64

// OpsgenieSink creates an Opsgenie alert per incident (Alert API v2, POST
// /v2/alerts, authenticated with "Authorization: GenieKey <key>") and closes
// it when the alert condition clears (see [OpsgenieSink.ResolveWith]). The
// alert alias is the service, objective and rule, so Opsgenie de-duplicates
// re-fired conditions into the open alert.
//
// Deliveries are queued (bounded; a full queue drops and counts) and sent
// from background goroutines with bounded retries and exponential backoff,
// honouring Retry-After; the tracker never waits for the network. Closes go
// through a queue of their own per alias, so a close may reach Opsgenie
// before a create that is still being retried; Opsgenie then answers the
// close request but finds no open alert.
type OpsgenieSink struct {
	cfg    alertConfig
	create *webhook.Sender
	res    resolver

	mu     sync.Mutex
	closes map[string]*webhook.Sender // alias → close queue
	closed bool
}

// OpsgenieOption configures an [OpsgenieSink].
type OpsgenieOption func(*alertConfig)

// OpsgenieURL replaces the API base URL, e.g. the EU instance or a test
// receiver. The default is [OpsgenieAPIURL].
func OpsgenieURL(base string) OpsgenieOption {
	return func(c *alertConfig) { c.baseURL = strings.TrimRight(base, "/") }
}

// OpsgenieClient sets the HTTP client; nil is ignored. The default is a
// private client with a 5 s timeout.
func OpsgenieClient(hc *http.Client) OpsgenieOption {
	return func(c *alertConfig) {
		if hc != nil {
			c.wh.Client = hc
		}
	}
}

// OpsgenieRetries sets the delivery attempts per request (default 5) and
// the wait before the first retry (0 keeps the default of 500 ms).
func OpsgenieRetries(attempts int, backoff time.Duration) OpsgenieOption {
	return func(c *alertConfig) { c.wh.MaxAttempts, c.wh.BaseBackoff = attempts, backoff }
}

// OpsgenieOnError receives each request that was given up. It must not block.
func OpsgenieOnError(f func(error)) OpsgenieOption {
	return func(c *alertConfig) { c.wh.OnError = f }
}

// NewOpsgenieSink returns a sink creating alerts with the API integration
// key apiKey. It starts one goroutine (plus one per alias it has to close),
// stopped by Close (the tracker closes the sinks it was given).
func NewOpsgenieSink(apiKey string, opts ...OpsgenieOption) (*OpsgenieSink, error) {
	if strings.TrimSpace(apiKey) == "" {
		return nil, errors.New("slo: opsgenie sink: empty api key")
	}
	cfg := alertConfig{baseURL: OpsgenieAPIURL}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	cfg.wh.Header = http.Header{"Authorization": []string{"GenieKey " + apiKey}}
	wc := cfg.wh
	wc.URL = cfg.baseURL + "/v2/alerts"
	s, err := webhook.New(wc)
	if err != nil {
		return nil, fmt.Errorf("slo: opsgenie sink: %w", err)
	}
	o := &OpsgenieSink{cfg: cfg, create: s, closes: map[string]*webhook.Sender{}}
	o.res.init(o.close)
	return o, nil
}

// ogAlert is an Opsgenie create-alert request.
type ogAlert struct {
	Message     string            `json:"message"` // ≤ 130 characters
	Alias       string            `json:"alias"`   // ≤ 512 characters
	Description string            `json:"description,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source,omitempty"`
	Priority    string            `json:"priority,omitempty"` // P1..P5
}

// opsgenieAlias is the alias of an alert condition (no slashes: it goes in
// the close URL's path).
func opsgenieAlias(service, objective, rule string) string {
	return strings.ReplaceAll(alertKey(service, objective, rule), "/", ":")
}

// Send queues the creation of an alert for inc; it never blocks on the network.
func (o *OpsgenieSink) Send(_ context.Context, inc Incident) error {
	prio := "P3"
	if inc.Severity == "page" {
		prio = "P1"
	}
	details := map[string]string{
		"incident_id":            inc.ID,
		"objective":              inc.Objective,
		"rule":                   inc.Rule,
		"severity":               inc.Severity,
		"predicted_fault_domain": inc.PredictedFaultDomain,
		"confidence":             strconv.FormatFloat(inc.Confidence, 'f', 3, 64),
		"burn_rate":              strconv.FormatFloat(inc.Impact.BurnRate, 'f', 2, 64),
		"sli":                    inc.Impact.SLI,
	}
	if len(inc.TraceIDs) > 0 {
		details["trace_ids"] = strings.Join(inc.TraceIDs, ",")
	}
	var desc strings.Builder
	fmt.Fprintf(&desc, "%s\n\nFault hypotheses:\n", incidentSummary(inc, 1024))
	for _, h := range inc.Hypotheses {
		fmt.Fprintf(&desc, "- %s: %.3f (%s)\n", h.Domain, h.Posterior, strings.Join(h.Evidence, ", "))
	}
	if len(inc.Evidence) > 0 {
		desc.WriteString("\nEvidence:\n")
		for _, e := range inc.Evidence {
			fmt.Fprintf(&desc, "- %s = %g (%s)\n", e.Signal, e.Value, e.Source)
		}
	}
	d := desc.String()
	if len(d) > 15000 {
		d = d[:15000]
	}
	tags := []string{"llmslo", inc.Severity}
	if inc.PredictedFaultDomain != "" {
		tags = append(tags, inc.PredictedFaultDomain)
	}
	body, err := json.Marshal(ogAlert{
		Message:     incidentSummary(inc, 130),
		Alias:       opsgenieAlias(inc.Service, inc.Objective, inc.Rule),
		Description: d,
		Tags:        tags,
		Details:     details,
		Entity:      inc.Service,
		Source:      "llmslo",
		Priority:    prio,
	})
	if err != nil {
		return fmt.Errorf("slo: opsgenie sink: encode alert: %w", err)
	}
	if !o.create.Enqueue(body) {
		return fmt.Errorf("slo: opsgenie sink: queue full, incident %s dropped", inc.ID)
	}
	o.res.opened(inc)
	return nil
}

// Resolve queues the closing of the alert of an alert condition (service,
// objective, rule). [OpsgenieSink.ResolveWith] calls it when the condition
// clears; call it directly to close by hand.
func (o *OpsgenieSink) Resolve(service, objective, rule string) error {
	return o.close(service, objective, rule)
}

func (o *OpsgenieSink) close(service, objective, rule string) error {
	alias := opsgenieAlias(service, objective, rule)
	o.mu.Lock()
	s := o.closes[alias]
	if s == nil {
		if o.closed {
			o.mu.Unlock()
			return errors.New("slo: opsgenie sink: closed")
		}
		if len(o.closes) >= maxOpsgenieAliases {
			o.mu.Unlock()
			return fmt.Errorf("slo: opsgenie sink: more than %d aliases to close", maxOpsgenieAliases)
		}
		wc := o.cfg.wh
		wc.URL = o.cfg.baseURL + "/v2/alerts/" + url.PathEscape(alias) + "/close?identifierType=alias"
		wc.QueueSize = 8
		var err error
		if s, err = webhook.New(wc); err != nil {
			o.mu.Unlock()
			return fmt.Errorf("slo: opsgenie sink: %w", err)
		}
		o.closes[alias] = s
	}
	o.mu.Unlock()
	if !s.Enqueue([]byte(`{"source":"llmslo","note":"SLO alert condition cleared"}`)) {
		return fmt.Errorf("slo: opsgenie sink: queue full, close of %s dropped", alias)
	}
	return nil
}

// ResolveWith makes the sink close the alerts it created once the tracker's
// alert condition clears: every interval (0 means 1 s) it reads
// [Tracker.Budget] and closes each alert whose condition no longer holds. It
// starts one goroutine, stopped by Close; calling it again replaces the
// tracker.
func (o *OpsgenieSink) ResolveWith(t *Tracker, interval time.Duration) {
	o.res.watch(t, interval)
}

// Close stops watching for resolutions, delivers what is queued within
// ctx's deadline and stops the sink's goroutines. It is idempotent.
func (o *OpsgenieSink) Close(ctx context.Context) error {
	o.res.stop()
	o.mu.Lock()
	o.closed = true
	senders := make([]*webhook.Sender, 0, len(o.closes))
	for _, s := range o.closes {
		senders = append(senders, s)
	}
	o.mu.Unlock()
	errs := []error{o.create.Close(ctx)}
	for _, s := range senders {
		errs = append(errs, s.Close(ctx))
	}
	return errors.Join(errs...)
}
