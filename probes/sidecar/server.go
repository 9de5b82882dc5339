//go:build linux

package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/sidecar/wire"
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
	// Unattributed counts events whose cgroup could not be determined
	// (no cgroup id and no resolvable pid); they go to nobody.
	Unattributed uint64
}

// Server serves kernel events to local clients over a Unix socket. Create
// it with [NewServer]; its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	src      Source
	ln       *net.UnixListener
	log      *slog.Logger
	v2       string
	cgroups  *cgroupResolver
	hostPIDs bool

	mu       sync.RWMutex
	clients  map[*client]struct{}
	byCgroup map[uint64][]*client
	closed   bool
	statuses []wire.SignalStatus

	conns atomic.Int64

	cmu          sync.Mutex
	accepted     uint64
	rejected     map[string]uint64
	disconnected map[string]uint64

	events, delivered, dropped, unattributed atomic.Uint64

	serving   atomic.Bool
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
		hostPIDs:     inInitPIDNamespace(),
		clients:      map[*client]struct{}{},
		byCgroup:     map[uint64][]*client{},
		rejected:     map[string]uint64{},
		disconnected: map[string]uint64{},
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
	if !s.hostPIDs {
		s.log.Info("sidecar: not in the host pid namespace; events without a cgroup id (tcp_retransmit, runqueue_delay) cannot be attributed and are not delivered")
	}
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

// Health returns nil while the server is serving and at least one signal
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
	s.mu.RUnlock()
	s.cmu.Lock()
	defer s.cmu.Unlock()
	st := Stats{
		Clients: n, Accepted: s.accepted,
		Rejected: map[string]uint64{}, Disconnected: map[string]uint64{},
		Events: s.events.Load(), Delivered: s.delivered.Load(), Dropped: s.dropped.Load(),
		Unattributed: s.unattributed.Load(),
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

func (s *Server) acceptLoop() {
	var delay time.Duration
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			// EMFILE and the like: back off, do not spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("sidecar: accept", "err", err)
			select {
			case <-time.After(delay):
			case <-s.done:
				return
			}
			continue
		}
		delay = 0
		if s.conns.Add(1) > int64(s.cfg.MaxClients) {
			s.conns.Add(-1)
			s.count(s.rejected, ReasonTooManyClients)
			_ = conn.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			_, _ = conn.Write(wire.AppendFrame(nil, wire.TypeBye, wire.AppendBye(nil, wire.Bye{Reason: wire.ByeTooManyClients, Text: fmt.Sprintf("limit %d clients", s.cfg.MaxClients)})))
			conn.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.conns.Add(-1)
			s.serveConn(conn)
		}()
	}
}

// reject sends a Bye and closes a connection that did not become a client.
func (s *Server) reject(conn *net.UnixConn, reason string, bye wire.ByeReason, text string) {
	s.count(s.rejected, reason)
	s.log.Info("sidecar: client rejected", "reason", reason, "detail", text)
	_ = conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = conn.Write(wire.AppendFrame(nil, wire.TypeBye, wire.AppendBye(nil, wire.Bye{Reason: bye, Text: text})))
	conn.Close()
}

// supportedMask is the set of signals a client may ask for: the kernel ones.
const supportedMask = 1<<probes.RunqueueDelay | 1<<probes.TCPRetransmit | 1<<probes.ConnectLatency |
	1<<probes.DNSLatency | 1<<probes.MemReclaim | 1<<probes.BlockIO | 1<<probes.SyscallLatency

func (s *Server) serveConn(conn *net.UnixConn) {
	var p peer
	var perr error
	rc, err := conn.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) { p, perr = peerOf(int(fd), s.cgroups) })
	}
	if err == nil {
		err = perr
	}
	if err != nil {
		s.reject(conn, ReasonUnauthorized, wire.ByeUnauthorized, err.Error())
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	rd := wire.NewReader(conn, s.cfg.MaxFrame)
	f, err := rd.Next()
	if err != nil {
		reason, bye := classify(err)
		s.reject(conn, reason, bye, "handshake: "+err.Error())
		return
	}
	if f.Type != wire.TypeHello {
		s.reject(conn, ReasonProtocol, wire.ByeProtocol, fmt.Sprintf("first frame has type %d, want hello", f.Type))
		return
	}
	h, err := wire.DecodeHello(f.Payload)
	if err != nil {
		s.reject(conn, ReasonProtocol, wire.ByeProtocol, err.Error())
		return
	}
	if h.Version != wire.Version {
		s.reject(conn, ReasonVersion, wire.ByeVersion, fmt.Sprintf("version %d unsupported, server speaks %d", h.Version, wire.Version))
		return
	}
	c := &client{
		srv: s, conn: conn, pid: p.pid, cgroup: p.cgroup, mask: h.Signals & supportedMask,
		notify: make(chan struct{}, 1), gone: make(chan struct{}),
		pend: make([]byte, 0, 4096),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.reject(conn, ReasonShutdown, wire.ByeShutdown, "server stopping")
		return
	}
	welcome := wire.AppendFrame(nil, wire.TypeWelcome, wire.AppendWelcome(nil, wire.Welcome{
		Version: wire.Version, HeartbeatMillis: uint16(min(s.cfg.Heartbeat.Milliseconds(), 65535)),
		CgroupID: p.cgroup, PID: uint32(p.pid), Statuses: statusesFor(s.statuses, c.mask),
	}))
	c.pend = append(c.pend, welcome...)
	s.clients[c] = struct{}{}
	s.byCgroup[c.cgroup] = append(s.byCgroup[c.cgroup], c)
	s.mu.Unlock()
	s.cmu.Lock()
	s.accepted++
	s.cmu.Unlock()
	s.log.Info("sidecar: client connected", "pid", p.pid, "uid", p.uid, "cgroup", p.cgroup, "signals", fmt.Sprintf("%#x", c.mask))

	s.wg.Add(1)
	go func() { defer s.wg.Done(); c.writeLoop() }()
	c.readLoop(rd)
}

// classify maps a read error to a reason.
func classify(err error) (string, wire.ByeReason) {
	var ne net.Error
	switch {
	case errors.Is(err, wire.ErrFrameTooLarge):
		return ReasonOversized, wire.ByeProtocol
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonProtocol, wire.ByeProtocol
	case errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout, wire.ByeTimeout
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, unix.ECONNRESET):
		return ReasonClosed, 0
	}
	return ReasonProtocol, wire.ByeProtocol
}

// client is one connected session.
type client struct {
	srv    *Server
	conn   *net.UnixConn
	pid    int
	cgroup uint64
	mask   uint32

	mu      sync.Mutex
	pend    []byte // complete frames waiting for the writer
	spare   []byte
	notify  chan struct{}
	dropped uint64

	wmu     sync.Mutex // serialises writes to conn
	endOnce sync.Once
	gone    chan struct{}
}

// enqueue appends a complete frame to the client's queue; it never blocks.
// force admits a control frame even over the limit (bounded: statuses are
// sent at most once a second).
func (c *client) enqueue(frame []byte, force bool) bool {
	c.mu.Lock()
	if !force && len(c.pend)+len(frame) > c.srv.cfg.QueueBytes {
		c.dropped++
		c.mu.Unlock()
		return false
	}
	c.pend = append(c.pend, frame...)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return true
}

func (c *client) writeLoop() {
	t := time.NewTicker(c.srv.cfg.Heartbeat)
	defer t.Stop()
	for {
		var heartbeat bool
		select {
		case <-c.gone:
			return
		case <-c.notify:
		case <-t.C:
			heartbeat = true
		}
		c.mu.Lock()
		if heartbeat {
			c.pend = wire.AppendFrame(c.pend, wire.TypeHeartbeat, wire.AppendHeartbeat(make([]byte, 0, 16), wire.Heartbeat{Mono: monoNow(), Dropped: c.dropped}))
		}
		buf := c.pend
		c.pend = c.spare[:0]
		c.mu.Unlock()
		if len(buf) > 0 {
			c.wmu.Lock()
			_ = c.conn.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
			_, err := c.conn.Write(buf)
			c.wmu.Unlock()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					c.end(ReasonSlow, 0, "")
				} else {
					c.end(ReasonWriteError, 0, "")
				}
				return
			}
		}
		c.mu.Lock()
		if cap(buf) <= 4*c.srv.cfg.QueueBytes {
			c.spare = buf[:0]
		} else {
			c.spare = nil
		}
		c.mu.Unlock()
	}
}

func (c *client) readLoop(rd *wire.Reader) {
	idle := max(20*c.srv.cfg.Heartbeat, 5*time.Second)
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(idle))
		f, err := rd.Next()
		if err != nil {
			reason, bye := classify(err)
			c.end(reason, bye, err.Error())
			return
		}
		switch f.Type {
		case wire.TypeHeartbeat:
			if _, err := wire.DecodeHeartbeat(f.Payload); err != nil {
				c.end(ReasonProtocol, wire.ByeProtocol, err.Error())
				return
			}
		default:
			c.end(ReasonProtocol, wire.ByeProtocol, fmt.Sprintf("unexpected frame type %d", f.Type))
			return
		}
	}
}

// end unregisters the client, sends a Bye when bye != 0 and the socket is
// writable, and closes the connection. Only the first call counts.
func (c *client) end(reason string, bye wire.ByeReason, text string) {
	c.endOnce.Do(func() {
		s := c.srv
		s.mu.Lock()
		delete(s.clients, c)
		list := s.byCgroup[c.cgroup]
		for i, x := range list {
			if x == c {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(s.byCgroup, c.cgroup)
		} else {
			s.byCgroup[c.cgroup] = list
		}
		s.mu.Unlock()
		close(c.gone)
		s.count(s.disconnected, reason)
		c.mu.Lock()
		dropped := c.dropped
		c.mu.Unlock()
		s.log.Info("sidecar: client disconnected", "pid", c.pid, "cgroup", c.cgroup, "reason", reason, "detail", text, "dropped", dropped)
		if bye != 0 {
			// The writer may hold wmu for up to WriteTimeout; do not wait.
			if c.wmu.TryLock() {
				_ = c.conn.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
				_, _ = c.conn.Write(wire.AppendFrame(nil, wire.TypeBye, wire.AppendBye(nil, wire.Bye{Reason: bye, Text: text})))
				c.wmu.Unlock()
			}
		}
		c.conn.Close()
	})
}

// dispatcher routes events to the clients of their cgroup. It is used by
// Serve's goroutine only.
type dispatcher struct {
	s       *Server
	frame   []byte
	pids    map[uint32]pidEntry
	clients []*client
}

type pidEntry struct {
	cgroup uint64
	at     time.Time
}

// pidTTL bounds how long a pid→cgroup resolution is trusted (pid reuse).
const pidTTL = 5 * time.Second

// maxPids bounds the pid cache.
const maxPids = 8192

func newDispatcher(s *Server) *dispatcher {
	return &dispatcher{s: s, pids: map[uint32]pidEntry{}, frame: make([]byte, 0, 1024)}
}

func (d *dispatcher) cgroupOf(ev *probes.Event) uint64 {
	if ev.CgroupID != 0 {
		return ev.CgroupID
	}
	if ev.PID == 0 || !d.s.hostPIDs {
		return 0
	}
	now := time.Now()
	if e, ok := d.pids[ev.PID]; ok && now.Sub(e.at) < pidTTL {
		return e.cgroup
	}
	cg, err := d.s.cgroups.id(int(ev.PID))
	if err != nil {
		cg = 0
	}
	if len(d.pids) >= maxPids {
		clear(d.pids)
	}
	d.pids[ev.PID] = pidEntry{cgroup: cg, at: now}
	return cg
}

func (d *dispatcher) dispatch(ev *probes.Event) {
	s := d.s
	s.events.Add(1)
	if ev.Signal >= 32 {
		return
	}
	cg := d.cgroupOf(ev)
	if cg == 0 {
		s.unattributed.Add(1)
		return
	}
	bit := uint32(1) << ev.Signal
	s.mu.RLock()
	d.clients = append(d.clients[:0], s.byCgroup[cg]...)
	s.mu.RUnlock()
	d.frame = d.frame[:0]
	for _, c := range d.clients {
		if c.mask&bit == 0 {
			continue
		}
		if len(d.frame) == 0 {
			d.frame = wire.AppendFrame(d.frame[:0], wire.TypeEvent, nil)
			d.frame = probes.AppendRecord(d.frame, ev)
			n := len(d.frame) - 4
			d.frame[0], d.frame[1], d.frame[2], d.frame[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		}
		if c.enqueue(d.frame, false) {
			s.delivered.Add(1)
		} else {
			s.dropped.Add(1)
		}
	}
	clear(d.clients)
}

func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
