package incident

import (
	"cmp"
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

// OpsgenieOptions configures an [OpsgenieSink]. The zero value sends to
// [OpsgenieAPIURL] with the default [Delivery].
type OpsgenieOptions struct {
	// URL replaces the API base URL, e.g. the EU instance or a test
	// receiver. Empty means OpsgenieAPIURL.
	URL string
	Delivery
}

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
// close request but finds no open alert. Its methods are safe for
// concurrent use.
type OpsgenieSink struct {
	base   string // API base URL, without a trailing slash
	wh     webhook.Config
	create *webhook.Sender
	res    resolver

	mu     sync.Mutex
	closes map[string]*webhook.Sender // alias → close queue
	closed bool
}

// NewOpsgenieSink returns a sink creating alerts with the API integration
// key apiKey. It starts one goroutine (plus one per alias it has to close),
// stopped by Close (the tracker closes the sinks it was given).
func NewOpsgenieSink(apiKey string, opts OpsgenieOptions) (*OpsgenieSink, error) {
	if strings.TrimSpace(apiKey) == "" {
		return nil, errors.New("incident: opsgenie sink: empty api key")
	}
	base := strings.TrimRight(cmp.Or(opts.URL, OpsgenieAPIURL), "/")
	wc := opts.config(base + "/v2/alerts")
	wc.Header = http.Header{"Authorization": []string{"GenieKey " + apiKey}}
	s, err := webhook.New(wc)
	if err != nil {
		return nil, fmt.Errorf("incident: opsgenie sink: %w", err)
	}
	o := &OpsgenieSink{base: base, wh: wc, create: s, closes: map[string]*webhook.Sender{}}
	o.res.init(o.Resolve, opts.OnError)
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
func opsgenieAlias(c Condition) string {
	return strings.ReplaceAll(alertKey(c), "/", ":")
}

// Send queues the creation of an alert for inc; it never blocks on the network.
func (o *OpsgenieSink) Send(_ context.Context, inc Incident) error {
	prio := "P3"
	if inc.Severity == SeverityPage {
		prio = "P1"
	}
	tags := []string{"llmslo", inc.Severity}
	if inc.PredictedFaultDomain != "" {
		tags = append(tags, inc.PredictedFaultDomain)
	}
	body, err := json.Marshal(ogAlert{
		Message:     summary(inc, 130),
		Alias:       opsgenieAlias(inc.Condition()),
		Description: opsgenieDescription(inc),
		Tags:        tags,
		Details:     opsgenieDetails(inc),
		Entity:      inc.Service,
		Source:      "llmslo",
		Priority:    prio,
	})
	if err != nil {
		return fmt.Errorf("incident: opsgenie sink: encode alert: %w", err)
	}
	if !o.create.Enqueue(body) {
		return fmt.Errorf("incident: opsgenie sink: queue full, incident %s dropped", inc.ID)
	}
	o.res.opened(inc)
	return nil
}

func opsgenieDetails(inc Incident) map[string]string {
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
	return details
}

// opsgenieDescription is the alert's description: the summary, the
// hypotheses and the evidence, at most 15000 bytes.
func opsgenieDescription(inc Incident) string {
	var desc strings.Builder
	fmt.Fprintf(&desc, "%s\n\nFault hypotheses:\n", summary(inc, 1024))
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
	return d
}

// Resolve queues the closing of the alert of the alert condition c.
// [OpsgenieSink.ResolveWith] calls it when the condition clears; call it
// directly to close by hand.
func (o *OpsgenieSink) Resolve(c Condition) error {
	alias := opsgenieAlias(c)
	s, err := o.closeQueue(alias)
	if err != nil {
		return err
	}
	if !s.Enqueue([]byte(`{"source":"llmslo","note":"SLO alert condition cleared"}`)) {
		return fmt.Errorf("incident: opsgenie sink: queue full, close of %s dropped", alias)
	}
	return nil
}

// closeQueue returns the delivery queue of alias's close requests, creating
// it on first use.
func (o *OpsgenieSink) closeQueue(alias string) (*webhook.Sender, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.closes[alias]; s != nil {
		return s, nil
	}
	if o.closed {
		return nil, errors.New("incident: opsgenie sink: closed")
	}
	if len(o.closes) >= maxOpsgenieAliases {
		return nil, fmt.Errorf("incident: opsgenie sink: more than %d aliases to close", maxOpsgenieAliases)
	}
	wc := o.wh
	wc.URL = o.base + "/v2/alerts/" + url.PathEscape(alias) + "/close?identifierType=alias"
	wc.QueueSize = 8
	s, err := webhook.New(wc)
	if err != nil {
		return nil, fmt.Errorf("incident: opsgenie sink: %w", err)
	}
	o.closes[alias] = s
	return s, nil
}

// ResolveWith makes the sink close the alerts it created once their alert
// condition clears: every interval (0 means 1 s) it asks m about each
// condition it created an alert for and closes those that m judges and
// finds no longer holding. It starts one goroutine, stopped by Close;
// calling it again replaces m.
func (o *OpsgenieSink) ResolveWith(m Monitor, interval time.Duration) {
	o.res.watch(m, interval)
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
