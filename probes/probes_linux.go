//go:build linux

package probes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/llmslo/slo/internal/monoclock"
	"golang.org/x/sys/unix"
)

// Start enables the requested signals about one process and returns the
// running Set. Signals that cannot work on this host (no BTF, no
// privileges, no PSI, …) are reported Off or Degraded with a reason in
// [Set.Status]; Start fails only on an invalid Config or when every
// requested signal is off (the error then joins the reasons and matches
// [os.ErrPermission] or [ErrNotSupported] where one applies). Cancelling
// ctx closes the Set, like [Set.Close].
func Start(ctx context.Context, cfg Config) (*Set, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	pid := cfg.Pid
	if pid == 0 {
		pid = os.Getpid()
	}
	target := uint32(pid)
	if cfg.AllProcesses {
		target = 0 // every process: the BPF programs' target_tgid 0
	}
	s := newSet(cfg, target)
	// Wall-clock minus CLOCK_MONOTONIC: the Time of every event.
	offset, err := monoclock.WallOffset()
	if err != nil {
		return nil, fmt.Errorf("probes: read clocks: %w", err)
	}
	if cfg.wantsKernel() && cfg.KernelPath != PathSidecar && cfg.KernelPath != PathFloor {
		s.kern = loadKernel(s, offset)
	}
	pollers := s.setupPollers(pid, offset)

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.startSidecar(bg, offset)
	if err := s.noneOn(); err != nil {
		s.Close()
		return nil, err
	}
	s.run(ctx, bg, pollers)
	return s, nil
}

// validate checks what withDefaults cannot repair.
func (cfg Config) validate() error {
	for _, sig := range cfg.Signals {
		if !sig.valid() {
			return fmt.Errorf("probes: invalid signal %d", sig)
		}
	}
	if len(cfg.DNSPorts) > 16 {
		return fmt.Errorf("probes: %d DNS ports, at most 16", len(cfg.DNSPorts))
	}
	if n := cfg.RingBufferSize; n != 0 && (n < os.Getpagesize() || n&(n-1) != 0) {
		return fmt.Errorf("probes: ring buffer size %d is not a power of two ≥ the page size", n)
	}
	if cfg.Pid < 0 {
		return fmt.Errorf("probes: invalid pid %d", cfg.Pid)
	}
	return nil
}

// wantsKernel reports whether any wanted signal needs eBPF.
func (cfg Config) wantsKernel() bool {
	for _, sig := range AllSignals() {
		if sig.kernel() && cfg.wants(sig) {
			return true
		}
	}
	return false
}

// noneOn returns the error Start fails with when no wanted signal is on and
// no sidecar session may bring one: the reasons, marked with
// [os.ErrPermission] without the privileges to load BPF, else with
// [ErrNotSupported]. It returns nil when a signal works.
func (s *Set) noneOn() error {
	var errs []error
	for _, st := range s.Status() {
		if !s.cfg.wants(st.Signal) {
			continue
		}
		if st.State != Off {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %s", st.Signal, st.Reason))
	}
	if s.side != nil {
		return nil
	}
	err := errors.Join(errs...)
	if os.Geteuid() != 0 && !haveCap(unix.CAP_BPF) {
		return fmt.Errorf("probes: no signal available: %w (%w)", err, os.ErrPermission)
	}
	return fmt.Errorf("probes: no signal available: %w (%w)", err, ErrNotSupported)
}

// run starts the Set's goroutines: the ring-buffer reader, the DNS idler
// and the overhead guard with BPF, the pollers, and the watch on the
// caller's ctx (bg is the Set's own context, cancelled by Close).
func (s *Set) run(ctx, bg context.Context, pollers []*poller) {
	if k, ok := s.kern.(*bpfKernel); ok && k != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); k.readLoop(s) }()
		if k.dns != nil {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); k.idleDNS(bg) }()
		}
		if s.cfg.OverheadBudget > 0 {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.guard(bg) }()
		}
	}
	if len(pollers) > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.pollLoop(bg, pollers) }()
	}
	// Close when the caller's ctx ends.
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-bg.Done():
		}
	}()
}

// haveCap reports whether capability c is in the effective set.
func haveCap(c int) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("CapEff:")); ok {
			var mask uint64
			_, err := fmt.Sscanf(strings.TrimSpace(string(v)), "%x", &mask)
			return err == nil && mask&(1<<uint(c)) != 0
		}
	}
	return false
}
