//go:build linux

// Command slo-sidecar is the privileged sidecar of llmslo: it loads the
// kernel probes for every process on the node (or pod) and serves each
// unprivileged client — a process embedding github.com/llmslo/slo — the
// events of its own cgroup over a Unix socket.
//
// Usage:
//
//	slo-sidecar [-socket /run/llmslo/sidecar.sock] [-signals dns_latency,tcp_retransmit,...]
//	            [-group GROUP] [-mode 0660] [-health 127.0.0.1:8089] [-max-clients 64]
//	            [-max-clients-per-cgroup 8] [-tenant-event-rate 20000] [-omit-dns-names]
//	            [-log-level info]
//
// It needs CAP_BPF, CAP_PERFMON (tracing programs), CAP_NET_ADMIN (the DNS
// cgroup/sock_create program that gives UDP sockets their cookie),
// CAP_SYS_RESOURCE (on kernels before 5.11, with
// -memlock) and BTF at /sys/kernel/btf/vmlinux; no privileged mode. The
// sidecar keeps only sidecar.RuntimeCapabilities once its probes are loaded
// (in a binary built without cgo, as released; with cgo it says so and
// keeps them all). The health endpoint answers GET /healthz with 200 while the socket is served
// and at least one signal works, 503 otherwise, and a JSON body with the
// signal statuses and server counters; GET /metrics serves the counters,
// per tenant (cgroup) among them, as Prometheus text. The endpoint listens
// on loopback unless -health says otherwise (a pod's probes need the pod
// address: the manifests set -health=:8089).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/sidecar"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "slo-sidecar:", err)
		os.Exit(1)
	}
}

// options are the parsed command line.
type options struct {
	socket, group, health string
	mode                  os.FileMode
	maxClients, queue     int
	perCgroup             int
	tenantRate            float64
	signals               []probes.Signal
	dnsPorts              []uint16
	memlock, keepCaps     bool
	omitDNSNames          bool
	level                 slog.Level
}

// parseArgs parses and checks the command line.
func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("slo-sidecar", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.socket, "socket", probes.DefaultSidecarSocket, "Unix socket to serve on")
	signals := fs.String("signals", "", "comma-separated kernel signals (default: every kernel signal except syscall_latency)")
	fs.StringVar(&o.group, "group", "", "group owning the socket (name or gid)")
	mode := fs.String("mode", "0660", "socket file mode (octal)")
	fs.StringVar(&o.health, "health", "127.0.0.1:8089", "health and metrics endpoint listen address (empty: none)")
	fs.IntVar(&o.maxClients, "max-clients", 64, "maximum concurrent clients")
	fs.IntVar(&o.perCgroup, "max-clients-per-cgroup", 8, "maximum concurrent clients of one cgroup (tenant), handshakes included")
	fs.Float64Var(&o.tenantRate, "tenant-event-rate", 20000, "events per second one tenant may receive")
	fs.IntVar(&o.queue, "queue-bytes", 256<<10, "per-client queue bound in bytes")
	dnsPorts := fs.String("dns-ports", "53", "comma-separated UDP ports carrying DNS")
	fs.BoolVar(&o.omitDNSNames, "omit-dns-names", false, "keep DNS query names out of the events served (type, rcode, server and timing stay)")
	fs.BoolVar(&o.memlock, "memlock", false, "lift RLIMIT_MEMLOCK (kernels before 5.11)")
	fs.BoolVar(&o.keepCaps, "keep-capabilities", false, "keep every capability after loading (default: keep only those serving needs)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := o.level.UnmarshalText([]byte(*level)); err != nil {
		return o, fmt.Errorf("-log-level: %w", err)
	}
	m, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || m > 0o777 {
		return o, fmt.Errorf("-mode %q: want octal permission bits", *mode)
	}
	o.mode = os.FileMode(m)
	if o.signals, err = parseSignals(*signals); err != nil {
		return o, err
	}
	for _, p := range strings.Split(*dnsPorts, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
		if err != nil {
			return o, fmt.Errorf("-dns-ports: %w", err)
		}
		o.dnsPorts = append(o.dnsPorts, uint16(n))
	}
	return o, nil
}

// parseSignals parses -signals: kernel signals only; "" means every
// default kernel signal.
func parseSignals(list string) ([]probes.Signal, error) {
	var sigs []probes.Signal
	if list == "" {
		for _, s := range probes.DefaultSignals() {
			if s <= probes.SyscallLatency {
				sigs = append(sigs, s)
			}
		}
		return sigs, nil
	}
	for _, name := range strings.Split(list, ",") {
		s, err := probes.ParseSignal(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		if s > probes.SyscallLatency {
			return nil, fmt.Errorf("-signals: %s is not a kernel signal (clients poll it themselves)", s)
		}
		sigs = append(sigs, s)
	}
	return sigs, nil
}

// run is main without the process exits; ready, when not nil, receives
// the health listener's address once the server accepts clients.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	o, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: o.level}))
	set, err := probes.Start(ctx, probes.Config{Signals: o.signals, AllProcesses: true, DNSPorts: o.dnsPorts, OmitDNSNames: o.omitDNSNames, RemoveMemlock: o.memlock, Logger: log})
	if err != nil {
		return err
	}
	defer set.Close()
	for _, s := range o.signals {
		st := set.StatusOf(s)
		log.Info("signal", "signal", st.Signal.String(), "state", st.State.String(), "reason", st.Reason)
	}
	srv, err := sidecar.NewServer(set, sidecar.Config{
		Socket: o.socket, Group: o.group, Mode: o.mode, MaxClients: o.maxClients, QueueBytes: o.queue, Logger: log,
		MaxClientsPerCgroup: o.perCgroup, TenantEventRate: o.tenantRate,
	})
	if err != nil {
		return err
	}
	// Least privilege: what loading needed and serving does not, goes.
	if o.keepCaps {
		log.Info("capabilities kept (-keep-capabilities)")
	} else if dropped, err := keepCapabilities(sidecar.RuntimeCapabilities()); err != nil {
		log.Warn("capabilities kept", "err", err)
	} else {
		log.Info("capabilities dropped after loading", "dropped", fmt.Sprintf("%#x", dropped), "kept", strings.Join(sidecar.RuntimeCapabilities(), ","))
	}
	// The health endpoint answers (503) before the server accepts clients.
	addr := ""
	if o.health != "" {
		ln, err := net.Listen("tcp", o.health)
		if err != nil {
			srv.Close()
			return fmt.Errorf("health listener: %w", err)
		}
		hs := &http.Server{Handler: healthHandler(set, srv, o.signals), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		addr = ln.Addr().String()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	select {
	case <-srv.Serving():
		log.Info("serving", "socket", o.socket, "health", o.health)
		if ready != nil && addr != "" {
			ready <- addr
		}
		err = <-served
	case err = <-served:
	}
	log.Info("stopped", "err", err)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// healthHandler serves /healthz.
func healthHandler(set *probes.Set, srv *sidecar.Server, sigs []probes.Signal) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		type sig struct {
			Signal, State, Reason string
		}
		body := struct {
			OK      bool          `json:"ok"`
			Error   string        `json:"error,omitempty"`
			Signals []sig         `json:"signals"`
			Server  sidecar.Stats `json:"server"`
		}{Server: srv.Stats()}
		for _, s := range sigs {
			st := set.StatusOf(s)
			body.Signals = append(body.Signals, sig{st.Signal.String(), st.State.String(), st.Reason})
		}
		w.Header().Set("Content-Type", "application/json")
		if err := srv.Health(); err != nil {
			body.Error = err.Error()
			w.WriteHeader(http.StatusServiceUnavailable)
		} else {
			body.OK = true
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(appendMetrics(nil, srv.Stats()))
	})
	return mux
}

// appendMetrics appends the server's counters in the Prometheus text
// format: totals, and per tenant (the cgroup id as label) its connections
// and what became of its events.
func appendMetrics(b []byte, st sidecar.Stats) []byte {
	metric := func(name, typ, help string) {
		b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	metric("llmslo_sidecar_clients", "gauge", "Clients past the handshake.")
	b = fmt.Appendf(b, "llmslo_sidecar_clients %d\n", st.Clients)
	metric("llmslo_sidecar_events_total", "counter", "Events read from the probes, by outcome.")
	for _, o := range []struct {
		name string
		n    uint64
	}{{"delivered", st.Delivered}, {"dropped", st.Dropped}, {"over_budget", st.OverBudget}, {"unattributed", st.Unattributed}} {
		b = fmt.Appendf(b, "llmslo_sidecar_events_total{outcome=%q} %d\n", o.name, o.n)
	}
	metric("llmslo_sidecar_rejected_total", "counter", "Connections refused, by reason.")
	for _, k := range slices.Sorted(maps.Keys(st.Rejected)) {
		b = fmt.Appendf(b, "llmslo_sidecar_rejected_total{reason=%q} %d\n", k, st.Rejected[k])
	}
	metric("llmslo_sidecar_tenant_connections", "gauge", "Connections of a tenant (cgroup), handshakes included.")
	for _, t := range st.Tenants {
		b = fmt.Appendf(b, "llmslo_sidecar_tenant_connections{cgroup=\"%d\"} %d\n", t.Cgroup, t.Connections)
	}
	metric("llmslo_sidecar_tenant_events_total", "counter", "Events of a tenant (cgroup) connected now, by outcome.")
	for _, t := range st.Tenants {
		for _, o := range []struct {
			name string
			n    uint64
		}{{"delivered", t.Delivered}, {"dropped", t.Dropped}, {"over_budget", t.OverBudget}} {
			b = fmt.Appendf(b, "llmslo_sidecar_tenant_events_total{cgroup=\"%d\",outcome=%q} %d\n", t.Cgroup, o.name, o.n)
		}
	}
	metric("llmslo_sidecar_tenant_rejected_total", "counter", "Connections of a tenant (cgroup) refused over its limit.")
	for _, t := range st.Tenants {
		b = fmt.Appendf(b, "llmslo_sidecar_tenant_rejected_total{cgroup=\"%d\"} %d\n", t.Cgroup, t.Rejected)
	}
	return b
}
