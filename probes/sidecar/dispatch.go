//go:build linux

package sidecar

import (
	"time"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/internal/wire"
)

// dispatcher routes events to the clients of their cgroup. It is used by
// Serve's goroutine only.
type dispatcher struct {
	s       *Server
	frame   []byte
	pids    map[uint32]pidEntry
	clients []*client
}

type pidEntry struct {
	cgroup uint64
	at     time.Time
}

// pidTTL bounds how long a pid→cgroup resolution is trusted (pid reuse).
const pidTTL = 5 * time.Second

// maxPids bounds the pid cache.
const maxPids = 8192

func newDispatcher(s *Server) *dispatcher {
	return &dispatcher{s: s, pids: map[uint32]pidEntry{}, frame: make([]byte, 0, 1024)}
}

func (d *dispatcher) cgroupOf(ev *probes.Event) uint64 {
	if ev.CgroupID != 0 {
		return ev.CgroupID
	}
	if ev.PID == 0 || !d.s.hostPIDs {
		return 0
	}
	now := time.Now()
	if e, ok := d.pids[ev.PID]; ok && now.Sub(e.at) < pidTTL {
		return e.cgroup
	}
	cg, err := d.s.cgroups.id(int(ev.PID))
	if err != nil {
		cg = 0
	}
	if len(d.pids) >= maxPids {
		clear(d.pids)
	}
	d.pids[ev.PID] = pidEntry{cgroup: cg, at: now}
	return cg
}

func (d *dispatcher) dispatch(ev *probes.Event) {
	s := d.s
	s.events.Add(1)
	if ev.Signal >= 32 {
		return
	}
	cg := d.cgroupOf(ev)
	if cg == 0 {
		s.unattributed.Add(1)
		return
	}
	bit := uint32(1) << ev.Signal
	s.mu.RLock()
	d.clients = append(d.clients[:0], s.byCgroup[cg]...)
	s.mu.RUnlock()
	d.frame = d.frame[:0]
	for _, c := range d.clients {
		if c.mask&bit == 0 {
			continue
		}
		if len(d.frame) == 0 {
			d.frame = wire.AppendFrame(d.frame[:0], wire.TypeEvent, nil)
			d.frame = probes.AppendRecord(d.frame, ev)
			n := len(d.frame) - 4
			d.frame[0], d.frame[1], d.frame[2], d.frame[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		}
		if c.enqueue(d.frame, false) {
			s.delivered.Add(1)
		} else {
			s.dropped.Add(1)
		}
	}
	clear(d.clients)
}
