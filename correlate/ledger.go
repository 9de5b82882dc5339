package correlate

import (
	"time"

	"github.com/llmslo/slo/probes"
)

// Thread-level signals split between the requests live during a stall.
const (
	splitRunqueue = iota
	splitReclaim
	splitBlockIO
	splitSyscall
	numSplit
)

// Averaged ratio signals.
const (
	avgSteal = iota
	avgGoSched
	avgPSICPU
	numAvg
)

// bucket is one time slice of the ledger of process-wide signals.
type bucket struct {
	idx   int64   // absolute bucket index; the slot is stale when it differs
	occ   float64 // request-time in the bucket (ns)
	split [numSplit]float64
	cfs   float64 // throttled ns falling in the bucket
	avg   [numAvg]float64
	avgW  [numAvg]float64
}

// ledger apportions process-wide signals to requests by overlap.
type ledger struct {
	width    int64
	mask     int64
	b        []bucket
	live     int
	lastT    int64
	prevPoll [probes.GoSchedLatency + 1]int64
	poll     int64
}

func (l *ledger) init(cfg Config) {
	n := 1
	for n < cfg.Buckets {
		n <<= 1
	}
	l.width = int64(cfg.Bucket)
	l.mask = int64(n - 1)
	l.b = make([]bucket, n)
	for i := range l.b {
		l.b[i].idx = -1
	}
	l.poll = int64(cfg.PollInterval)
}

func (l *ledger) horizon() int64 { return l.width * int64(len(l.b)-1) }

// slot returns the bucket of absolute index i, resetting a stale slot for a
// newer index; nil when i fell out of the horizon.
func (l *ledger) slot(i int64) *bucket {
	if i < 0 {
		return nil
	}
	b := &l.b[i&l.mask]
	switch {
	case b.idx == i:
		return b
	case b.idx < i:
		*b = bucket{idx: i}
		return b
	}
	return nil
}

// advance integrates the live-request count up to t.
func (l *ledger) advance(t int64) {
	if t <= l.lastT {
		return
	}
	from := l.lastT
	l.lastT = t
	if l.live == 0 {
		return
	}
	live := float64(l.live)
	if h := t - l.horizon(); from < h {
		from = h
	}
	for i := from / l.width; i*l.width < t; i++ {
		lo, hi := max(from, i*l.width), min(t, (i+1)*l.width)
		if hi > lo {
			if bk := l.slot(i); bk != nil {
				bk.occ += live * float64(hi-lo)
			}
		}
	}
}

// add books a process-wide event.
func (l *ledger) add(j *Joiner, ev *probes.Event) {
	switch ev.Signal {
	case probes.RunqueueDelay, probes.MemReclaim, probes.BlockIO, probes.SyscallLatency:
		k := splitRunqueue
		switch ev.Signal {
		case probes.MemReclaim:
			k = splitReclaim
		case probes.BlockIO:
			k = splitBlockIO
		case probes.SyscallLatency:
			k = splitSyscall
		}
		d := int64(ev.Duration)
		if d <= 0 {
			return
		}
		a, b := ev.Mono-d, ev.Mono
		l.spreadAmount(a, b, d, k)
	case probes.CFSThrottle, probes.CPUSteal, probes.GoSchedLatency, probes.PSI:
		if ev.Signal == probes.PSI && ev.Op != probes.PSICPU {
			return
		}
		prev := l.prevPoll[ev.Signal]
		if prev == 0 || prev >= ev.Mono || ev.Mono-prev > 10*l.poll {
			prev = ev.Mono - l.poll
		}
		l.prevPoll[ev.Signal] = ev.Mono
		a, b := prev, ev.Mono
		switch ev.Signal {
		case probes.CFSThrottle:
			if ev.Duration > 0 {
				l.spreadAmount(a, b, int64(ev.Duration), -1)
			}
		case probes.CPUSteal:
			l.spreadAvg(a, b, ev.Value, avgSteal)
		case probes.GoSchedLatency:
			l.spreadAvg(a, b, ev.Value*float64(time.Second), avgGoSched)
		case probes.PSI:
			l.spreadAvg(a, b, ev.Value, avgPSICPU)
		}
	}
}

// spreadAmount spreads amount uniformly over [a,b) into split k (or cfs
// when k < 0).
func (l *ledger) spreadAmount(a, b, amount int64, k int) {
	if a >= b {
		return
	}
	per := float64(amount) / float64(b-a)
	for i := a / l.width; i*l.width < b; i++ {
		lo, hi := max(a, i*l.width), min(b, (i+1)*l.width)
		if hi <= lo || lo < l.lastT-l.horizon() {
			continue
		}
		bk := l.slot(i)
		if bk == nil {
			continue
		}
		if k < 0 {
			bk.cfs += per * float64(hi-lo)
		} else {
			bk.split[k] += per * float64(hi-lo)
		}
	}
}

func (l *ledger) spreadAvg(a, b int64, v float64, k int) {
	for i := a / l.width; i*l.width < b; i++ {
		lo, hi := max(a, i*l.width), min(b, (i+1)*l.width)
		if hi <= lo || lo < l.lastT-l.horizon() {
			continue
		}
		if bk := l.slot(i); bk != nil {
			bk.avg[k] += v * float64(hi-lo)
			bk.avgW[k] += float64(hi - lo)
		}
	}
}

// share credits r (just ended, as id) with its part of the ledger.
func (l *ledger) share(j *Joiner, id RequestID, r *reqSlot) {
	a, b := r.start, r.end
	if h := b - l.horizon(); a < h {
		a = h
	}
	var split [numSplit]float64
	var cfs float64
	var avg, avgW [numAvg]float64
	w := float64(l.width)
	for i := a / l.width; i*l.width < b; i++ {
		lo, hi := max(a, i*l.width), min(b, (i+1)*l.width)
		if hi <= lo {
			continue
		}
		bk := &l.b[i&l.mask]
		if bk.idx != i {
			continue
		}
		ov := float64(hi - lo)
		if bk.occ > 0 {
			f := min(ov/bk.occ, 1)
			for k := range split {
				split[k] += bk.split[k] * f
			}
		}
		cfs += bk.cfs * ov / w
		for k := range avg {
			avg[k] += bk.avg[k] * ov / w
			avgW[k] += bk.avgW[k] * ov / w
		}
	}
	s := &r.sum
	credit := func(tier Tier, sig probes.Signal) bool { return j.credit(id, s, tier, sig) }
	dur := func(x float64) time.Duration { return time.Duration(x + 0.5) }
	if d := dur(split[splitRunqueue]); d > 0 && credit(TierPodPID, probes.RunqueueDelay) {
		s.Runqueue = d
	}
	if d := dur(split[splitReclaim]); d > 0 && credit(TierPodPID, probes.MemReclaim) {
		s.Reclaim = d
	}
	if d := dur(split[splitBlockIO]); d > 0 && credit(TierPodPID, probes.BlockIO) {
		s.BlockIO = d
	}
	if d := dur(split[splitSyscall]); d > 0 && credit(TierPodPID, probes.SyscallLatency) {
		s.Syscall = d
	}
	if d := dur(cfs); d > 0 && credit(TierPodPID, probes.CFSThrottle) {
		s.CFSThrottled = d
	}
	if avgW[avgGoSched] > 0 {
		if d := dur(avg[avgGoSched] / avgW[avgGoSched]); d > 0 && credit(TierPodPID, probes.GoSchedLatency) {
			s.GoSchedLatency = d
		}
	}
	if avgW[avgSteal] > 0 {
		if v := avg[avgSteal] / avgW[avgSteal]; v > 0 && credit(TierSvcNode, probes.CPUSteal) {
			s.StealPct = v
		}
	}
	if avgW[avgPSICPU] > 0 {
		if v := avg[avgPSICPU] / avgW[avgPSICPU]; v > 0 && credit(TierSvcNode, probes.PSI) {
			s.PSICPUPct = v
		}
	}
}

// credit counts request id's share of signal sig at tier in its summary s;
// it reports whether the share enters s (the tier's confidence reaches the
// threshold).
func (j *Joiner) credit(id RequestID, s *Summary, tier Tier, sig probes.Signal) bool {
	if j.onShare != nil {
		j.onShare(id, sig, tier)
	}
	j.stats.Joins[tier]++
	node := sig == probes.CPUSteal || sig == probes.PSI
	if node {
		j.stats.NodeJoins[tier]++
	}
	conf := j.cfg.Confidence[tier]
	if conf < j.cfg.Threshold {
		s.Weak++
		return false
	}
	j.stats.Enriched[tier]++
	if node {
		j.stats.NodeEnriched[tier]++
	}
	s.Joins[tier]++
	if tier > s.Tier {
		s.Tier, s.Confidence = tier, conf
	}
	return true
}
