//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// schedSwitch is the one sched_switch program of the scheduler signals
// (RunqueueDelay, SyscallLatency; internal/bpf/sched.bpf.c): the kernel
// dispatches it once per context switch for both. Each signal switches its
// own part with a variable of the object (runq_on, sys_on); the program is
// attached while either is on. Its run time (Set.Stats, the overhead guard)
// counts for each signal that is on: shedding one signal saves only its
// part, shedding both detaches the program. Guarded by bpfKernel.mu after
// loading.
type schedSwitch struct {
	coll *ebpf.Collection
	link link.Link
	on   int // signals whose part is switched on
}

// schedSecond makes sig's part of the shared sched object one of its
// attachments, the object being loaded once for both scheduler signals.
func (k *bpfKernel) schedSecond(s *Set, sig Signal, obj object) error {
	sw := k.sched
	gate := sw.coll.Variables[obj.gate]
	prog := sw.coll.Programs["slo_sched_switch"]
	if gate == nil || prog == nil {
		return &LoadError{Probe: obj.name, Err: fmt.Errorf("object lacks %s or slo_sched_switch", obj.gate)}
	}
	k.atts[sig] = append(k.atts[sig], &attachment{name: "slo_sched_switch", prog: prog,
		attach: func(p *ebpf.Program) (link.Link, error) { return sw.acquire(p, gate) }})
	k.hists[sig], k.histSelf[sig] = sw.coll.Maps[obj.hist], sw.coll.Maps[obj.hist+"_self"]
	return k.attachSignal(s, sig)
}

// acquire switches a signal's part on (gate = 1) and attaches the program
// if it is the first part on. The returned link's Close switches the part
// off and detaches the program after the last one.
func (sw *schedSwitch) acquire(p *ebpf.Program, gate *ebpf.Variable) (link.Link, error) {
	if err := gate.Set(uint32(1)); err != nil {
		return nil, fmt.Errorf("switch on: %w", err)
	}
	if sw.on == 0 {
		l, err := attachTracing(p)
		if err != nil {
			_ = gate.Set(uint32(0))
			return nil, err
		}
		sw.link = l
	}
	sw.on++
	return &schedPart{Link: sw.link, sw: sw, gate: gate}, nil
}

// schedPart is one signal's hold on the shared program's link.
type schedPart struct {
	link.Link
	sw     *schedSwitch
	gate   *ebpf.Variable
	closed bool
}

// Close switches the signal's part off; the last part detaches the program.
func (p *schedPart) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	err := p.gate.Set(uint32(0))
	p.sw.on--
	if p.sw.on == 0 && p.sw.link != nil {
		err = errors.Join(err, p.sw.link.Close())
		p.sw.link = nil
	}
	return err
}
