package slo

import (
	"sync"

	"github.com/llmslo/slo/incident"
)

// The default tracker is the package's only mutable state: created lazily by
// Default (no work before first use) and replaceable with SetDefault.
var (
	defaultMu      sync.Mutex
	defaultTracker *Tracker
)

// Default returns the default Tracker, used by the package-level [Instrument].
// It is created on first use with no options: SLIs are measured and exported
// through the otel globals, and no objective is judged. Replace it with
// [SetDefault].
func Default() *Tracker {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultTracker == nil {
		t, err := New()
		if err != nil {
			// New without options cannot fail; keep a usable tracker anyway.
			t = &Tracker{cfg: newConfig(nil), stop: make(chan struct{}), incidents: make(chan incident.Incident, 1)}
			t.tracer = t.cfg.tracerProvider.Tracer(ScopeName)
		}
		defaultTracker = t
	}
	return defaultTracker
}

// SetDefault makes t the default Tracker. A nil t is ignored. The previous
// default is not closed.
func SetDefault(t *Tracker) {
	if t == nil {
		return
	}
	defaultMu.Lock()
	defaultTracker = t
	defaultMu.Unlock()
}
