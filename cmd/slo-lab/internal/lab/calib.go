package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// Thresholds are the objectives' thresholds a run's service judges by.
type Thresholds struct {
	TTFT Duration `json:"ttft"`
	TPOT Duration `json:"tpot"`
}

// Quantiles summarise a sample of durations, in ms.
type Quantiles struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// Calibration is the healthy workload measured on this host before the
// runs, and the thresholds set from it.
type Calibration struct {
	// Workload is the workload calibrated (its thresholds left out).
	Workload Workload `json:"workload"`
	// Requests judged during the calibration, and the TTFT and TPOT
	// quantiles of the healthy workload.
	Requests int       `json:"requests"`
	TTFT     Quantiles `json:"ttft"`
	TPOT     Quantiles `json:"tpot"`
	// Thresholds are those set from the measurement (calibrationRule).
	Thresholds Thresholds `json:"thresholds"`
}

// The calibration: calibrationTime of healthy load at the scenario's rate
// (after the warm-up), and each threshold set to calibrationFactor times
// the median, or the 99th percentile plus a margin (ttftMargin,
// tpotMargin) when more, rounded up (10 ms for TTFT, 1 ms for TPOT). A run
// whose healthy requests (those no fault overlapped) miss an objective
// more often than MaxHealthyBad is rejected, not scored: that share is
// where the lab's healthy workload ends.
const (
	calibrationTime   = 12 * time.Second
	calibrationFactor = 2.0
	ttftMargin        = 20.0 // ms
	tpotMargin        = 1.0  // ms
	MaxHealthyBad     = 0.05
)

// calibrationRule says how thresholds are set, for the report.
var calibrationRule = fmt.Sprintf("threshold = the larger of %.0f × the median of %v of healthy load on this host and its p99 + %.0f ms for TTFT, + %.0f ms for TPOT (rounded up to 10 ms for TTFT, 1 ms for TPOT); a run whose healthy requests (those no fault overlapped) miss an objective more often than %.0f %% is rejected, not scored",
	calibrationFactor, calibrationTime, ttftMargin, tpotMargin, 100*MaxHealthyBad)

// workloadKey identifies a workload's healthy behaviour: its thresholds and
// retries do not change it.
func workloadKey(w Workload) string {
	w.TTFTThreshold, w.TPOTThreshold, w.Retries, w.TightTTFT = 0, 0, 0, false
	b, _ := json.Marshal(w)
	return string(b)
}

// calibrate measures the healthy workload w at rps on this host: a service
// with thresholds nothing misses, warmed up, then calibrationTime of load.
func calibrate(ctx context.Context, env *Env, w Workload, rps float64) (Calibration, error) {
	w.TTFTThreshold, w.TPOTThreshold, w.Retries, w.TightTTFT = 0, 0, 0, false
	cal := Calibration{Workload: w}
	never := Thresholds{TTFT: Duration(time.Minute), TPOT: Duration(time.Minute)}
	svc, err := env.startService(ctx, env.serviceConfig(w, never))
	if err != nil {
		return cal, err
	}
	defer svc.kill()
	env.reset(w)
	load(ctx, svc.url, rps, warmUp, 5*time.Second)
	if _, err := svc.begin(); err != nil {
		return cal, err
	}
	load(ctx, svc.url, rps, calibrationTime, 5*time.Second)
	out, err := svc.stop(ctx)
	if err != nil {
		return cal, err
	}
	var ttft, tpot []float64
	for _, r := range out.Requests {
		if !r.Judged {
			continue
		}
		cal.Requests++
		if r.TTFTMs > 0 {
			ttft = append(ttft, r.TTFTMs)
		}
		if r.TPOTMs > 0 {
			tpot = append(tpot, r.TPOTMs)
		}
	}
	if len(ttft) < 20 || len(tpot) < 20 {
		return cal, fmt.Errorf("lab: calibration: %d requests with a TTFT, %d with a TPOT: too few", len(ttft), len(tpot))
	}
	cal.TTFT, cal.TPOT = quantiles(ttft), quantiles(tpot)
	cal.Thresholds = thresholdsFrom(cal.TTFT, cal.TPOT)
	return cal, nil
}

// thresholdsFrom sets the thresholds from the healthy quantiles (see
// calibrationRule).
func thresholdsFrom(ttft, tpot Quantiles) Thresholds {
	return Thresholds{
		TTFT: Duration(roundUp(max(calibrationFactor*ttft.P50, ttft.P99+ttftMargin), 10) * float64(time.Millisecond)),
		TPOT: Duration(roundUp(max(calibrationFactor*tpot.P50, tpot.P99+tpotMargin), 1) * float64(time.Millisecond)),
	}
}

// thresholds returns the thresholds of workload w: those it fixes, else the
// calibrated ones (the TTFT one at the healthy median when w asks for a
// tight one).
func (cal Calibration) thresholds(w Workload) Thresholds {
	t := cal.Thresholds
	if w.TightTTFT {
		t.TTFT = Duration(math.Round(cal.TTFT.P50) * float64(time.Millisecond))
	}
	if w.TTFTThreshold > 0 {
		t.TTFT = w.TTFTThreshold
	}
	if w.TPOTThreshold > 0 {
		t.TPOT = w.TPOTThreshold
	}
	return t
}

// quantiles returns the nearest-rank quantiles of v (sorted in place).
func quantiles(v []float64) Quantiles {
	slices.Sort(v)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(v)))) - 1
		return v[max(0, min(i, len(v)-1))]
	}
	return Quantiles{P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: v[len(v)-1]}
}

func roundUp(v, step float64) float64 { return math.Ceil(v/step) * step }
