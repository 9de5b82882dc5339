//go:build linux

package sidecar

import (
	"os"
	"testing"
)

// TestMain runs the test binary as a helper process when
// SLO_SIDECAR_HELPER is set (e2e_linux_test.go): "server" serves a
// host-wide probes.Set, "client" is an unprivileged client.
func TestMain(m *testing.M) {
	switch os.Getenv("SLO_SIDECAR_HELPER") {
	case "server":
		os.Exit(runServerHelper())
	case "client":
		os.Exit(runClientHelper())
	case "cgid":
		os.Exit(runCgidHelper())
	}
	os.Exit(m.Run())
}
