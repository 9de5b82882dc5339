package lab

import (
	"fmt"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/benchstat"
)

// ScenarioJSON summarises one scenario's runs.
type ScenarioJSON struct {
	Name        string                    `json:"name"`
	Domains     []string                  `json:"domains"`
	Repetitions int                       `json:"repetitions"`
	Runs        int                       `json:"runs"`
	Skipped     string                    `json:"skipped,omitempty"`
	BadInFault  int                       `json:"bad_requests_in_fault"`
	BadOutside  int                       `json:"bad_requests_outside_fault"`
	Requests    int                       `json:"requests"`
	Detected    int                       `json:"runs_with_page"`
	DelayP50    float64                   `json:"detection_delay_p50_s"`
	ColdPages   int                       `json:"cold_start_pages"`
	Assertions  map[string][2]int         `json:"assertions"` // passed, evaluated
	RunTop      map[string]map[string]int `json:"run_top"`    // arm → predicted top → runs
	Errors      []string                  `json:"errors,omitempty"`
}

// summarizeScenario summarises sc's repetitions; byResult finds the
// evaluation of each run that ran.
func summarizeScenario(sc *Scenario, results []RunResult, byResult map[*RunResult]*runEval) ScenarioJSON {
	sj := ScenarioJSON{Name: sc.Name, Repetitions: sc.Repetitions, Assertions: map[string][2]int{},
		RunTop: map[string]map[string]int{}}
	for _, d := range sc.Domains() {
		sj.Domains = append(sj.Domains, d.String())
	}
	var sd []float64
	for j := range results {
		res := &results[j]
		if res.Skipped != "" {
			sj.Skipped = res.Skipped
			continue
		}
		sj.add(res)
		if !res.FaultAt.IsZero() {
			if in, ok := res.FirstPage(res.FaultAt); ok {
				sj.Detected++
				sd = append(sd, in.At.Sub(res.FaultAt).Seconds())
			}
		}
		re := byResult[res]
		sj.addRunTop(re)
		sj.addAssertions(sc, res, re)
	}
	if len(sj.Errors) > 5 {
		sj.Errors = append(sj.Errors[:5], fmt.Sprintf("… %d more", len(sj.Errors)-5))
	}
	if len(sd) > 0 {
		sj.DelayP50 = nanTo0(benchstat.Summarize(sd, 0.95).Median)
	}
	return sj
}

// add counts res's requests, errors, cold-start page and bad requests.
func (sj *ScenarioJSON) add(res *RunResult) {
	sj.Runs++
	sj.Requests += res.Requests
	sj.Errors = append(sj.Errors, res.Errors...)
	for _, in := range res.Incidents {
		if in.Severity == "page" && in.At.Before(res.Start.Add(coldStart)) {
			sj.ColdPages++
			break
		}
	}
	for _, s := range res.Samples {
		if s.InFault {
			sj.BadInFault++
		} else {
			sj.BadOutside++
		}
	}
}

// addRunTop counts the run's top domain per arm (re nil: not evaluated).
func (sj *ScenarioJSON) addRunTop(re *runEval) {
	for ai, arm := range Arms {
		if re == nil || !re.has[ai] {
			continue
		}
		if sj.RunTop[arm.Name] == nil {
			sj.RunTop[arm.Name] = map[string]int{}
		}
		sj.RunTop[arm.Name][re.agg[ai].Top.String()]++
	}
}

// addAssertions evaluates the scenario's assertions on one run.
func (sj *ScenarioJSON) addAssertions(sc *Scenario, res *RunResult, re *runEval) {
	for _, as := range sc.Assertions {
		ok, evaluated := checkAssertion(as, res, re)
		if !evaluated {
			continue
		}
		v := sj.Assertions[as.String()]
		v[1]++
		if ok {
			v[0]++
		}
		sj.Assertions[as.String()] = v
	}
}

func checkAssertion(a Assertion, res *RunResult, re *runEval) (ok, evaluated bool) {
	switch {
	case a.TopDomain != "":
		if re == nil || !re.has[2] {
			return false, true
		}
		return re.agg[2].Top.String() == a.TopDomain, true
	case len(a.Top2) > 0:
		if re == nil || !re.has[2] {
			return false, true
		}
		var ds []attribution.Domain
		for _, n := range a.Top2 {
			d, _ := attribution.ParseDomain(n)
			ds = append(ds, d)
		}
		return inTop2(re.agg[2], ds), true
	case a.DetectionDelayMax > 0:
		if res.FaultAt.IsZero() {
			return false, true
		}
		in, found := res.FirstPage(res.FaultAt)
		return found && in.At.Sub(res.FaultAt) <= a.DetectionDelayMax.D(), true
	case a.NoIncident:
		_, found := res.FirstPage(res.Start.Add(coldStart))
		return !found, true
	case a.MinBadRequests != nil:
		n := 0
		for _, s := range res.Samples {
			if s.InFault {
				n++
			}
		}
		return n >= *a.MinBadRequests, true
	}
	return false, false
}
