package probes

// Test hooks for the external sidecar benchmark (sidecar_client_bench_test.go).

// EnableForTest marks sig on, as a loaded probe would.
func EnableForTest(s *Set, sig Signal) { s.setStatus(sig, On, "") }

// Injector feeds raw ring-buffer records to a Set the way the ring-buffer
// reader does: decode, then emit.
type Injector struct {
	s   *Set
	dec *decoder
	ev  Event
}

// NewInjectorForTest returns an Injector for s.
func NewInjectorForTest(s *Set) *Injector { return &Injector{s: s, dec: newDecoder(0)} }

// Inject decodes raw and emits the event.
func (i *Injector) Inject(raw []byte) error {
	if err := i.dec.decode(raw, &i.ev); err != nil {
		return err
	}
	i.s.emit(&i.ev)
	return nil
}
