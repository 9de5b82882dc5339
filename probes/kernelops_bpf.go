//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/llmslo/slo/internal/bpf"
)

func (k *bpfKernel) tagConn(cookie uint64, traceID [16]byte, spanID [8]byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	v := bpf.NetTraceTag{TraceId: traceID, SpanId: spanID}
	if err := k.trace.Put(cookie, &v); err != nil {
		return fmt.Errorf("probes: tag connection: %w", err)
	}
	return nil
}

func (k *bpfKernel) untagConn(cookie uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	if err := k.trace.Delete(cookie); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("probes: untag connection: %w", err)
	}
	return nil
}

func (k *bpfKernel) histogram(sig Signal, tgid uint32) (Histogram, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return Histogram{}, ErrClosed
	}
	// The programs count the target process in the one-entry map, every
	// process (target 0) in the map keyed by tgid; both are per CPU.
	m, key := k.hists[sig], tgid
	if k.nsTarget != 0 && tgid == k.nsTarget {
		m, key = k.histSelf[sig], 0
	}
	if m == nil {
		return Histogram{}, fmt.Errorf("probes: %s has no histogram", sig)
	}
	var per []bpf.SchedHist
	if err := m.Lookup(key, &per); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return Histogram{}, nil
		}
		return Histogram{}, fmt.Errorf("probes: read %s histogram: %w", sig, err)
	}
	var h Histogram
	for _, c := range per {
		for i, n := range c.Slots {
			h.Buckets[i] += n
		}
		h.Count += c.Count
		h.Sum += time.Duration(c.SumNs)
	}
	return h, nil
}

func (k *bpfKernel) setAttached(sig Signal, on bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	var errs []error
	if sig == DNSLatency && k.dns != nil {
		k.dns.on = on
		if !on {
			errs = append(errs, k.dns.attached.Set(uint32(0)))
		}
	}
	for _, a := range k.atts[sig] {
		if on && a.lazy && !k.dns.eager {
			continue // attached by armDNS when DNS traffic starts
		}
		errs = append(errs, a.set(on))
	}
	return errors.Join(errs...)
}

// set attaches (on) or detaches a; nothing when it already is (or, to
// attach, when its program is missing).
func (a *attachment) set(on bool) error {
	switch {
	case on && a.link == nil && a.prog != nil:
		l, err := a.attach(a.prog)
		if err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		a.link = l
	case !on && a.link != nil:
		err := a.link.Close()
		a.link = nil
		return err
	}
	return nil
}

func (k *bpfKernel) runTime(sig Signal) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0
	}
	var d time.Duration
	for _, a := range k.atts[sig] {
		if a.prog == nil {
			continue
		}
		if st, err := a.prog.Stats(); err == nil {
			d += st.Runtime
		}
	}
	return d
}

func (k *bpfKernel) lost(sig Signal) uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0
	}
	var per []uint64
	if err := k.lostMap.Lookup(uint32(sig), &per); err != nil {
		return 0
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n
}

func (k *bpfKernel) close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	var errs []error
	for sig := range k.atts {
		for _, a := range k.atts[sig] {
			errs = append(errs, a.set(false))
		}
	}
	if k.reader != nil {
		errs = append(errs, k.reader.Close())
	}
	if k.stats != nil {
		errs = append(errs, k.stats.Close())
	}
	for _, c := range k.colls {
		c.Close()
	}
	for _, c := range k.closers {
		c.Close()
	}
	k.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("probes: close: %w", err)
	}
	return nil
}

// readLoop decodes ring-buffer records until the reader is closed.
func (k *bpfKernel) readLoop(s *Set) {
	var rec ringbuf.Record
	var ev Event
	for {
		if err := k.reader.ReadInto(&rec); err != nil {
			if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return
			}
			// Unexpected: count it and do not spin.
			s.decodeErrors.Add(1)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t0 := time.Now()
		if raw := rec.RawSample; len(raw) >= recSize && Signal(raw[offSignal]) == DNSLatency && raw[offFlags]&flagArm != 0 {
			k.armDNS(s, int64(binary.LittleEndian.Uint64(raw[offTS:])))
		} else if err := k.dec.decode(rec.RawSample, &ev); err != nil {
			s.decodeErrors.Add(1)
		} else {
			s.emit(&ev)
		}
		s.readerBusy.Add(int64(time.Since(t0)))
	}
}
