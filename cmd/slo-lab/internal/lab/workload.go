package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/providertest"
)

// providerHost is the name the service resolves its provider by, through the
// lab's DNS server.
const providerHost = "provider.lab.test"

// Env is the long-lived part of the reference workload, shared by every run
// and running in the lab's own process: the DNS server the service
// resolves through, the fake provider (inside a network namespace when the
// lab may create one), the retrieval backend and, when root, the service's
// cgroups. The service itself runs as a process of its own, once per run
// (see [ServeMain]).
type Env struct {
	DNS       *faults.DNSServer
	NS        *faults.Netns // nil when unprivileged
	Provider  *providertest.Handler
	ProvFault *faults.ProviderFaults
	RetrFault *faults.SlowRetrieval

	ProviderURL  string
	RetrievalURL string
	ProviderPort uint16

	cgroups   *svcCgroups  // nil when unprivileged
	retrDelay atomic.Int64 // healthy retrieval time, ns
	workPerMs int          // iterations of work() per millisecond of CPU, calibrated
	servers   []*http.Server
	cleanup   []func() error
	log       func(format string, args ...any)
}

// EnvConfig configures [NewEnv].
type EnvConfig struct {
	// Subnet for the provider's network namespace (faults.Subnet(n)).
	Subnet netip.Prefix
	// Privileged asks for the network namespace and the cgroup; without it
	// (or when they cannot be created) kernel-level faults are skipped.
	Privileged bool
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// NewEnv starts the shared workload.
func NewEnv(cfg EnvConfig) (e *Env, err error) {
	e = &Env{ProvFault: &faults.ProviderFaults{}, RetrFault: &faults.SlowRetrieval{}, log: cfg.Logf}
	if e.log == nil {
		e.log = func(string, ...any) {}
	}
	defer func() {
		if err != nil {
			_ = e.Close()
		}
	}()
	provAddr := netip.MustParseAddr("127.0.0.1")
	var provLn net.Listener
	if cfg.Privileged {
		if removed, err := CleanStale(); len(removed) > 0 || err != nil {
			e.log("lab: removed what an earlier lab left behind: %v (%v)", removed, err)
		}
		ns, nerr := faults.NewNetns(strings.TrimPrefix(LabPrefix, faults.NetnsPrefix)+strconv.Itoa(os.Getpid()), cfg.Subnet)
		if nerr != nil {
			e.log("lab: no network namespace (%v); packet_loss scenarios will be skipped", nerr)
		} else {
			e.NS = ns
			e.cleanup = append(e.cleanup, ns.Close)
			provAddr = ns.NSAddr()
			if provLn, err = ns.Listen("tcp", netip.AddrPortFrom(provAddr, 0).String()); err != nil {
				return nil, fmt.Errorf("lab: provider listener in netns: %w", err)
			}
		}
	}
	if provLn == nil {
		if provLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("lab: provider listener: %w", err)
		}
	}
	e.ProviderPort = uint16(provLn.Addr().(*net.TCPAddr).Port)
	e.DNS, err = faults.StartDNS(faults.DNSConfig{Hosts: map[string]netip.Addr{providerHost: provAddr}})
	if err != nil {
		provLn.Close()
		return nil, fmt.Errorf("lab: dns: %w", err)
	}
	e.cleanup = append(e.cleanup, e.DNS.Close)

	e.workPerMs = workRate()
	e.Provider = providertest.NewHandler(nil)
	e.serve(provLn, e.ProvFault.Wrap(e.Provider))
	e.ProviderURL = "http://" + net.JoinHostPort(providerHost, strconv.Itoa(int(e.ProviderPort))) + "/v1/chat/completions"

	retrLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lab: retrieval listener: %w", err)
	}
	e.serve(retrLn, e.RetrFault.Wrap(http.HandlerFunc(e.search)))
	e.RetrievalURL = "http://" + retrLn.Addr().String() + "/search"

	if cfg.Privileged {
		e.cgroups = newSvcCgroups(e.log)
		e.cleanup = append(e.cleanup, e.cgroups.close)
	}
	return e, nil
}

func (e *Env) serve(ln net.Listener, h http.Handler) {
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	e.servers = append(e.servers, s)
	go func() { _ = s.Serve(ln) }()
}

// search is the retrieval backend: a few documents after the healthy delay.
func (e *Env) search(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if d := time.Duration(e.retrDelay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"documents":[{"id":"d1","score":0.91},{"id":"d2","score":0.87},{"id":"d3","score":0.80}]}`)
}

// Close stops the servers and removes the namespace, the DNS server and the cgroup.
func (e *Env) Close() error {
	var errs []error
	for _, s := range e.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			_ = s.Close()
		}
		cancel()
	}
	for i := len(e.cleanup) - 1; i >= 0; i-- {
		if err := e.cleanup[i](); err != nil {
			errs = append(errs, err)
		}
	}
	e.cleanup = nil
	return errors.Join(errs...)
}

// load drives open-loop requests at rps for d against url and waits (at
// most grace) for the last ones.
func load(ctx context.Context, url string, rps float64, d, grace time.Duration) (sent int) {
	client := &http.Client{Timeout: d + grace, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rps)
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= d {
			break
		}
		if w := time.Until(at); w > 0 {
			select {
			case <-time.After(w):
			case <-ctx.Done():
				return sent
			}
		}
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(chatBody))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
	return sent
}
