//go:build linux

package sidecar

import (
	"time"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/internal/wire"
)

// dispatcher routes events to the clients of their cgroup. It is used by
// Serve's goroutine only.
//
// The cgroup is the one the kernel stamped on the event when it happened
// (the task's cgroup, or for socket events the cgroup the socket was
// created in). No pid is resolved to a cgroup here: a pid read later may
// name another process, in another tenant, than the one the event was
// about. An event without a stamp goes to nobody.
type dispatcher struct {
	s       *Server
	frame   []byte
	clients []*client
}

func newDispatcher(s *Server) *dispatcher {
	return &dispatcher{s: s, frame: make([]byte, 0, 1024)}
}

func (d *dispatcher) dispatch(ev *probes.Event) {
	s := d.s
	s.events.Add(1)
	if ev.Signal >= 32 {
		return
	}
	cg := ev.CgroupID
	if cg == 0 {
		s.unattributed.Add(1)
		return
	}
	bit := uint32(1) << ev.Signal
	d.clients = d.clients[:0]
	s.mu.RLock()
	for _, c := range s.byCgroup[cg] {
		if c.mask&bit != 0 {
			d.clients = append(d.clients, c)
		}
	}
	s.mu.RUnlock()
	if len(d.clients) == 0 {
		return
	}
	// One tenant per cgroup: every client of cg shares its budget, charged
	// only for events one of them asked for.
	if ten := d.clients[0].ten; !ten.allow(time.Now(), s.cfg.TenantEventRate, float64(s.cfg.TenantEventBurst)) {
		for _, c := range d.clients {
			c.countDrop()
			ten.overBudget.Add(1)
			s.overBudget.Add(1)
		}
		clear(d.clients)
		return
	}
	d.frame = d.frame[:0]
	for _, c := range d.clients {
		if len(d.frame) == 0 {
			d.frame = wire.AppendFrame(d.frame[:0], wire.TypeEvent, nil)
			d.frame = probes.AppendRecord(d.frame, ev)
			n := len(d.frame) - 4
			d.frame[0], d.frame[1], d.frame[2], d.frame[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		}
		if c.enqueue(d.frame, false) {
			s.delivered.Add(1)
			c.ten.delivered.Add(1)
		} else {
			s.dropped.Add(1)
			c.ten.dropped.Add(1)
		}
	}
	clear(d.clients)
}
