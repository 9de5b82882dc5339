package lab

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWarmService runs a warm service (no faults, no privileges): its
// tracker comes back restored from three days of one request a second,
// and 60 requests that all miss the 100 ms TTFT page the 99.9 % objective
// (the 1h window needs more than 0.0144 × 3600 = 51.8 bad requests) within
// a second of the rule's arithmetic over the same history and requests,
// and not the 99 % one (518 needed). The lab's progress query sees the
// page and the requests; the service's report names the objective.
func TestWarmService(t *testing.T) {
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond) // every first token after the threshold
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"there\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer prov.Close()
	retr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{}") }))
	defer retr.Close()
	cfg := serviceConfig{TTFT: Duration(100 * time.Millisecond), TPOT: Duration(time.Second), ProviderURL: prov.URL, RetrievalURL: retr.URL,
		DNS: "127.0.0.1:1", Warm: &warmConfig{StateFile: filepath.Join(t.TempDir(), "slo.state")}}
	objs := detectObjectives(cfg.TTFT.D())
	hist := history{rate: 1, to: time.Now()}
	hist.from = hist.to.Add(-warmHistory)
	if err := writeWarmState(cfg.Warm.StateFile, objs, hist.rate, hist.to); err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan serviceResult, 1)
	go func() {
		res, err := serve(bufio.NewReader(inR), outW)
		if err != nil {
			res.Err = err.Error()
		}
		done <- res
	}()
	defer inW.Close()
	b, _ := json.Marshal(cfg)
	_, _ = inW.Write(append(b, '\n'))
	var ready struct{ Addr string }
	if err := json.NewDecoder(outR).Decode(&ready); err != nil || ready.Addr == "" {
		t.Fatalf("service: %q, %v (%s)", ready.Addr, err, (<-done).Err)
	}
	faultAt := time.Now()
	_, _ = io.WriteString(inW, "begin "+faultAt.Format(time.RFC3339Nano)+"\n")
	var wg sync.WaitGroup
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post("http://"+ready.Addr+"/v1/chat/completions", "application/json", strings.NewReader(string(chatBody)))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	p, err := progress(t.Context(), http.DefaultClient, "http://"+ready.Addr, faultAt)
	if err != nil {
		t.Fatal(err)
	}
	if p.Judged != 60 || p.Bad != 60 || !slices.Equal(p.Paged, []string{objs[1].Name()}) {
		t.Errorf("progress %+v, want 60 of 60 bad and a page of %s", p, objs[1].Name())
	}
	_, _ = io.WriteString(inW, "stop\n")
	res := <-done
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	r := DetectRun{FaultAt: faultAt, FaultEnd: time.Now(), End: time.Now()}
	r.judge(res.Requests, res.Incidents, hist, objs)
	o99, o999 := r.Objectives[0], r.Objectives[1]
	if o99.Pages != 0 || !o99.Arithmetic.IsZero() {
		t.Errorf("99 %%: %+v, want neither a page nor the arithmetic", o99)
	}
	if o999.Judged != 60 || o999.Bad != 60 || o999.Pages != 1 || o999.Arithmetic.IsZero() {
		t.Fatalf("99.9 %%: %+v, want 60 bad, the arithmetic holding and one page", o999)
	}
	if ex := o999.Page.Sub(o999.Arithmetic); ex < -arithmeticStep || ex > time.Second {
		t.Errorf("99.9 %%: page %v after the arithmetic (at %v into the fault), want within [-%v, 1 s]", ex, o999.Arithmetic.Sub(faultAt), arithmeticStep)
	}
	t.Logf("arithmetic %v, page %v into the fault", o999.Arithmetic.Sub(faultAt), o999.Page.Sub(faultAt))
}
