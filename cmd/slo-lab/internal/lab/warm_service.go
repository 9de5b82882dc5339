package lab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	slo "github.com/llmslo/slo"
	"github.com/llmslo/slo/incident"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// warmConfig makes the service's tracker a warm one (see [DetectOnce]):
// TTFT objectives at the service's threshold and each of detectTargets,
// restored from StateFile, the default alert gate, no probes.
type warmConfig struct {
	StateFile string `json:"state_file"`
}

// detectObjectives are the objectives of a detection run: TTFT at
// threshold, at each detection target (named by their definition, so the
// lab and the service name them alike).
func detectObjectives(threshold time.Duration) []slo.Objective {
	var out []slo.Objective
	for _, t := range detectTargets {
		out = append(out, slo.TTFT(threshold, t))
	}
	return out
}

// newWarmTracker starts the tracker of a detection run's service: restored
// from the warm state file the lab wrote (an error unless every objective
// came back restored), with the default gate and without probes (detection
// is the subject, not attribution).
func newWarmTracker(cfg serviceConfig, tp *sdktrace.TracerProvider, store *recordStore, sink incident.Sink) (*slo.Tracker, error) {
	tr, err := slo.New(
		slo.WithService("lab"),
		slo.WithTracerProvider(tp),
		slo.WithRequestRecords(store.add),
		slo.WithObjectives(detectObjectives(cfg.TTFT.D())...),
		slo.WithIncidentSink(sink),
		slo.WithoutProbes(),
		slo.WithStateFile(cfg.Warm.StateFile),
		slo.WithStateFileInterval(time.Hour),
		slo.WithErrorHandler(func(error) {}),
	)
	if err != nil {
		return nil, fmt.Errorf("service: tracker: %w", err)
	}
	for _, b := range tr.Budget() {
		if b.Origin != slo.OriginRestored {
			refused := tr.Status().State.Refused
			_ = tr.Close()
			return nil, fmt.Errorf("service: warm state not restored (%s): %s", b.Origin, refused)
		}
	}
	return tr, nil
}

// detectPath is where a warm service reports its progress to the lab.
const detectPath = "/lab/detect"

// detectProgress is a warm service's progress since a given instant: the
// objectives that paged since, and the requests judged since and how many
// of them were bad.
type detectProgress struct {
	Paged  []string `json:"paged"`
	Judged int      `json:"judged"`
	Bad    int      `json:"bad"`
}

// detectHandler serves detectPath (?since=RFC 3339 time) from tr's
// incidents and store, and everything else with next.
func detectHandler(next http.Handler, tr *slo.Tracker, store *recordStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != detectPath {
			next.ServeHTTP(w, r)
			return
		}
		since, err := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var p detectProgress
		for _, inc := range tr.Incidents() {
			if inc.Severity == incident.SeverityPage && !inc.Time.Before(since) {
				p.Paged = append(p.Paged, inc.Objective)
			}
		}
		p.Judged, p.Bad = store.judgedSince(since)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
}

// judgedSince counts the requests judged that ended at or after since, and
// those of them that missed an objective.
func (s *recordStore) judgedSince(since time.Time) (judged, bad int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if len(r.Objectives) == 0 || r.End.Before(since) {
			continue
		}
		judged++
		if len(r.Breached) > 0 {
			bad++
		}
	}
	return judged, bad
}
