// Package testutil holds helpers shared by the module's tests: the one gate
// for privileged (BPF/root) tests and a goroutine leak check. It is imported
// only by _test.go files.
package testutil

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
)

// Strict reports whether SLO_REQUIRE_BPF=1 is set: privileged tests must run
// and every would-be skip fails instead.
func Strict() bool { return os.Getenv("SLO_REQUIRE_BPF") == "1" }

// Skip skips tb with reason, or fails it when [Strict] is on.
func Skip(tb testing.TB, reason string) {
	tb.Helper()
	if Strict() {
		tb.Fatalf("SLO_REQUIRE_BPF=1 but the test would skip: %s", reason)
	}
	tb.Skip(reason)
}

// RequireBPF skips tb unless the kernel and the caller's capabilities allow
// loading BPF programs of the given types (default: raw tracepoints, the
// proxy for the tp_btf programs the probes use). It probes the
// capability rather than checking uid 0. Under SLO_REQUIRE_BPF=1 a would-be
// skip is a failure. An inconclusive probe is always a failure.
func RequireBPF(tb testing.TB, progTypes ...ebpf.ProgramType) {
	tb.Helper()
	if runtime.GOOS != "linux" {
		Skip(tb, "BPF needs linux")
		return
	}
	if len(progTypes) == 0 {
		// Not ebpf.Tracing: its feature probe loads an fentry program, which
		// kernels without fentry (like this project's CI kind) refuse with
		// EPERM even to root, although tp_btf programs load fine.
		progTypes = []ebpf.ProgramType{ebpf.RawTracepoint}
	}
	for _, pt := range progTypes {
		err := features.HaveProgramType(pt)
		switch {
		case err == nil:
		case errors.Is(err, ebpf.ErrNotSupported):
			Skip(tb, "kernel lacks program type "+pt.String()+": "+err.Error())
			return
		case errors.Is(err, os.ErrPermission):
			Skip(tb, "needs CAP_BPF+CAP_PERFMON (or root); run `make test-privileged`")
			return
		default:
			tb.Fatalf("inconclusive BPF feature probe for %s: %v", pt, err)
		}
	}
}

// RequireRootNet skips tb unless the process may create network namespaces
// and nftables tables (CAP_NET_ADMIN + CAP_SYS_ADMIN); strict mode fails.
func RequireRootNet(tb testing.TB) {
	tb.Helper()
	if runtime.GOOS != "linux" {
		Skip(tb, "network namespaces need linux")
		return
	}
	if os.Geteuid() != 0 {
		Skip(tb, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root)")
	}
}

// CheckGoroutines fails tb if goroutines started during the test are still
// running after grace. Call it with defer at the start of a test:
//
//	defer testutil.CheckGoroutines(t, time.Second)()
func CheckGoroutines(tb testing.TB, grace time.Duration) func() {
	tb.Helper()
	before := runtime.NumGoroutine()
	return func() {
		tb.Helper()
		deadline := time.Now().Add(grace)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				tb.Errorf("goroutine leak: %d before, %d after\n%s", before, n, trimStacks(string(buf)))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func trimStacks(s string) string {
	if len(s) > 8000 {
		return s[:8000] + "\n…"
	}
	return strings.TrimSpace(s)
}
