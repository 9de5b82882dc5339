//go:build linux

package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/internal/wire"
)

// Source is where the server's events come from; a host-wide
// *probes.Set (probes.Config.AllProcesses) is one.
type Source interface {
	// Subscribe returns a bounded channel of events and its cancel func.
	Subscribe(n int) (<-chan probes.Event, func())
	// Status reports every signal's state.
	Status() []probes.SignalStatus
}

// Config configures a [Server]. Zero fields take the documented defaults.
type Config struct {
	// Socket is the Unix socket path to serve on. Required. Its directory
	// is created (0755) when missing; a stale socket file is replaced, a
	// live one is an error.
	Socket string
	// Mode is the socket file's permission bits; 0 means 0660.
	Mode os.FileMode
	// Group owns the socket file (a name or a numeric gid); "" keeps the
	// process's group.
	Group string
	// MaxClients bounds the connections, handshaking ones included; 0
	// means 64. Connections beyond it get a Bye and are closed.
	MaxClients int
	// MaxClientsPerCgroup bounds the connections of one cgroup (a
	// tenant), counted from authentication on, handshakes included; 0
	// means 8. Connections beyond it get a Bye and are closed.
	MaxClientsPerCgroup int
	// TenantEventRate is the events per second one tenant's clients may
	// receive, on average over TenantEventBurst events; 0 means 20000.
	// Events beyond it are not delivered and are counted against the
	// tenant (TenantStats.OverBudget, and in each client's heartbeat).
	TenantEventRate float64
	// TenantEventBurst is the size of the tenant's budget; 0 means one
	// second of TenantEventRate.
	TenantEventBurst int
	// QueueBytes bounds each client's queue of encoded frames; 0 means
	// 256 KiB. Events that do not fit are dropped for that client and
	// counted.
	QueueBytes int
	// MaxFrame is the largest frame accepted from a client; 0 means
	// wire.DefaultMaxFrame.
	MaxFrame int
	// Heartbeat is the period of the server's heartbeats; 0 means 250ms.
	// A client silent for 20 periods (at least 5s) is disconnected.
	Heartbeat time.Duration
	// HandshakeTimeout bounds the wait for a client's Hello; 0 means 2s.
	HandshakeTimeout time.Duration
	// WriteTimeout is how long a client's socket may accept nothing
	// before the client is disconnected as slow; 0 means 1s.
	WriteTimeout time.Duration
	// SourceBuffer is the capacity of the subscription to the Source;
	// 0 means 8192 events.
	SourceBuffer int
	// CgroupRoot is the cgroup2 mount used to resolve pids to cgroup ids;
	// "" finds it in /proc/self/mountinfo. In a container with a private
	// cgroup namespace, other containers' cgroups lie outside it: mount the
	// host's /sys/fs/cgroup (read-only) and the server finds its own
	// namespace root in it.
	CgroupRoot string
	// Logger receives connection and error logs; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Mode == 0 {
		c.Mode = 0o660
	}
	if c.MaxClients <= 0 {
		c.MaxClients = 64
	}
	if c.MaxClientsPerCgroup <= 0 {
		c.MaxClientsPerCgroup = 8
	}
	if c.TenantEventRate <= 0 {
		c.TenantEventRate = 20000
	}
	if c.TenantEventBurst <= 0 {
		c.TenantEventBurst = max(1, int(c.TenantEventRate))
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 256 << 10
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = wire.DefaultMaxFrame
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 250 * time.Millisecond
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 2 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = time.Second
	}
	if c.SourceBuffer <= 0 {
		c.SourceBuffer = 8192
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Reasons a connection is rejected or ended, the keys of [Stats].
const (
	ReasonTooManyClients = "too_many_clients"
	ReasonTenantLimit    = "tenant_limit"
	ReasonUnauthorized   = "unauthorized"
	ReasonVersion        = "version"
	ReasonProtocol       = "protocol"
	ReasonOversized      = "frame_too_large"
	ReasonTimeout        = "timeout"
	ReasonSlow           = "slow"
	ReasonClosed         = "closed"
	ReasonWriteError     = "write_error"
	ReasonShutdown       = "shutdown"
)

// Stats are a server's counters, cumulative since [NewServer].
type Stats struct {
	// Clients is the number of clients past the handshake now.
	Clients int
	// Accepted counts connections that completed the handshake.
	Accepted uint64
	// Rejected counts connections refused before or at the handshake, by
	// reason.
	Rejected map[string]uint64
	// Disconnected counts ended sessions, by reason.
	Disconnected map[string]uint64
	// Events counts events read from the Source.
	Events uint64
	// Delivered counts event frames queued to clients.
	Delivered uint64
	// Dropped counts event frames lost because a client's queue was full.
	Dropped uint64
	// OverBudget counts event frames not delivered because their tenant
	// exceeded its event budget.
	OverBudget uint64
	// Unattributed counts events without a cgroup id stamped by the
	// kernel; they go to nobody.
	Unattributed uint64
	// Tenants are the counters of the tenants connected now, by cgroup id.
	Tenants []TenantStats
}

// Server serves kernel events to local clients over a Unix socket. Create
// it with [NewServer]; its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	src     Source
	ln      *net.UnixListener
	log     *slog.Logger
	v2      string
	cgroups *cgroupResolver
	// authenticate asks the kernel who is on the other end of a
	// connection (peerOf); tests replace it before Serve.
	authenticate func(fd int) (peer, error)

	mu       sync.RWMutex
	clients  map[*client]struct{}
	byCgroup map[uint64][]*client
	tenants  map[uint64]*tenant
	closed   bool
	statuses []wire.SignalStatus

	conns atomic.Int64

	cmu          sync.Mutex
	accepted     uint64
	rejected     map[string]uint64
	disconnected map[string]uint64
	rejectLogs   map[string]rejectLog

	events, delivered, dropped, overBudget, unattributed atomic.Uint64

	serving   atomic.Bool
	started   chan struct{} // closed once Serve accepts clients
	startOnce sync.Once
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewServer creates the socket and returns a Server that serves once
// [Server.Serve] runs.
func NewServer(src Source, cfg Config) (*Server, error) {
	if src == nil {
		return nil, errors.New("sidecar: nil source")
	}
	if cfg.Socket == "" {
		return nil, errors.New("sidecar: no socket path")
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg: cfg, src: src, log: cfg.Logger, v2: cfg.CgroupRoot,
		clients:      map[*client]struct{}{},
		byCgroup:     map[uint64][]*client{},
		tenants:      map[uint64]*tenant{},
		rejected:     map[string]uint64{},
		disconnected: map[string]uint64{},
		rejectLogs:   map[string]rejectLog{},
		started:      make(chan struct{}),
		done:         make(chan struct{}),
	}
	if s.v2 == "" {
		v2, err := cgroup2Mount()
		if err != nil {
			return nil, fmt.Errorf("sidecar: %w", err)
		}
		s.v2 = v2
	}
	s.cgroups = &cgroupResolver{v2: s.v2}
	s.authenticate = func(fd int) (peer, error) { return peerOf(fd, s.cgroups) }
	gid := -1
	if cfg.Group != "" {
		if n, err := strconv.Atoi(cfg.Group); err == nil {
			gid = n
		} else {
			g, err := user.LookupGroup(cfg.Group)
			if err != nil {
				return nil, fmt.Errorf("sidecar: socket group: %w", err)
			}
			gid, _ = strconv.Atoi(g.Gid)
		}
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Socket), 0o755); err != nil {
		return nil, fmt.Errorf("sidecar: socket directory: %w", err)
	}
	if fi, err := os.Lstat(cfg.Socket); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("sidecar: %s exists and is not a socket", cfg.Socket)
		}
		if c, err := net.DialTimeout("unix", cfg.Socket, 200*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("sidecar: another server is listening on %s", cfg.Socket)
		}
		if err := os.Remove(cfg.Socket); err != nil {
			return nil, fmt.Errorf("sidecar: remove stale socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: cfg.Socket, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("sidecar: listen: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if gid >= 0 {
		if err := os.Chown(cfg.Socket, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("sidecar: chown socket: %w", err)
		}
	}
	if err := os.Chmod(cfg.Socket, cfg.Mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("sidecar: chmod socket: %w", err)
	}
	s.ln = ln
	s.statuses = s.currentStatuses()
	return s, nil
}

// Addr returns the socket path.
func (s *Server) Addr() string { return s.cfg.Socket }

// Serve accepts clients and delivers events until ctx ends or
// [Server.Close] is called; it then disconnects every client and removes
// the socket. It returns nil after such a shutdown.
func (s *Server) Serve(ctx context.Context) error {
	events, unsub := s.src.Subscribe(s.cfg.SourceBuffer)
	defer unsub()
	s.serving.Store(true)
	defer s.serving.Store(false)
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.acceptLoop() }()
	go func() { defer s.wg.Done(); s.statusLoop() }()
	s.startOnce.Do(func() { close(s.started) })
	var err error
	d := newDispatcher(s)
loop:
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				err = errors.New("sidecar: event source closed")
				break loop
			}
			d.dispatch(&ev)
		case <-ctx.Done():
			break loop
		case <-s.done:
			break loop
		}
	}
	s.Close()
	s.wg.Wait()
	return err
}

// Close stops accepting, disconnects every client and removes the socket.
// It is idempotent.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.ln.Close()
		s.mu.Lock()
		s.closed = true
		cs := make([]*client, 0, len(s.clients))
		for c := range s.clients {
			cs = append(cs, c)
		}
		s.mu.Unlock()
		for _, c := range cs {
			c.end(ReasonShutdown, wire.ByeShutdown, "server stopping")
		}
	})
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Serving returns a channel that is closed once [Server.Serve] accepts
// clients (and [Server.Health] can report nil). Until then connections wait
// in the socket's backlog.
func (s *Server) Serving() <-chan struct{} { return s.started }

// Health returns nil while the server is serving — from the moment
// [Server.Serving] is closed until Serve returns — and at least one signal
// of its Source is on or degraded.
func (s *Server) Health() error {
	if !s.serving.Load() {
		return errors.New("sidecar: not serving")
	}
	for _, st := range s.src.Status() {
		if st.State != probes.Off {
			return nil
		}
	}
	return errors.New("sidecar: no signal available")
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.RLock()
	n := len(s.clients)
	tenants := s.tenantStats()
	s.mu.RUnlock()
	s.cmu.Lock()
	defer s.cmu.Unlock()
	st := Stats{
		Clients: n, Accepted: s.accepted,
		Rejected: map[string]uint64{}, Disconnected: map[string]uint64{},
		Events: s.events.Load(), Delivered: s.delivered.Load(), Dropped: s.dropped.Load(),
		OverBudget: s.overBudget.Load(), Unattributed: s.unattributed.Load(), Tenants: tenants,
	}
	for k, v := range s.rejected {
		st.Rejected[k] = v
	}
	for k, v := range s.disconnected {
		st.Disconnected[k] = v
	}
	return st
}

func (s *Server) count(m map[string]uint64, reason string) {
	s.cmu.Lock()
	m[reason]++
	s.cmu.Unlock()
}

// currentStatuses returns the Source's kernel signal statuses.
func (s *Server) currentStatuses() []wire.SignalStatus {
	var out []wire.SignalStatus
	for _, st := range s.src.Status() {
		out = append(out, wire.SignalStatus{Signal: uint8(st.Signal), State: uint8(st.State), Reason: st.Reason})
	}
	return out
}

// statusesFor returns the statuses of the signals in mask.
func statusesFor(all []wire.SignalStatus, mask uint32) []wire.SignalStatus {
	var out []wire.SignalStatus
	for _, st := range all {
		if st.Signal < 32 && mask&(1<<st.Signal) != 0 {
			out = append(out, st)
		}
	}
	return out
}

// statusLoop sends status frames to every client when the Source's
// statuses change (the overhead guard shed a signal, ...).
func (s *Server) statusLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		cur := s.currentStatuses()
		s.mu.Lock()
		changed := len(cur) != len(s.statuses)
		for i := 0; !changed && i < len(cur); i++ {
			changed = cur[i] != s.statuses[i]
		}
		s.statuses = cur
		var cs []*client
		if changed {
			for c := range s.clients {
				cs = append(cs, c)
			}
		}
		s.mu.Unlock()
		for _, c := range cs {
			c.enqueue(wire.AppendFrame(nil, wire.TypeStatus, wire.AppendStatuses(nil, statusesFor(cur, c.mask))), true)
		}
	}
}
