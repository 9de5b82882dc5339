package lab

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/llmslo/slo/attribution"
)

var recordScenarios = []string{`
name: fault_free
load: {rps: 10, duration: 7s}
seed: 1
repetitions: 3
assertions:
  - no_incident: true
`, good, `
name: provider_error
load: {rps: 10, duration: 7s}
faults:
  - {kind: provider_error, start: 3s, end: 6.5s, rate: 0.5, status: 503}
seed: 3
repetitions: 3
`, `
name: two
load: {rps: 10, duration: 7s}
faults:
  - {kind: dns_delay, start: 3s, end: 6.5s, delay: 400ms}
  - {kind: provider_error, start: 3s, end: 6.5s, rate: 0.5, status: 503}
seed: 4
repetitions: 3
assertions:
  - top2: [network_dns, provider_error]
  - min_bad_requests: 3
`}

// syntheticRecord builds a record of three repetitions per scenario with
// samples whose evidence points at the injected domain, incidents, errors
// and a skipped run, with times that carry monotonic clock readings as a
// live run's do.
func syntheticRecord(t *testing.T) *Record {
	t.Helper()
	rec := &Record{Command: "lab -reps 3", Date: "2026-01-02T03:04:05Z", Machine: "test machine",
		Duration: "1m2s", Folds: 3, Notes: []string{"a note"}}
	rng := rand.New(rand.NewPCG(7, 8))
	start := time.Now()
	for i, src := range recordScenarios {
		sc, err := ParseScenario([]byte(src), nil)
		if err != nil {
			t.Fatal(err)
		}
		rec.Scenarios = append(rec.Scenarios, sc)
		rec.Results = append(rec.Results, nil)
		for r := range 3 {
			res := syntheticRun(sc, r, start.Add(time.Duration(i*3+r)*10*time.Second), rng)
			rec.Results[i] = append(rec.Results[i], res)
		}
	}
	rec.Results[1] = append(rec.Results[1], RunResult{Scenario: "dns", Rep: 3, Skipped: "needs root"})
	return rec
}

func syntheticRun(sc *Scenario, rep int, start time.Time, rng *rand.Rand) RunResult {
	res := RunResult{Scenario: sc.Name, Rep: rep, Start: start, Requests: 70, ForeignCores: rng.Float64(),
		HealthyTTFT: []float64{rng.Float64() * 100}, Kernel: "dns=in-process/on"}
	ds := sc.Domains()
	if len(ds) > 0 {
		res.FaultAt = start.Add(3 * time.Second)
		res.FaultEnd = start.Add(6500 * time.Millisecond)
		res.Incidents = append(res.Incidents, IncidentRec{At: res.FaultAt.Add(time.Duration(rng.IntN(2000)) * time.Millisecond),
			Severity: "page", Domain: ds[0].String()})
		res.Errors = []string{"inject: something"}
	}
	for n := range 20 {
		s := Sample{InFault: len(ds) > 0 && n%4 != 0}
		s.Obs.E2EMs = 250 + rng.Float64()*300
		for _, f := range attribution.AllFeatures() {
			s.Obs.Set(f, 0) // observed, as every feature of a live run is
		}
		s.Obs.Set(attribution.AppLocalMs, rng.Float64()*30)
		if s.InFault {
			s.Truth = ds[n%len(ds)]
			switch s.Truth {
			case attribution.NetworkDNS:
				s.Obs.Set(attribution.AppDNSMs, 300+rng.Float64()*200)
				s.Obs.Set(attribution.KernDNSMs, 300+rng.Float64()*200)
			case attribution.ProviderError:
				s.Obs.Set(attribution.AppServerErrors, 1)
				s.Obs.Failed = true
			}
		}
		res.Samples = append(res.Samples, s)
	}
	res.Bad = len(res.Samples)
	return res
}

func reportBytes(t *testing.T, rep *Report) (md, js []byte) {
	t.Helper()
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Markdown(), js
}

// TestRecordRebuild checks that a report rebuilt from a written record is
// byte for byte the report computed from the runs in memory, and the model
// the same model.
func TestRecordRebuild(t *testing.T) {
	rec := syntheticRecord(t)
	for i := range rec.Results {
		for j := range rec.Results[i] {
			rec.Results[i][j] = rec.Results[i][j].wallClock()
		}
	}
	want, wantModel, err := Rebuild(rec)
	if err != nil {
		t.Fatal(err)
	}
	if want.Arms["both"].Samples == 0 || want.Arms["both"].MacroF1 <= 0 || len(want.Scenarios) != 4 {
		t.Fatalf("synthetic report too thin to compare: %+v", want.Arms["both"])
	}
	dir := t.TempDir()
	if err := WriteRecord(filepath.Join(dir, recordFile), rec); err != nil {
		t.Fatal(err)
	}
	back, err := ReadRecord(filepath.Join(dir, recordFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Results[2][1].Samples, rec.Results[2][1].Samples) {
		t.Errorf("samples after the round trip differ:\n%+v\n%+v", back.Results[2][1].Samples, rec.Results[2][1].Samples)
	}
	if err := WriteRecord(filepath.Join(dir, "again"), back); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, recordFile))
	again, _ := os.ReadFile(filepath.Join(dir, "again"))
	if !bytes.Equal(first, again) {
		t.Error("a record read and written again differs")
	}
	got, gotModel, err := Rebuild(back)
	if err != nil {
		t.Fatal(err)
	}
	wmd, wjs := reportBytes(t, want)
	gmd, gjs := reportBytes(t, got)
	if !bytes.Equal(wmd, gmd) || !bytes.Equal(wjs, gjs) {
		t.Errorf("rebuilt report differs:\n%s\nwant\n%s", gmd, wmd)
	}
	if !reflect.DeepEqual(wantModel, gotModel) {
		t.Error("rebuilt model differs")
	}

	modelPath := filepath.Join(dir, "model.json")
	if _, err := RebuildDir(dir, modelPath, nil, ""); err != nil {
		t.Fatal(err)
	}
	if md, _ := os.ReadFile(filepath.Join(dir, "report.md")); !bytes.Equal(md, wmd) {
		t.Errorf("RebuildDir wrote a different report.md")
	}
	if st, err := os.Stat(modelPath); err != nil || st.Size() == 0 {
		t.Errorf("model: %v", err)
	}
}

func TestReadRecordErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"empty":       "",
		"header":      "{",
		"index":       `{"scenarios":[]}` + "\n" + `{"scenario_index":0}` + "\n",
		"domain":      `{"scenarios":[{"name":"a"}]}` + "\n" + `{"scenario_index":0,"samples":[{"truth":"nope"}]}` + "\n",
		"feature":     `{"scenarios":[{"name":"a"}]}` + "\n" + `{"scenario_index":0,"samples":[{"truth":"unknown","features":{"x":1}}]}` + "\n",
		"not a run":   `{"scenarios":[{"name":"a"}]}` + "\n" + `[1]` + "\n",
		"bad element": `{"scenarios":[{"name":"a"}]}` + "\n" + `{"scenario_index":0,"start":"yesterday"}` + "\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRecord(path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := RebuildDir(t.TempDir(), "", nil, ""); err == nil {
		t.Error("RebuildDir of a directory without a record: no error")
	}
}

// TestRebuildRescores checks that a rebuild given models scores each of
// them as is, records them with the command that did, and that a plain
// rebuild afterwards gives the same report byte for byte; and that a
// record holding one model the earlier way still reads.
func TestRebuildRescores(t *testing.T) {
	rec := syntheticRecord(t)
	dir := t.TempDir()
	path := filepath.Join(dir, recordFile)
	legacy := *rec
	legacy.LegacyEvaluated = wrongModelJSON(t, "legacy")
	if err := WriteRecord(path, &legacy); err != nil {
		t.Fatal(err)
	}
	if back, err := ReadRecord(path); err != nil || len(back.Evaluated) != 1 || back.LegacyEvaluated != nil {
		t.Fatalf("a record with one evaluated model the earlier way reads as %+v, %v", back, err)
	}
	models := []EvaluatedModel{{Name: "a.json", Model: wrongModelJSON(t, "first")}, {Name: "b.json", Model: wrongModelJSON(t, "second")}}
	rep, err := RebuildDir(dir, "", models, "lab -rebuild d -evaluate a.json,b.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Models) != 2 || rep.Models[0].Name != "a.json" || rep.Models[1].Provenance.Command != "second" {
		t.Fatalf("evaluated models = %+v", rep.Models)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"## Evaluated model `a.json`", "## Evaluated model `b.json`", "by `lab -rebuild d -evaluate a.json,b.json`",
		"| evaluated model b.json: macro-F1 with unknown |"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if _, err := RebuildDir(dir, "", nil, "lab -rebuild d"); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "report.md")); !bytes.Equal(md, again) {
		t.Error("a plain rebuild after rescoring gives another report")
	}
}

// wrongModelJSON is the JSON of a model that calls every DNS-looking
// request provider_throttle, with command as its provenance.
func wrongModelJSON(t *testing.T, command string) []byte {
	t.Helper()
	b, err := json.Marshal(wrongModel(t, command))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
