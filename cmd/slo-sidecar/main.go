//go:build linux

// Command slo-sidecar is the privileged sidecar of llmslo: it loads the
// kernel probes for every process on the node (or pod) and serves each
// unprivileged client — a process embedding github.com/llmslo/slo — the
// events of its own cgroup over a Unix socket.
//
// Usage:
//
//	slo-sidecar [-socket /run/llmslo/sidecar.sock] [-signals dns_latency,tcp_retransmit,...]
//	            [-group GROUP] [-mode 0660] [-health :8089] [-max-clients 64] [-log-level info]
//
// It needs CAP_BPF, CAP_PERFMON (tracing programs), CAP_NET_ADMIN (the DNS
// cgroup/sock_create program that gives UDP sockets their cookie),
// CAP_SYS_RESOURCE (on kernels before 5.11, with
// -memlock) and BTF at /sys/kernel/btf/vmlinux; no privileged mode. The
// health endpoint answers GET /healthz with 200 while the socket is served
// and at least one signal works, 503 otherwise, and a JSON body with the
// signal statuses and server counters.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
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
	signals               []probes.Signal
	dnsPorts              []uint16
	memlock               bool
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
	fs.StringVar(&o.health, "health", ":8089", "health endpoint listen address (empty: none)")
	fs.IntVar(&o.maxClients, "max-clients", 64, "maximum concurrent clients")
	fs.IntVar(&o.queue, "queue-bytes", 256<<10, "per-client queue bound in bytes")
	dnsPorts := fs.String("dns-ports", "53", "comma-separated UDP ports carrying DNS")
	fs.BoolVar(&o.memlock, "memlock", false, "lift RLIMIT_MEMLOCK (kernels before 5.11)")
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
	set, err := probes.Start(ctx, probes.Config{Signals: o.signals, AllProcesses: true, DNSPorts: o.dnsPorts, RemoveMemlock: o.memlock, Logger: log})
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
	})
	if err != nil {
		return err
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
	return mux
}
