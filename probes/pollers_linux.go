//go:build linux

package probes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/llmslo/slo/internal/monoclock"
	"github.com/llmslo/slo/probes/internal/cgroupfs"
)

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
		now := monoclock.Now()
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

// pollStamp stamps the events of the pollers: signal, time, target pid.
type pollStamp struct {
	pid        uint32
	wallOffset int64 // wall-clock minus CLOCK_MONOTONIC ns
}

func (b pollStamp) event(sig Signal, now int64) Event {
	return Event{Signal: sig, Mono: now, Time: time.Unix(0, now+b.wallOffset), PID: b.pid}
}

// setupPollers probes the poller signals, records their statuses and
// returns the working ones; wallOffset converts their CLOCK_MONOTONIC
// stamps to wall time.
func (s *Set) setupPollers(pid int, wallOffset int64) []*poller {
	b := pollStamp{pid: uint32(pid), wallOffset: wallOffset}
	var ps []*poller
	add := func(p *poller) {
		if p != nil {
			ps = append(ps, p)
		}
	}
	if s.cfg.wants(CPUSteal) {
		add(s.stealPoller(b))
	}
	var cgDir string
	var cgV2 bool
	if s.cfg.wants(CFSThrottle) || s.cfg.wants(PSI) {
		cgDir, cgV2 = resolveCgroup(s.cfg.CgroupPath, pid)
	}
	if s.cfg.wants(CFSThrottle) {
		add(s.throttlePoller(b, cgDir))
	}
	if s.cfg.wants(PSI) {
		add(s.psiPoller(b, cgDir, cgV2))
	}
	if s.cfg.wants(GoSchedLatency) {
		add(s.schedPoller(b, pid))
	}
	return ps
}

// stealPoller reports steal time from /proc/stat; nil when unreadable.
func (s *Set) stealPoller(b pollStamp) *poller {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		s.setStatus(CPUSteal, Off, "read /proc/stat: "+err.Error())
		return nil
	}
	prev, err := parseProcStat(raw)
	if err != nil {
		s.setStatus(CPUSteal, Off, err.Error())
		return nil
	}
	s.setStatus(CPUSteal, On, "")
	return &poller{sig: CPUSteal, poll: func(now int64, ev *Event) bool {
		raw, err := os.ReadFile("/proc/stat")
		if err != nil {
			return false
		}
		cur, err := parseProcStat(raw)
		if err != nil || cur.total < prev.total || cur.steal < prev.steal {
			return false
		}
		dt, ds := cur.total-prev.total, cur.steal-prev.steal
		prev = cur
		*ev = b.event(CPUSteal, now)
		ev.Count = ds
		ev.Duration = time.Duration(ds) * 10 * time.Millisecond // USER_HZ = 100
		if dt > 0 {
			ev.Value = 100 * float64(ds) / float64(dt)
		}
		return true
	}}
}

// throttlePoller reports CFS throttling from the cpu.stat of cgroup
// directory cgDir; nil without throttling counters.
func (s *Set) throttlePoller(b pollStamp, cgDir string) *poller {
	path := filepath.Join(cgDir, "cpu.stat")
	raw, err := os.ReadFile(path)
	switch {
	case cgDir == "":
		s.setStatus(CFSThrottle, Off, "no cgroup cpu controller found for the process")
		return nil
	case err != nil:
		s.setStatus(CFSThrottle, Off, "read "+path+": "+err.Error())
		return nil
	case !parseCPUStat(raw).hasThrottle:
		s.setStatus(CFSThrottle, Off, path+" has no throttling counters (root cgroup or no CPU bandwidth controller)")
		return nil
	}
	s.setStatus(CFSThrottle, On, "")
	prev := parseCPUStat(raw)
	return &poller{sig: CFSThrottle, poll: func(now int64, ev *Event) bool {
		raw, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		cur := parseCPUStat(raw)
		if cur.throttled < prev.throttled || cur.periods < prev.periods || cur.throttledTime < prev.throttledTime {
			prev = cur
			return false
		}
		*ev = b.event(CFSThrottle, now)
		ev.Count = cur.throttled - prev.throttled
		ev.Duration = cur.throttledTime - prev.throttledTime
		if dp := cur.periods - prev.periods; dp > 0 {
			ev.Value = 100 * float64(ev.Count) / float64(dp)
		}
		prev = cur
		return true
	}}
}

// psiFiles finds the readable pressure file of each resource (PSICPU,
// PSIMemory, PSIIO): the cgroup's own on cgroup v2, else the host's; ""
// where none parses. found counts those found.
func psiFiles(cgDir string, cgV2 bool) (files [3]string, found int) {
	for i, n := range [3]string{"cpu", "memory", "io"} {
		cands := []string{"/proc/pressure/" + n}
		if cgV2 && cgDir != "" {
			cands = append([]string{filepath.Join(cgDir, n+".pressure")}, cands...)
		}
		for _, c := range cands {
			if raw, err := os.ReadFile(c); err == nil {
				if _, err := parsePSI(raw); err == nil {
					files[i] = c
					found++
					break
				}
			}
		}
	}
	return files, found
}

// psiPoller reports pressure stall information, one event per resource and
// poll; nil without any pressure file.
func (s *Set) psiPoller(b pollStamp, cgDir string, cgV2 bool) *poller {
	files, found := psiFiles(cgDir, cgV2)
	switch {
	case found == 0:
		s.setStatus(PSI, Off, "no readable pressure files (kernel without CONFIG_PSI or booted with psi=0)")
		return nil
	case found < 3:
		s.setStatus(PSI, Degraded, "some pressure files are missing")
	default:
		s.setStatus(PSI, On, "")
	}
	var prev [3]psiLine
	for i, f := range files {
		if f != "" {
			if raw, err := os.ReadFile(f); err == nil {
				prev[i], _ = parsePSI(raw)
			}
		}
	}
	return &poller{sig: PSI, extra: func(now int64, emit func(*Event)) {
		for i, f := range files {
			if f == "" {
				continue
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			cur, err := parsePSI(raw)
			if err != nil {
				continue
			}
			ev := b.event(PSI, now)
			ev.Op = uint32(i)
			ev.Value = cur.avg10
			if cur.total >= prev[i].total {
				ev.Duration = cur.total - prev[i].total
			}
			prev[i] = cur
			emit(&ev)
		}
	}}
}

// schedPoller reports the Go scheduler latency of this process from
// runtime/metrics; nil for another process or without the metric.
func (s *Set) schedPoller(b pollStamp, pid int) *poller {
	if pid != os.Getpid() {
		s.setStatus(GoSchedLatency, Off, "go_sched_latency observes the calling process only")
		return nil
	}
	samples := []metrics.Sample{{Name: goSchedMetric}}
	metrics.Read(samples)
	if samples[0].Value.Kind() != metrics.KindFloat64Histogram {
		s.setStatus(GoSchedLatency, Off, "runtime/metrics lacks "+goSchedMetric)
		return nil
	}
	s.setStatus(GoSchedLatency, On, "")
	prev := copyHist(samples[0].Value.Float64Histogram())
	return &poller{sig: GoSchedLatency, poll: func(now int64, ev *Event) bool {
		metrics.Read(samples)
		cur := samples[0].Value.Float64Histogram()
		n, p99, mean := schedDelta(cur, prev)
		prev = copyHist(cur)
		if n == 0 {
			return false
		}
		*ev = b.event(GoSchedLatency, now)
		ev.Count = n
		ev.Duration = p99
		ev.Value = mean
		return true
	}}
}

func copyHist(h *metrics.Float64Histogram) *metrics.Float64Histogram {
	return &metrics.Float64Histogram{Counts: append([]uint64(nil), h.Counts...), Buckets: h.Buckets}
}

// resolveCgroup returns the cgroup directory the pollers read and whether it
// is a cgroup v2 directory.
func resolveCgroup(explicit string, pid int) (string, bool) {
	v1cpu, v2, _ := cgroupfs.Mounts()
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
