package attribution

// Baseline tracks the healthy level of each duration feature (an exponential
// moving average over good requests) so that observations can be expressed
// as excess over it. Counts (429s, retransmits, …) have a baseline of zero.
//
// The zero value is ready to use. A Baseline is not safe for concurrent use.
type Baseline struct {
	mean [numFeatures]float64
	n    [numFeatures]uint32
}

// baselineAlpha weighs a new good request: about the last 50 count.
const baselineAlpha = 0.04

// isDuration reports whether f is a duration (ms) feature with a baseline.
func isDuration(f Feature) bool {
	switch f {
	case AppThrottled, AppServerErrors, AppResets, KernRetransmits, KernConnectErrors:
		return false
	}
	return true
}

// Observe folds a good request into the baseline.
func (b *Baseline) Observe(o Observation) {
	for f := Feature(0); f < numFeatures; f++ {
		v, ok := o.Get(f)
		if !ok || !isDuration(f) {
			continue
		}
		if b.n[f] == 0 {
			b.mean[f] = v
		} else {
			b.mean[f] += baselineAlpha * (v - b.mean[f])
		}
		if b.n[f] < ^uint32(0) {
			b.n[f]++
		}
	}
}

// Excess returns o with every duration feature replaced by its excess over
// the baseline (never negative). Features without a baseline yet are kept.
func (b *Baseline) Excess(o Observation) Observation {
	out := o
	for f := Feature(0); f < numFeatures; f++ {
		if !o.Has(f) || !isDuration(f) || b.n[f] == 0 {
			continue
		}
		out.Values[f] = max(0, o.Values[f]-b.mean[f])
	}
	return out
}
