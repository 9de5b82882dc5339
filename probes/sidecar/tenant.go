//go:build linux

package sidecar

import (
	"sort"
	"sync/atomic"
	"time"
)

// A tenant is the set of clients of one cgroup: the unit of isolation and
// of fairness. Its connections count against [Config].MaxClientsPerCgroup
// from authentication on (handshakes included) and its events against
// [Config].TenantEventRate.
type tenant struct {
	cgroup uint64
	conns  int // connections, handshaking ones included; under Server.mu

	// The event budget, a token bucket used by the dispatcher only.
	tokens float64
	last   time.Time

	delivered, dropped, overBudget, rejected atomic.Uint64
}

// TenantStats are the counters of one tenant (the clients of one cgroup)
// in [Stats].
type TenantStats struct {
	// Cgroup is the tenant's cgroup v2 id.
	Cgroup uint64 `json:"cgroup"`
	// Connections counts its connections now, handshaking ones included.
	Connections int `json:"connections"`
	// Delivered counts event frames queued to its clients.
	Delivered uint64 `json:"delivered"`
	// Dropped counts event frames lost because a client's queue was full.
	Dropped uint64 `json:"dropped"`
	// OverBudget counts events not delivered because the tenant exceeded
	// its event budget ([Config].TenantEventRate), once per client that
	// wanted them.
	OverBudget uint64 `json:"over_budget"`
	// Rejected counts its connections refused over
	// [Config].MaxClientsPerCgroup.
	Rejected uint64 `json:"rejected"`
}

// admit counts a new authenticated connection of cgroup; it returns nil
// when the cgroup is at its limit (the rejection is counted).
func (s *Server) admit(cgroup uint64) *tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[cgroup]
	if t == nil {
		t = &tenant{cgroup: cgroup, tokens: float64(s.cfg.TenantEventBurst), last: time.Now()}
		s.tenants[cgroup] = t
	}
	if t.conns >= s.cfg.MaxClientsPerCgroup {
		t.rejected.Add(1)
		return nil
	}
	t.conns++
	return t
}

// release ends a connection admitted for t; the tenant is forgotten with
// its last connection.
func (s *Server) release(t *tenant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.conns--
	if t.conns == 0 && s.tenants[t.cgroup] == t {
		delete(s.tenants, t.cgroup)
	}
}

// allow takes one event from t's budget at now. Used by the dispatcher
// only.
func (t *tenant) allow(now time.Time, rate, burst float64) bool {
	t.tokens = min(burst, t.tokens+now.Sub(t.last).Seconds()*rate)
	t.last = now
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}

// tenantStats returns the counters of the current tenants by cgroup id.
// The caller holds s.mu.
func (s *Server) tenantStats() []TenantStats {
	out := make([]TenantStats, 0, len(s.tenants))
	for _, t := range s.tenants {
		out = append(out, TenantStats{
			Cgroup: t.cgroup, Connections: t.conns,
			Delivered: t.delivered.Load(), Dropped: t.dropped.Load(),
			OverBudget: t.overBudget.Load(), Rejected: t.rejected.Load(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cgroup < out[j].Cgroup })
	return out
}
