package incident

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llmslo/slo/internal/webhook"
)

// PagerDutyEventsURL is the PagerDuty Events API v2 endpoint.
const PagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDutyOptions configures a [PagerDutySink]. The zero value sends to
// [PagerDutyEventsURL] with the default [Delivery].
type PagerDutyOptions struct {
	// URL replaces the Events API endpoint (a proxy, a test receiver).
	// Empty means PagerDutyEventsURL.
	URL string
	Delivery
}

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
// resolve never overtakes its trigger. Its methods are safe for concurrent
// use.
type PagerDutySink struct {
	s          *webhook.Sender
	routingKey string
	res        resolver
}

// NewPagerDutySink returns a sink sending to the PagerDuty service whose
// Events API v2 integration has routingKey. It starts one goroutine, stopped
// by Close (the tracker closes the sinks it was given).
func NewPagerDutySink(routingKey string, opts PagerDutyOptions) (*PagerDutySink, error) {
	if strings.TrimSpace(routingKey) == "" {
		return nil, errors.New("incident: pagerduty sink: empty routing key")
	}
	s, err := webhook.New(opts.config(cmp.Or(opts.URL, PagerDutyEventsURL)))
	if err != nil {
		return nil, fmt.Errorf("incident: pagerduty sink: %w", err)
	}
	p := &PagerDutySink{s: s, routingKey: routingKey}
	p.res.init(p.Resolve, opts.OnError)
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

// Send queues a trigger event for inc; it never blocks on the network.
func (p *PagerDutySink) Send(_ context.Context, inc Incident) error {
	sev := "warning"
	if inc.Severity == SeverityPage {
		sev = "critical"
	}
	ev := pdEvent{
		RoutingKey:  p.routingKey,
		EventAction: "trigger",
		DedupKey:    alertKey(inc.Condition()),
		Client:      "llmslo",
		Payload: &pdPayload{
			Summary:       summary(inc, 1024),
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

// Resolve queues a resolve event for the alert condition c of an earlier
// incident. [PagerDutySink.ResolveWith] calls it when the condition clears;
// call it directly to resolve by hand.
func (p *PagerDutySink) Resolve(c Condition) error {
	return p.enqueue(pdEvent{RoutingKey: p.routingKey, EventAction: "resolve", DedupKey: alertKey(c), Client: "llmslo"})
}

func (p *PagerDutySink) enqueue(ev pdEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("incident: pagerduty sink: encode event: %w", err)
	}
	if !p.s.Enqueue(body) {
		return fmt.Errorf("incident: pagerduty sink: queue full, %s event %s dropped", ev.EventAction, ev.DedupKey)
	}
	return nil
}

// ResolveWith makes the sink resolve what it triggered once the alert
// condition clears: every interval (0 means 1 s, the tracker's own
// evaluation interval) it asks m about each condition it triggered and
// sends a resolve for each that m judges and finds no longer holding. It
// starts one goroutine, stopped by Close; calling it again replaces m.
func (p *PagerDutySink) ResolveWith(m Monitor, interval time.Duration) {
	p.res.watch(m, interval)
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
