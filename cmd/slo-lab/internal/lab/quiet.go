package lab

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The lab shares its machine with whatever else runs there; CPU that other
// processes burn during a run shows up as run-queue delay and slow requests
// the run did not inject. Before each run the lab waits (at most quietWait,
// and at most quietBudget over the whole lab) until other processes use less
// than quietCores, and it measures what they used during the run; a run
// during which they used more than busyCores is repeated once, while the
// budget lasts (a repeat spends it). The criterion looks at the machine
// only, never at the run's outcome. (A rejected run is repeated once too,
// budget or not: see collector.runQuiet.)
const (
	quietCores  = 0.5
	busyCores   = 0.75
	quietWindow = 500 * time.Millisecond
	quietWait   = time.Minute
	quietBudget = 12 * time.Minute
)

// cpuSample is a snapshot of the machine's and this process's CPU time, in
// clock ticks.
type cpuSample struct {
	busy, total uint64 // all CPUs, from /proc/stat
	own         uint64 // this process and its reaped children (the faults' spinners)
}

func sampleCPU() (cpuSample, error) {
	var s cpuSample
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return s, errors.New("lab: unexpected /proc/stat")
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest time is already in user
			break
		}
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	b, err = os.ReadFile("/proc/self/stat")
	if err != nil {
		return s, err
	}
	// Fields after the command (which may hold spaces): state is field 3,
	// utime 14, stime 15, cutime 16, cstime 17.
	st := string(b)
	if i := strings.LastIndexByte(st, ')'); i >= 0 {
		st = st[i+1:]
	}
	g := strings.Fields(st)
	if len(g) < 15 {
		return s, errors.New("lab: unexpected /proc/self/stat")
	}
	for _, v := range g[11:15] {
		n, _ := strconv.ParseUint(v, 10, 64)
		s.own += n
	}
	return s, nil
}

// foreignCores is how many CPUs other processes kept busy, on average,
// between a and b.
func foreignCores(a, b cpuSample) float64 {
	dt := float64(b.total - a.total)
	if b.total <= a.total {
		return 0
	}
	busy := float64(b.busy-a.busy) - float64(b.own-a.own)
	return max(0, busy/dt*float64(runtime.NumCPU()))
}

// waitQuiet waits until other processes use less than quietCores over a
// quietWindow, at most quietWait and what is left of *budget (which it
// decrements); it returns the last measurement and whether the machine was
// quiet.
func waitQuiet(ctx context.Context, budget *time.Duration) (float64, bool) {
	start := time.Now()
	defer func() { *budget = max(0, *budget-time.Since(start)) }()
	deadline := start.Add(min(quietWait, *budget))
	for {
		a, err := sampleCPU()
		if err != nil {
			return 0, true // cannot tell: do not block the lab
		}
		if !sleepUntil(ctx, time.Now().Add(quietWindow)) {
			return 0, false
		}
		b, err := sampleCPU()
		if err != nil {
			return 0, true
		}
		load := foreignCores(a, b)
		if load < quietCores || time.Now().After(deadline) {
			return load, load < quietCores
		}
	}
}

// Busy reports whether other processes kept more than busyCores of the
// machine's CPUs busy, on average, during the run.
func (res *RunResult) Busy() bool { return res.ForeignCores > busyCores }
