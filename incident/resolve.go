package incident

import (
	"fmt"
	"sync"
	"time"
)

// alertKey is the dedup key (PagerDuty) or alias (Opsgenie) of an alert
// condition, at most 255 bytes.
func alertKey(c Condition) string {
	k := "llmslo/" + c.Service + "/" + c.Objective + "/" + c.Rule
	if len(k) > 255 {
		k = k[:255]
	}
	return k
}

// summary is a one-line description of inc, at most n bytes.
func summary(inc Incident, n int) string {
	s := fmt.Sprintf("SLO %s burning on %s (%s): %s", inc.Objective, inc.Service, inc.Rule, inc.PredictedFaultDomain)
	if inc.PredictedFaultDomain != "" && inc.PredictedFaultDomain != "unknown" {
		s += fmt.Sprintf(" (p=%.2f)", inc.Confidence)
	}
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// resolver remembers the alert conditions a sink opened and, while watching
// a [Monitor], resolves those that stopped holding.
type resolver struct {
	send    func(Condition) error
	onError func(error)

	mu   sync.Mutex
	open map[Condition]bool
	quit chan struct{}
	done chan struct{}
}

func (r *resolver) init(send func(Condition) error, onError func(error)) {
	r.send, r.onError = send, onError
	r.open = map[Condition]bool{}
}

func (r *resolver) opened(inc Incident) {
	r.mu.Lock()
	r.open[inc.Condition()] = true
	r.mu.Unlock()
}

// watch starts checking m every interval (0 means 1 s), replacing the
// monitor watched before.
func (r *resolver) watch(m Monitor, interval time.Duration) {
	if m == nil {
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
				r.check(m)
			}
		}
	}()
}

// check resolves the open conditions that m judges and finds no longer
// holding. m is asked without the lock held.
func (r *resolver) check(m Monitor) {
	r.mu.Lock()
	open := make([]Condition, 0, len(r.open))
	for c := range r.open {
		open = append(open, c)
	}
	r.mu.Unlock()
	for _, c := range open {
		if holding, ok := m.Holding(c); !ok || holding {
			continue
		}
		r.mu.Lock()
		was := r.open[c]
		delete(r.open, c)
		r.mu.Unlock()
		if !was {
			continue // resolved by hand meanwhile
		}
		if err := r.send(c); err != nil && r.onError != nil {
			r.onError(err)
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
