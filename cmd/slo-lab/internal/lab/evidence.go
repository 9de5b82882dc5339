package lab

import (
	"strings"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/semconv"
)

// watched returns the kernel features whose probe a run's status line
// (RunResult.Kernel: "signal=path/state …", as the tracker's KernelStatus
// says) reports running in the service's process, in process or at the
// floor (the /proc and cgroup pollers).
func watched(status string) attribution.FeatureSet {
	var on []probes.Signal
	for _, field := range strings.Fields(status) {
		name, ps, ok := strings.Cut(field, "=")
		path, state, ok2 := strings.Cut(ps, "/")
		if !ok || !ok2 || state == probes.Off.String() || (path != semconv.PathInProcess && path != semconv.PathFloor) {
			continue
		}
		for _, sig := range probes.AllSignals() {
			if sig.String() == name {
				on = append(on, sig)
			}
		}
	}
	return attribution.ProbedFeatures(on...)
}

// evidence returns sample i of the run with the features arm keeps, a
// kernel feature whose probe was watching (watched) and that the sample
// lacks read as 0, as attribution.NewObservation reads it: a run recorded
// when the tracker left the floor pollers' features missing when they saw
// nothing (CFS throttling, steal) is scored as the tracker now observes.
func (r *runEval) evidence(i int, arm Arm) attribution.Observation {
	o := r.res.Samples[i].Obs
	for _, f := range attribution.AllFeatures() {
		if r.watched.Has(f) && !o.Has(f) {
			o.Set(f, 0)
		}
	}
	return o.Only(arm.Keep)
}
