package slo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/llmslo/slo/internal/webhook"
)

// PagerDutyEventsURL is the PagerDuty Events API v2 endpoint.
const PagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDutySink sends incidents to PagerDuty as Events API v2 "trigger"
// events, and "resolve" events when the alert condition clears (see
// [PagerDutySink.ResolveWith]). The dedup key is the service, objective and
// rule ("llmslo/<service>/<objective>/<rule>"), so a re-fired condition
// updates the open PagerDuty incident instead of opening another.
//
// Like [WebhookSink] it queues events (bounded; a full queue drops and counts)
// and delivers them from one background goroutine with bounded retries and
// exponential backoff, honouring Retry-After; the tracker never waits for
// the network. Events are delivered in the order they were queued, so a
// resolve never overtakes its trigger.
type PagerDutySink struct {
	s          *webhook.Sender
	routingKey string
	res        resolver
}

// PagerDutyOption configures a [PagerDutySink].
type PagerDutyOption func(*alertConfig)

// alertConfig is the configuration shared by the PagerDuty and Opsgenie sinks.
type alertConfig struct {
	wh      webhook.Config
	baseURL string
}

// PagerDutyURL replaces the Events API endpoint (for a proxy or a test
// receiver). The default is [PagerDutyEventsURL].
func PagerDutyURL(url string) PagerDutyOption {
	return func(c *alertConfig) { c.wh.URL = url }
}

// PagerDutyClient sets the HTTP client; nil is ignored. The default is a
// private client with a 5 s timeout.
func PagerDutyClient(hc *http.Client) PagerDutyOption {
	return func(c *alertConfig) {
		if hc != nil {
			c.wh.Client = hc
		}
	}
}

// PagerDutyRetries sets the delivery attempts per event (default 5) and the
// wait before the first retry (doubled for each further one; 0 keeps the
// default of 500 ms).
func PagerDutyRetries(attempts int, backoff time.Duration) PagerDutyOption {
	return func(c *alertConfig) { c.wh.MaxAttempts, c.wh.BaseBackoff = attempts, backoff }
}

// PagerDutyOnError receives, from the sink's goroutine, each event that was
// given up (a 4xx answer, or every attempt failed). It must not block.
func PagerDutyOnError(f func(error)) PagerDutyOption {
	return func(c *alertConfig) { c.wh.OnError = f }
}

// NewPagerDutySink returns a sink sending to the PagerDuty service whose
// Events API v2 integration has routingKey. It starts one goroutine, stopped
// by Close (the tracker closes the sinks it was given).
func NewPagerDutySink(routingKey string, opts ...PagerDutyOption) (*PagerDutySink, error) {
	if strings.TrimSpace(routingKey) == "" {
		return nil, fmt.Errorf("slo: pagerduty sink: empty routing key")
	}
	cfg := alertConfig{wh: webhook.Config{URL: PagerDutyEventsURL}}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	s, err := webhook.New(cfg.wh)
	if err != nil {
		return nil, fmt.Errorf("slo: pagerduty sink: %w", err)
	}
	p := &PagerDutySink{s: s, routingKey: routingKey}
	p.res.init(p.resolve)
	return p, nil
}

// pdEvent is a PagerDuty Events API v2 event.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"` // trigger, acknowledge, resolve
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
}

type pdPayload struct {
	Summary       string    `json:"summary"`
	Source        string    `json:"source"`
	Severity      string    `json:"severity"` // critical, error, warning, info
	Timestamp     time.Time `json:"timestamp"`
	Component     string    `json:"component,omitempty"`
	Group         string    `json:"group,omitempty"`
	Class         string    `json:"class,omitempty"`
	CustomDetails Incident  `json:"custom_details"`
}

// alertKey is the dedup key / alias of an incident's alert condition.
func alertKey(service, objective, rule string) string {
	k := "llmslo/" + service + "/" + objective + "/" + rule
	if len(k) > 255 {
		k = k[:255]
	}
	return k
}

// incidentSummary is a one-line description of inc, at most n bytes.
func incidentSummary(inc Incident, n int) string {
	s := fmt.Sprintf("SLO %s burning on %s (%s): %s", inc.Objective, inc.Service, inc.Rule, inc.PredictedFaultDomain)
	if inc.PredictedFaultDomain != "" && inc.PredictedFaultDomain != "unknown" {
		s += fmt.Sprintf(" (p=%.2f)", inc.Confidence)
	}
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// Send queues a trigger event for inc; it never blocks on the network.
func (p *PagerDutySink) Send(_ context.Context, inc Incident) error {
	sev := "warning"
	if inc.Severity == "page" {
		sev = "critical"
	}
	ev := pdEvent{
		RoutingKey:  p.routingKey,
		EventAction: "trigger",
		DedupKey:    alertKey(inc.Service, inc.Objective, inc.Rule),
		Client:      "llmslo",
		Payload: &pdPayload{
			Summary:       incidentSummary(inc, 1024),
			Source:        inc.Service,
			Severity:      sev,
			Timestamp:     inc.Time.UTC(),
			Component:     inc.Objective,
			Group:         inc.Cluster,
			Class:         inc.PredictedFaultDomain,
			CustomDetails: inc,
		},
	}
	if err := p.enqueue(ev); err != nil {
		return err
	}
	p.res.opened(inc)
	return nil
}

// Resolve queues a resolve event for the alert condition (service,
// objective, rule) of an earlier incident. [PagerDutySink.ResolveWith] calls
// it when the condition clears; call it directly to resolve by hand.
func (p *PagerDutySink) Resolve(service, objective, rule string) error {
	return p.resolve(service, objective, rule)
}

func (p *PagerDutySink) resolve(service, objective, rule string) error {
	return p.enqueue(pdEvent{RoutingKey: p.routingKey, EventAction: "resolve",
		DedupKey: alertKey(service, objective, rule), Client: "llmslo"})
}

func (p *PagerDutySink) enqueue(ev pdEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("slo: pagerduty sink: encode event: %w", err)
	}
	if !p.s.Enqueue(body) {
		return fmt.Errorf("slo: pagerduty sink: queue full, %s event %s dropped", ev.EventAction, ev.DedupKey)
	}
	return nil
}

// ResolveWith makes the sink resolve what it triggered once the tracker's
// alert condition clears: every interval (0 means the tracker's own
// evaluation interval of 1 s) it reads [Tracker.Budget] and sends a resolve
// for each condition it triggered that no longer holds. It starts one
// goroutine, stopped by Close; calling it again replaces the tracker.
func (p *PagerDutySink) ResolveWith(t *Tracker, interval time.Duration) {
	p.res.watch(t, interval)
}

// Close stops watching for resolutions, delivers what is queued within
// ctx's deadline and stops the sink's goroutine. It is idempotent.
func (p *PagerDutySink) Close(ctx context.Context) error {
	p.res.stop()
	return p.s.Close(ctx)
}

// Stats returns the sink's delivery counters: delivered, dropped, failed,
// retried events and the queue length.
func (p *PagerDutySink) Stats() (delivered, dropped, failed, retries uint64, pending int) {
	st := p.s.Stats()
	return st.Delivered, st.Dropped, st.Failed, st.Retries, st.Pending
}

// resolver remembers the alert conditions a sink opened and, while watching
// a tracker, closes those that stopped holding.
type resolver struct {
	send func(service, objective, rule string) error

	mu   sync.Mutex
	open map[[3]string]bool // service, objective, rule
	quit chan struct{}
	done chan struct{}
}

func (r *resolver) init(send func(service, objective, rule string) error) {
	r.send = send
	r.open = map[[3]string]bool{}
}

func (r *resolver) opened(inc Incident) {
	r.mu.Lock()
	r.open[[3]string{inc.Service, inc.Objective, inc.Rule}] = true
	r.mu.Unlock()
}

func (r *resolver) watch(t *Tracker, interval time.Duration) {
	if t == nil {
		return
	}
	if interval <= 0 {
		interval = time.Second
	}
	r.stop()
	quit, done := make(chan struct{}), make(chan struct{})
	r.mu.Lock()
	r.quit, r.done = quit, done
	r.mu.Unlock()
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				r.check(t)
			}
		}
	}()
}

// check resolves the open conditions of t's service that no longer hold.
func (r *resolver) check(t *Tracker) {
	r.mu.Lock()
	n := len(r.open)
	r.mu.Unlock()
	if n == 0 {
		return
	}
	holding := map[[2]string]bool{}
	for _, b := range t.Budget() {
		for _, rule := range b.Alerting {
			holding[[2]string{b.Objective, rule}] = true
		}
	}
	service := t.cfg.service
	var clear [][3]string
	r.mu.Lock()
	for k := range r.open {
		if k[0] == service && !holding[[2]string{k[1], k[2]}] {
			clear = append(clear, k)
			delete(r.open, k)
		}
	}
	r.mu.Unlock()
	for _, k := range clear {
		if err := r.send(k[0], k[1], k[2]); err != nil {
			t.cfg.errorHandler(err)
		}
	}
}

func (r *resolver) stop() {
	r.mu.Lock()
	quit, done := r.quit, r.done
	r.quit, r.done = nil, nil
	r.mu.Unlock()
	if quit != nil {
		close(quit)
		<-done
	}
}
