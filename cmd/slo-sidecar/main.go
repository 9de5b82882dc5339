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

// run is main without the process exits; ready, when not nil, receives
// the health listener's address once serving.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("slo-sidecar", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", probes.DefaultSidecarSocket, "Unix socket to serve on")
	signals := fs.String("signals", "", "comma-separated kernel signals (default: every kernel signal except syscall_latency)")
	group := fs.String("group", "", "group owning the socket (name or gid)")
	mode := fs.String("mode", "0660", "socket file mode (octal)")
	health := fs.String("health", ":8089", "health endpoint listen address (empty: none)")
	maxClients := fs.Int("max-clients", 64, "maximum concurrent clients")
	queue := fs.Int("queue-bytes", 256<<10, "per-client queue bound in bytes")
	dnsPorts := fs.String("dns-ports", "53", "comma-separated UDP ports carrying DNS")
	memlock := fs.Bool("memlock", false, "lift RLIMIT_MEMLOCK (kernels before 5.11)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lv}))
	m, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || m > 0o777 {
		return fmt.Errorf("-mode %q: want octal permission bits", *mode)
	}
	var sigs []probes.Signal
	if *signals == "" {
		for _, s := range probes.DefaultSignals() {
			if s <= probes.SyscallLatency {
				sigs = append(sigs, s)
			}
		}
	} else {
		for _, name := range strings.Split(*signals, ",") {
			s, err := probes.ParseSignal(strings.TrimSpace(name))
			if err != nil {
				return err
			}
			if s > probes.SyscallLatency {
				return fmt.Errorf("-signals: %s is not a kernel signal (clients poll it themselves)", s)
			}
			sigs = append(sigs, s)
		}
	}
	var ports []uint16
	for _, p := range strings.Split(*dnsPorts, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
		if err != nil {
			return fmt.Errorf("-dns-ports: %w", err)
		}
		ports = append(ports, uint16(n))
	}

	set, err := probes.Start(ctx, probes.Config{Signals: sigs, AllProcesses: true, DNSPorts: ports, RemoveMemlock: *memlock, Logger: log})
	if err != nil {
		return err
	}
	defer set.Close()
	for _, s := range sigs {
		st := set.StatusOf(s)
		log.Info("signal", "signal", st.Signal.String(), "state", st.State.String(), "reason", st.Reason)
	}
	srv, err := sidecar.NewServer(set, sidecar.Config{
		Socket: *socket, Group: *group, Mode: os.FileMode(m), MaxClients: *maxClients, QueueBytes: *queue, Logger: log,
	})
	if err != nil {
		return err
	}
	if *health != "" {
		ln, err := net.Listen("tcp", *health)
		if err != nil {
			srv.Close()
			return fmt.Errorf("health listener: %w", err)
		}
		hs := &http.Server{Handler: healthHandler(set, srv, sigs), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		if ready != nil {
			ready <- ln.Addr().String()
		}
	}
	log.Info("serving", "socket", *socket, "health", *health)
	err = srv.Serve(ctx)
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
