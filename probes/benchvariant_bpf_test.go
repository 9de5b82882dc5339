//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"fmt"
	"slices"
	"strings"
)

// The probe benchmarks (BenchmarkStreamingThroughput, BenchmarkProbeCost)
// compare variants of one Set side by side.

// parseVariant turns a variant of the probe benchmarks into its signals:
// "off", "null" (off again) and "nop" (empty programs, attached by the
// benchmark) → nil, "default" → DefaultSignals, "all" → AllSignals, else
// signal names joined by "+".
func parseVariant(spec string) ([]Signal, error) {
	switch spec {
	case "off", "null", "nop":
		return nil, nil
	case "default":
		return DefaultSignals(), nil
	case "all":
		return AllSignals(), nil
	}
	var sigs []Signal
	for _, name := range strings.Split(spec, "+") {
		sig, err := ParseSignal(name)
		if err != nil {
			return nil, fmt.Errorf("variant %q: %w", spec, err)
		}
		sigs = append(sigs, sig)
	}
	return sigs, nil
}

// attachOnly attaches the programs of the kernel signals in sigs and
// detaches every other one (the Set was started with all of them).
func attachOnly(set *Set, sigs []Signal) error {
	for _, sig := range AllSignals() {
		if sig.kernel() {
			if err := set.kern.setAttached(sig, slices.Contains(sigs, sig)); err != nil {
				return err
			}
		}
	}
	return nil
}

// discardEvents subscribes to set and discards every event (the benchmarks
// measure producing and delivering them); cancel stops it.
func discardEvents(set *Set) (cancel func()) {
	events, cancel := set.Subscribe(1 << 12)
	go func() {
		for range events {
		}
	}()
	return cancel
}
