package slo

import (
	"errors"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel"
)

// usable reports whether t was made by [New] (or [Default]); a nil or zero
// Tracker is not, and its methods do nothing (see [Tracker]).
func (t *Tracker) usable() bool { return t != nil && t.cfg != nil }

// errZeroTracker is reported when a zero Tracker wraps a handler or a
// transport.
var errZeroTracker = errors.New("slo: a zero Tracker (not made by slo.New) measures nothing: requests pass through unmeasured; create the Tracker with slo.New")

// reportZero reports, at wrap time, that t is a zero Tracker (a nil one is a
// documented off switch and says nothing). A zero Tracker has no error
// handler of its own: the report goes to otel.Handle, WithErrorHandler's
// default.
func (t *Tracker) reportZero(what string) {
	if t != nil {
		otel.Handle(fmt.Errorf("%s: %w", what, errZeroTracker))
	}
}

// nilHandler is what Instrument(nil) serves: 500 for every request. A 404
// would read as a client's wrong URL; the 500 is the server's fault it is,
// counted as a failed request by the objectives, and the cause was reported
// once, when Instrument was called.
type nilHandler struct{}

func (nilHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "slo: Instrument was given a nil handler", http.StatusInternalServerError)
}

// errNilHandler is reported when Instrument is given a nil handler.
var errNilHandler = errors.New("slo: Instrument(nil): every request is answered 500 Internal Server Error; give Instrument the handler to measure")

// reportNilHandler reports Instrument(nil) through t's error handler and
// logger, or otel.Handle when t has none.
func (t *Tracker) reportNilHandler() {
	if !t.usable() {
		otel.Handle(errNilHandler)
		return
	}
	t.cfg.logger.Error(errNilHandler.Error())
	t.cfg.errorHandler(errNilHandler)
}
