//go:build linux && !(386 || amd64 || arm64)

package probes

import "context"

// bpfKernel is never instantiated on architectures without generated BPF
// objects.
type bpfKernel struct {
	kernel
	dns *struct{}
}

func (k *bpfKernel) readLoop(*Set) {}

func (k *bpfKernel) idleDNS(context.Context) {}

// loadKernel reports every kernel signal off: only amd64 and arm64 objects are
// generated (internal/bpf).
func loadKernel(s *Set, _ int64) kernel {
	for _, sig := range AllSignals() {
		if sig.kernel() && s.cfg.wants(sig) {
			s.setStatus(sig, Off, "no BPF objects are built for this architecture (amd64 and arm64 only)")
		}
	}
	return nil
}
