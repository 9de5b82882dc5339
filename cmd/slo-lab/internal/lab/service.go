package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	slo "github.com/llmslo/slo"
	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/incident"
	"github.com/llmslo/slo/probes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The instrumented service runs as a process of its own, in cgroups of its
// own, so that the CPU, quota and memory faults hit it and nothing else:
// the lab starts its own executable with ServiceEnv=1 once per run, and the
// program's main (and a test binary's TestMain) hands over to [ServeMain].
//
// The protocol is JSON lines: the lab writes a serviceConfig on the
// service's stdin, the service answers {"addr": …} on stdout once its
// tracker's probes are loaded and it listens; the lab writes "begin" when
// its warm-up requests are done, with the time it began (requests that
// start before are not reported; the lab's own time, because the service
// may read the line after the first requests have started) and "stop" at the end of the run; the service then answers a
// serviceResult and exits.
const ServiceEnv = "SLO_LAB_SERVICE"

// IsService reports whether this process was started as the lab's service.
func IsService() bool { return os.Getenv(ServiceEnv) == "1" }

// serviceConfig is what the service needs to know.
type serviceConfig struct {
	Workload Workload `json:"workload"`
	// TTFT and TPOT are the objectives' thresholds.
	TTFT Duration `json:"ttft"`
	TPOT Duration `json:"tpot"`
	// ProviderURL and RetrievalURL are the dependencies; DNS is the lab's
	// DNS server (host:port), through which the provider's name resolves.
	ProviderURL  string `json:"provider_url"`
	RetrievalURL string `json:"retrieval_url"`
	DNS          string `json:"dns"`
	// CPUCgroup is the service's cpu cgroup (the tracker's CFS throttling
	// poller reads it); WorkPerMs the iterations of work per ms of CPU.
	CPUCgroup string `json:"cpu_cgroup,omitempty"`
	WorkPerMs int    `json:"work_per_ms"`
	// Warm, when set, makes the tracker a warm one for detection runs.
	Warm *warmConfig `json:"warm,omitempty"`
}

// serviceResult is what the service reports at the end of a run.
type serviceResult struct {
	Requests  []Req         `json:"requests"`
	Incidents []IncidentRec `json:"incidents"`
	Kernel    string        `json:"kernel"`
	Err       string        `json:"error,omitempty"`
}

// ServeMain runs the lab's service on stdin and stdout and returns the
// process's exit code.
func ServeMain() int {
	in := bufio.NewReader(os.Stdin)
	res, err := serve(in, os.Stdout)
	if err != nil {
		res.Err = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil || res.Err != "" {
		return 1
	}
	return 0
}

// serve runs one service: config from in, the ready line to out, then the
// requests until "stop".
func serve(in *bufio.Reader, out io.Writer) (serviceResult, error) {
	var res serviceResult
	line, err := in.ReadBytes('\n')
	if err != nil {
		return res, fmt.Errorf("service: read config: %w", err)
	}
	var cfg serviceConfig
	if err := json.Unmarshal(line, &cfg); err != nil {
		return res, fmt.Errorf("service: config: %w", err)
	}
	store := &recordStore{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	var incMu sync.Mutex
	tr, err := newTracker(cfg, tp, store, func(in IncidentRec) {
		incMu.Lock()
		res.Incidents = append(res.Incidents, in)
		incMu.Unlock()
	})
	if err != nil {
		return res, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = tr.Close()
		return res, fmt.Errorf("service: listen: %w", err)
	}
	h := tr.Instrument(newApp(tr, cfg))
	if cfg.Warm != nil {
		h = detectHandler(h, tr, store)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if err := json.NewEncoder(out).Encode(map[string]string{"addr": ln.Addr().String()}); err != nil {
		_ = tr.Close()
		return res, err
	}
	begin, err := waitCommands(in)
	shutdown(srv)
	res.Kernel = kernelLine(tr)
	_ = tr.Close()
	for _, r := range store.requests() {
		if !r.Start.Before(begin) {
			res.Requests = append(res.Requests, r)
		}
	}
	incMu.Lock()
	defer incMu.Unlock()
	return res, err
}

// waitCommands reads the lab's commands until "stop" (or the end of its
// input) and returns when "begin" came: the time the lab wrote with it (the
// lab's clock when it began, the same host's wall clock), or, without one,
// the time the line was read.
func waitCommands(in *bufio.Reader) (time.Time, error) {
	var begin time.Time
	for {
		line, err := in.ReadString('\n')
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch cmd {
		case "begin":
			begin = time.Now()
			if t, err := time.Parse(time.RFC3339Nano, arg); err == nil {
				begin = t
			}
		case "stop":
			return begin, nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return begin, errors.New("service: the lab went away")
			}
			return begin, err
		}
	}
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
}

// newTracker starts the service's tracker (TTFT and TPOT objectives, the
// lab's probes, its requests' records kept in store, its incidents passed
// to sink) and waits for its probes to load or fail, so every run sees the
// same signals.
func newTracker(cfg serviceConfig, tp *sdktrace.TracerProvider, store *recordStore, sink func(IncidentRec)) (*slo.Tracker, error) {
	isink := incident.SinkFunc(func(_ context.Context, inc incident.Incident) error {
		sink(IncidentRec{At: inc.Time, Severity: inc.Severity, Domain: inc.PredictedFaultDomain, Objective: inc.Objective})
		return nil
	})
	if cfg.Warm != nil {
		return newWarmTracker(cfg, tp, store, isink)
	}
	_, port, err := net.SplitHostPort(cfg.DNS)
	if err != nil {
		return nil, fmt.Errorf("service: dns address: %w", err)
	}
	var dnsPort uint16
	_, _ = fmt.Sscan(port, &dnsPort)
	pcfg := probes.Config{DNSPorts: []uint16{dnsPort}, CgroupPath: cfg.CPUCgroup, PollInterval: 200 * time.Millisecond}
	tr, err := slo.New(
		slo.WithService("lab"),
		slo.WithTracerProvider(tp),
		slo.WithRequestRecords(store.add),
		slo.WithObjectives(slo.TTFT(cfg.TTFT.D(), 0.99).Named("ttft"), slo.TPOT(cfg.TPOT.D(), 0.99).Named("tpot")),
		slo.WithIncidentSink(isink),
		slo.WithProbes(pcfg),
		slo.WithErrorHandler(func(error) {}),
		// Cold start: every run's tracker starts empty; without the alert
		// gate it pages on the run's seconds of history (cold-start figures).
		slo.WithMinCoverage(0), slo.WithMinEvents(1),
	)
	if err != nil {
		return nil, fmt.Errorf("service: tracker: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		starting := false
		for _, s := range tr.KernelStatus() {
			starting = starting || s.Path == "starting"
		}
		if !starting {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return tr, nil
}

// newApp returns the service's handler with its provider and retrieval
// clients (instrumented by tr); the provider's name resolves through the
// lab's DNS server, and every provider call resolves and connects anew.
func newApp(tr *slo.Tracker, cfg serviceConfig) *app {
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, cfg.DNS)
	}}
	dialer := &net.Dialer{Resolver: resolver, Timeout: 3 * time.Second}
	provBase := &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true, ResponseHeaderTimeout: 10 * time.Second}
	retrBase := &http.Transport{MaxIdleConnsPerHost: 32}
	w := cfg.Workload
	return &app{
		prov:    &http.Client{Transport: tr.Transport(provBase, slo.WithProviderName("openai")), Timeout: 15 * time.Second},
		retr:    &http.Client{Transport: tr.Transport(retrBase, slo.Retrieval()), Timeout: 10 * time.Second},
		provURL: cfg.ProviderURL, retrURL: cfg.RetrievalURL,
		mem:     newBuffers(w.AllocMB, w.FreshMemory),
		work:    int(w.CPUWork.D().Milliseconds()) * cfg.WorkPerMs,
		retries: w.Retries,
	}
}

// reqJSON is a request as the service reports it: its evidence with the
// features by name.
type reqJSON struct {
	Start    time.Time          `json:"start"`
	End      time.Time          `json:"end"`
	TTFTMs   float64            `json:"ttft_ms,omitempty"`
	TPOTMs   float64            `json:"tpot_ms,omitempty"`
	Judged   bool               `json:"judged,omitempty"`
	Good     bool               `json:"good,omitempty"`
	E2EMs    float64            `json:"e2e_ms"`
	Failed   bool               `json:"failed,omitempty"`
	Features map[string]float64 `json:"features"`
}

// MarshalJSON writes the request with its features by name.
func (r Req) MarshalJSON() ([]byte, error) {
	return json.Marshal(reqJSON{Start: r.Start, End: r.End, TTFTMs: r.TTFTMs, TPOTMs: r.TPOTMs, Judged: r.Judged, Good: r.Good,
		E2EMs: r.Obs.E2EMs, Failed: r.Obs.Failed, Features: features(r.Obs)})
}

// UnmarshalJSON reads a request written by MarshalJSON.
func (r *Req) UnmarshalJSON(b []byte) error {
	var j reqJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Req{Start: j.Start, End: j.End, TTFTMs: j.TTFTMs, TPOTMs: j.TPOTMs, Judged: j.Judged, Good: j.Good,
		Obs: attribution.Observation{E2EMs: j.E2EMs, Failed: j.Failed}}
	return setFeatures(&r.Obs, j.Features)
}
