package probes

import "sync"

// subscriber is one bounded delivery channel.
type subscriber struct {
	ch chan Event
}

// hub fans events out to subscribers without ever blocking the producer:
// a full channel drops the event for that subscriber and counts it.
type hub struct {
	mu     sync.RWMutex
	subs   []*subscriber
	closed bool
}

// subscribe adds a subscriber with a channel of capacity n (at least 1).
func (h *hub) subscribe(n int) (*subscriber, bool) {
	if n < 1 {
		n = 1
	}
	sub := &subscriber{ch: make(chan Event, n)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(sub.ch)
		return sub, false
	}
	h.subs = append(h.subs, sub)
	return sub, true
}

// unsubscribe removes sub and closes its channel; it is idempotent.
func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, s := range h.subs {
		if s == sub {
			h.subs = append(h.subs[:i:i], h.subs[i+1:]...)
			close(sub.ch)
			return
		}
	}
}

// publish offers ev to every subscriber and returns how many dropped it.
func (h *hub) publish(ev *Event) (dropped uint64) {
	h.mu.RLock()
	for _, s := range h.subs {
		select {
		case s.ch <- *ev:
		default:
			dropped++
		}
	}
	h.mu.RUnlock()
	return dropped
}

// close closes every subscriber channel; later subscriptions get a closed
// channel.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, s := range h.subs {
		close(s.ch)
	}
	h.subs = nil
}
