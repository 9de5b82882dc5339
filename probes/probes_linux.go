//go:build linux

package probes

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"time"

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
	for _, sig := range cfg.Signals {
		if !sig.valid() {
			return nil, fmt.Errorf("probes: invalid signal %d", sig)
		}
	}
	if len(cfg.DNSPorts) > 16 {
		return nil, fmt.Errorf("probes: %d DNS ports, at most 16", len(cfg.DNSPorts))
	}
	if n := cfg.RingBufferSize; n != 0 && (n < os.Getpagesize() || n&(n-1) != 0) {
		return nil, fmt.Errorf("probes: ring buffer size %d is not a power of two ≥ the page size", n)
	}
	if cfg.Pid < 0 {
		return nil, fmt.Errorf("probes: invalid pid %d", cfg.Pid)
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
	offset, err := monoWallOffset()
	if err != nil {
		return nil, fmt.Errorf("probes: read clocks: %w", err)
	}

	var kernelWanted bool
	for _, sig := range AllSignals() {
		if sig.kernel() && cfg.wants(sig) {
			kernelWanted = true
		}
	}
	if kernelWanted && cfg.KernelPath != PathSidecar && cfg.KernelPath != PathFloor {
		s.kern = loadKernel(s, offset)
	}
	pollers := s.setupPollers(pid)

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.startSidecar(bg, offset)

	var anyOn bool
	var errs []error
	for _, st := range s.Status() {
		if !cfg.wants(st.Signal) {
			continue
		}
		if st.State != Off {
			anyOn = true
			continue
		}
		errs = append(errs, fmt.Errorf("%s: %s", st.Signal, st.Reason))
	}
	if !anyOn && s.side == nil {
		s.Close()
		err := errors.Join(errs...)
		if os.Geteuid() != 0 && !haveCap(unix.CAP_BPF) {
			return nil, fmt.Errorf("probes: no signal available: %w (%w)", err, os.ErrPermission)
		}
		return nil, fmt.Errorf("probes: no signal available: %w (%w)", err, ErrNotSupported)
	}

	if k, ok := s.kern.(*bpfKernel); ok && k != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); k.readLoop(s) }()
		if k.dns != nil {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); k.idleDNS(bg) }()
		}
		if cfg.OverheadBudget > 0 {
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
	return s, nil
}

// monoWallOffset returns wall-clock ns minus CLOCK_MONOTONIC ns.
func monoWallOffset() (int64, error) {
	var ts unix.Timespec
	best := int64(math.MaxInt64)
	var off int64
	for range 3 {
		w0 := time.Now().UnixNano()
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			return 0, err
		}
		w1 := time.Now().UnixNano()
		if w1-w0 < best {
			best = w1 - w0
			off = (w0+w1)/2 - ts.Nano()
		}
	}
	return off, nil
}

func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
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

// poller is one polled signal.
type poller struct {
	sig  Signal
	poll func(now int64, ev *Event) bool // reports whether ev is filled
	// extra is called after poll for signals emitting several events.
	extra func(now int64, emit func(*Event))
}

func (s *Set) pollLoop(ctx context.Context, ps []*poller) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	var ev Event
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := monoNow()
		for _, p := range ps {
			if !s.enabled[p.sig].Load() {
				continue
			}
			if p.poll != nil && p.poll(now, &ev) {
				s.emit(&ev)
			}
			if p.extra != nil {
				p.extra(now, s.emit)
			}
		}
	}
}

func (s *Set) wallTime(mono int64, offset int64) time.Time { return time.Unix(0, mono+offset) }

// setupPollers probes the poller signals and returns the working ones.
func (s *Set) setupPollers(pid int) []*poller {
	offset, _ := monoWallOffset()
	var ps []*poller
	base := func(sig Signal, now int64) Event {
		return Event{Signal: sig, Mono: now, Time: s.wallTime(now, offset), PID: uint32(pid)}
	}

	if s.cfg.wants(CPUSteal) {
		if b, err := os.ReadFile("/proc/stat"); err != nil {
			s.setStatus(CPUSteal, Off, "read /proc/stat: "+err.Error())
		} else if prev, err := parseProcStat(b); err != nil {
			s.setStatus(CPUSteal, Off, err.Error())
		} else {
			s.setStatus(CPUSteal, On, "")
			ps = append(ps, &poller{sig: CPUSteal, poll: func(now int64, ev *Event) bool {
				b, err := os.ReadFile("/proc/stat")
				if err != nil {
					return false
				}
				cur, err := parseProcStat(b)
				if err != nil || cur.total < prev.total || cur.steal < prev.steal {
					return false
				}
				dt, ds := cur.total-prev.total, cur.steal-prev.steal
				prev = cur
				*ev = base(CPUSteal, now)
				ev.Count = ds
				ev.Duration = time.Duration(ds) * 10 * time.Millisecond // USER_HZ = 100
				if dt > 0 {
					ev.Value = 100 * float64(ds) / float64(dt)
				}
				return true
			}})
		}
	}

	var cgDir string
	var cgV2 bool
	if s.cfg.wants(CFSThrottle) || s.cfg.wants(PSI) {
		cgDir, cgV2 = resolveCgroup(s.cfg.CgroupPath, pid)
	}
	if s.cfg.wants(CFSThrottle) {
		path := filepath.Join(cgDir, "cpu.stat")
		b, err := os.ReadFile(path)
		switch {
		case cgDir == "":
			s.setStatus(CFSThrottle, Off, "no cgroup cpu controller found for the process")
		case err != nil:
			s.setStatus(CFSThrottle, Off, "read "+path+": "+err.Error())
		case !parseCPUStat(b).hasThrottle:
			s.setStatus(CFSThrottle, Off, path+" has no throttling counters (root cgroup or no CPU bandwidth controller)")
		default:
			s.setStatus(CFSThrottle, On, "")
			prev := parseCPUStat(b)
			ps = append(ps, &poller{sig: CFSThrottle, poll: func(now int64, ev *Event) bool {
				b, err := os.ReadFile(path)
				if err != nil {
					return false
				}
				cur := parseCPUStat(b)
				if cur.throttled < prev.throttled || cur.periods < prev.periods || cur.throttledTime < prev.throttledTime {
					prev = cur
					return false
				}
				*ev = base(CFSThrottle, now)
				ev.Count = cur.throttled - prev.throttled
				ev.Duration = cur.throttledTime - prev.throttledTime
				if dp := cur.periods - prev.periods; dp > 0 {
					ev.Value = 100 * float64(ev.Count) / float64(dp)
				}
				prev = cur
				return true
			}})
		}
	}

	if s.cfg.wants(PSI) {
		var files [3]string
		names := [3]string{"cpu", "memory", "io"}
		var found int
		for i, n := range names {
			cands := []string{"/proc/pressure/" + n}
			if cgV2 && cgDir != "" {
				cands = append([]string{filepath.Join(cgDir, n+".pressure")}, cands...)
			}
			for _, c := range cands {
				if b, err := os.ReadFile(c); err == nil {
					if _, err := parsePSI(b); err == nil {
						files[i] = c
						found++
						break
					}
				}
			}
		}
		switch {
		case found == 0:
			s.setStatus(PSI, Off, "no readable pressure files (kernel without CONFIG_PSI or booted with psi=0)")
		default:
			if found < 3 {
				s.setStatus(PSI, Degraded, "some pressure files are missing")
			} else {
				s.setStatus(PSI, On, "")
			}
			var prev [3]psiLine
			for i, f := range files {
				if f != "" {
					if b, err := os.ReadFile(f); err == nil {
						prev[i], _ = parsePSI(b)
					}
				}
			}
			ps = append(ps, &poller{sig: PSI, extra: func(now int64, emit func(*Event)) {
				for i, f := range files {
					if f == "" {
						continue
					}
					b, err := os.ReadFile(f)
					if err != nil {
						continue
					}
					cur, err := parsePSI(b)
					if err != nil {
						continue
					}
					ev := base(PSI, now)
					ev.Op = uint32(i)
					ev.Value = cur.avg10
					if cur.total >= prev[i].total {
						ev.Duration = cur.total - prev[i].total
					}
					prev[i] = cur
					emit(&ev)
				}
			}})
		}
	}

	if s.cfg.wants(GoSchedLatency) {
		if pid != os.Getpid() {
			s.setStatus(GoSchedLatency, Off, "go_sched_latency observes the calling process only")
		} else {
			samples := []metrics.Sample{{Name: goSchedMetric}}
			metrics.Read(samples)
			if samples[0].Value.Kind() != metrics.KindFloat64Histogram {
				s.setStatus(GoSchedLatency, Off, "runtime/metrics lacks "+goSchedMetric)
			} else {
				s.setStatus(GoSchedLatency, On, "")
				prev := copyHist(samples[0].Value.Float64Histogram())
				ps = append(ps, &poller{sig: GoSchedLatency, poll: func(now int64, ev *Event) bool {
					metrics.Read(samples)
					cur := samples[0].Value.Float64Histogram()
					n, p99, mean := schedDelta(cur, prev)
					prev = copyHist(cur)
					if n == 0 {
						return false
					}
					*ev = base(GoSchedLatency, now)
					ev.Count = n
					ev.Duration = p99
					ev.Value = mean
					return true
				}})
			}
		}
	}
	return ps
}

func copyHist(h *metrics.Float64Histogram) *metrics.Float64Histogram {
	return &metrics.Float64Histogram{Counts: append([]uint64(nil), h.Counts...), Buckets: h.Buckets}
}

// mounts returns the cgroup v1 cpu hierarchy and cgroup2 mount points.
func cgroupMounts() (v1cpu, v2 string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// id parent major:minor root mountpoint opts... - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		switch g[0] {
		case "cgroup2":
			if v2 == "" {
				v2 = f[4]
			}
		case "cgroup":
			for _, o := range strings.Split(g[2], ",") {
				if o == "cpu" && v1cpu == "" {
					v1cpu = f[4]
				}
			}
		}
	}
	return v1cpu, v2
}

// resolveCgroup returns the cgroup directory the pollers read and whether it
// is a cgroup v2 directory.
func resolveCgroup(explicit string, pid int) (string, bool) {
	v1cpu, v2 := cgroupMounts()
	if explicit != "" {
		return explicit, v2 != "" && strings.HasPrefix(explicit, v2) && !(v1cpu != "" && strings.HasPrefix(explicit, v1cpu))
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", false
	}
	var v1path, v2path string
	var hasV2 bool
	for line := range strings.Lines(string(b)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2path, hasV2 = parts[2], true
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "cpu" {
				v1path = parts[2]
			}
		}
	}
	if v1cpu != "" && v1path != "" {
		return filepath.Join(v1cpu, v1path), false
	}
	if v2 != "" && hasV2 {
		return filepath.Join(v2, v2path), true
	}
	return "", false
}
