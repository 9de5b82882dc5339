//go:build linux && !386 && !amd64

package probes

// bpfKernel is never instantiated on architectures without generated BPF
// objects.
type bpfKernel struct{ kernel }

func (k *bpfKernel) readLoop(*Set) {}

// loadKernel reports every kernel signal off: only amd64 objects are
// generated (internal/bpf).
func loadKernel(s *Set, _ int64) kernel {
	for _, sig := range AllSignals() {
		if sig.kernel() && s.cfg.wants(sig) {
			s.setStatus(sig, Off, "no BPF objects are built for this architecture (amd64 only)")
		}
	}
	return nil
}
