//go:build linux && !(386 || amd64 || arm64)

package probes

import "testing"

// nopPrograms: the BPF objects are built for amd64 and arm64 only.
func nopPrograms(tb testing.TB) func(on bool) {
	tb.Skip("the nop variant needs the amd64 BPF objects")
	return nil
}
