package slo

import (
	"syscall"
	"testing"
	"time"
)

// processCPU returns the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports process CPU time per op as the custom unit cpu-ns/op.
// Unlike ns/op (wall time), it does not count time the benchmark spent
// descheduled, so it stays meaningful on a machine shared with other work;
// it does count the GC and every goroutine the measured code causes.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuMeter { return cpuMeter{b: b, start: processCPU()} }

func (m cpuMeter) stop() {
	if n := m.b.N; n > 0 {
		m.b.ReportMetric(float64(processCPU()-m.start)/float64(n), "cpu-ns/op")
	}
}
