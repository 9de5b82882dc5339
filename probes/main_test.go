package probes

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package if goroutines of this package outlive the tests.
// With SLO_PROBES_HELPER set, the test binary is a helper process for the
// privileged tests (helper_linux_test.go).
func TestMain(m *testing.M) {
	if h := os.Getenv("SLO_PROBES_HELPER"); h != "" {
		os.Exit(runHelper(h))
	}
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(3 * time.Second)
		for {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			leaked := false
			for _, g := range strings.Split(stacks, "\n\n") {
				if strings.Contains(g, "llmslo/slo/probes.") && !strings.Contains(g, "probes.TestMain") {
					leaked = true
				}
			}
			if !leaked {
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "goroutine leak:\n%s\n", stacks)
				code = 1
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	os.Exit(code)
}
