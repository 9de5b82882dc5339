//go:build linux

package sidecar

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain runs the test binary as a helper process when
// SLO_SIDECAR_HELPER is set (e2e_linux_test.go): "server" serves a
// host-wide probes.Set, "client" is an unprivileged client, "capexec"
// executes a program with a manifest's capabilities
// (manifest_e2e_linux_test.go), "linger", "pass", "holder" and "lookup"
// are tenants of the leak tests (leak_linux_test.go).
func TestMain(m *testing.M) {
	switch os.Getenv("SLO_SIDECAR_HELPER") {
	case "server":
		os.Exit(runServerHelper())
	case "client":
		os.Exit(runClientHelper())
	case "cgid":
		os.Exit(runCgidHelper())
	case "capexec":
		os.Exit(runCapExecHelper())
	case "linger":
		os.Exit(runLingerHelper())
	case "holder":
		os.Exit(runHolderHelper())
	case "pass":
		os.Exit(runPassHelper())
	case "lookup":
		os.Exit(runLookupHelper())
	}
	code := m.Run()
	if code == 0 {
		code = checkLeaks()
	}
	os.Exit(code)
}

// checkLeaks fails when goroutines of this module's probes outlive the tests.
func checkLeaks() int {
	deadline := time.Now().Add(3 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		leaked := false
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "llmslo/slo/probes") && !strings.Contains(g, "sidecar.TestMain") {
				leaked = true
			}
		}
		if !leaked {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "goroutine leak:\n%s\n", stacks)
			return 1
		}
		time.Sleep(20 * time.Millisecond)
	}
}
