package probes

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"runtime/metrics"
	"strconv"
	"time"
)

// procStatCPU is the aggregate "cpu" line of /proc/stat in USER_HZ ticks.
type procStatCPU struct {
	total, steal uint64
}

// parseProcStat reads the aggregate cpu line of /proc/stat.
func parseProcStat(b []byte) (procStatCPU, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 || string(f[0]) != "cpu" {
			continue
		}
		var p procStatCPU
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is already included in user/nice.
		for i, v := range f[1:] {
			if i >= 8 {
				break
			}
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return procStatCPU{}, errors.New("probes: bad /proc/stat cpu line")
			}
			p.total += n
			if i == 7 {
				p.steal = n
			}
		}
		return p, nil
	}
	return procStatCPU{}, errors.New("probes: no cpu line in /proc/stat")
}

// cpuStat is the throttling part of a cgroup's cpu.stat.
type cpuStat struct {
	periods, throttled uint64
	throttledTime      time.Duration
	hasThrottle        bool
}

// parseCPUStat reads cgroup v1 (throttled_time, ns) and v2 (throttled_usec)
// cpu.stat files.
func parseCPUStat(b []byte) cpuStat {
	var c cpuStat
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) != 2 {
			continue
		}
		n, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		switch string(f[0]) {
		case "nr_periods":
			c.periods = n
		case "nr_throttled":
			c.throttled = n
			c.hasThrottle = true
		case "throttled_time":
			c.throttledTime = time.Duration(n)
		case "throttled_usec":
			c.throttledTime = time.Duration(n) * time.Microsecond
		}
	}
	return c
}

// psiLine is the "some" line of a pressure file.
type psiLine struct {
	avg10 float64
	total time.Duration
}

// parsePSI reads the "some" line of /proc/pressure/* or <cgroup>/*.pressure.
func parsePSI(b []byte) (psiLine, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 5 || string(f[0]) != "some" {
			continue
		}
		var p psiLine
		var okAvg, okTotal bool
		for _, kv := range f[1:] {
			k, v, found := bytes.Cut(kv, []byte("="))
			if !found {
				continue
			}
			switch string(k) {
			case "avg10":
				x, err := strconv.ParseFloat(string(v), 64)
				if err == nil {
					p.avg10, okAvg = x, true
				}
			case "total":
				x, err := strconv.ParseUint(string(v), 10, 64)
				if err == nil {
					p.total, okTotal = time.Duration(x)*time.Microsecond, true
				}
			}
		}
		if okAvg && okTotal {
			return p, nil
		}
	}
	return psiLine{}, errors.New("probes: no some line in pressure file")
}

// goSchedMetric is the runtime/metrics name the floor signal reads.
const goSchedMetric = "/sched/latencies:seconds"

// schedDelta reduces the difference of two /sched/latencies:seconds
// histograms to (count, p99, mean seconds). prev may be nil.
func schedDelta(cur, prev *metrics.Float64Histogram) (n uint64, p99 time.Duration, mean float64) {
	if cur == nil {
		return 0, 0, 0
	}
	counts := func(i int) uint64 {
		c := cur.Counts[i]
		if prev != nil && i < len(prev.Counts) && prev.Counts[i] <= c {
			c -= prev.Counts[i]
		}
		return c
	}
	var sum float64
	for i := range cur.Counts {
		c := counts(i)
		if c == 0 {
			continue
		}
		n += c
		lo, hi := cur.Buckets[i], cur.Buckets[i+1]
		if math.IsInf(lo, -1) {
			lo = 0
		}
		if math.IsInf(hi, 1) {
			hi = lo
		}
		sum += float64(c) * (lo + hi) / 2
	}
	if n == 0 {
		return 0, 0, 0
	}
	rank := uint64(math.Ceil(0.99 * float64(n)))
	var seen uint64
	for i := range cur.Counts {
		seen += counts(i)
		if seen >= rank {
			hi := cur.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = cur.Buckets[i]
			}
			p99 = time.Duration(hi * float64(time.Second))
			break
		}
	}
	return n, p99, sum / float64(n)
}
