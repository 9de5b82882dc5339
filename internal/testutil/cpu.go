package testutil

import (
	"syscall"
	"testing"
	"time"
)

// ProcessCPU returns the CPU time (user + system) this process has used.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPUMeter reports process CPU time per op as the custom unit cpu-ns/op.
// Unlike ns/op (wall time), it does not count time the benchmark spent
// descheduled, so it stays meaningful on a machine shared with other work;
// it does count the GC and every goroutine the measured code causes.
type CPUMeter struct {
	b     *testing.B
	start time.Duration
}

// StartCPU starts measuring b's process CPU time.
func StartCPU(b *testing.B) CPUMeter { return CPUMeter{b: b, start: ProcessCPU()} }

// Stop reports the CPU time per op since StartCPU as cpu-ns/op.
func (m CPUMeter) Stop() {
	if n := m.b.N; n > 0 {
		m.b.ReportMetric(float64(ProcessCPU()-m.start)/float64(n), "cpu-ns/op")
	}
}
