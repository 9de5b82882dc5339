package probes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/internal/monoclock"
	"github.com/llmslo/slo/probes/internal/wire"
)

// Path says where a [Set]'s kernel signals come from.
type Path uint8

// The paths, in the order [Start] tries them when [Config].KernelPath is 0.
const (
	// PathInProcess: the BPF programs are loaded in this process.
	PathInProcess Path = iota + 1
	// PathSidecar: kernel events come from the slo-sidecar over its Unix
	// socket (the process lacks the privileges to load BPF).
	PathSidecar
	// PathFloor: no kernel signals; only the pollers (cpu_steal,
	// cfs_throttle, psi) and go_sched_latency, which need no privilege.
	PathFloor
)

// String returns "in_process", "sidecar" or "floor" ("auto" for 0): the
// values of the llm.ebpf.path attribute (semconv.PathInProcess, ...) and of
// the tracker's KernelStatus paths. (Spelled here, not imported: the
// deploy module checks its manifests against package probes/sidecar
// without the OpenTelemetry API; a test keeps the two spellings equal.)
func (p Path) String() string {
	switch p {
	case PathInProcess:
		return "in_process"
	case PathSidecar:
		return "sidecar"
	case PathFloor:
		return "floor"
	case 0:
		return "auto"
	}
	return fmt.Sprintf("path(%d)", uint8(p))
}

// DefaultSidecarSocket is where the slo-sidecar listens unless
// [Config].SidecarSocket or $SLO_SIDECAR_SOCKET say otherwise.
const DefaultSidecarSocket = "/run/llmslo/sidecar.sock"

// SidecarSocketEnv names the environment variable that overrides
// [DefaultSidecarSocket] when [Config].SidecarSocket is empty.
const SidecarSocketEnv = "SLO_SIDECAR_SOCKET"

// Path reports where the kernel signals come from right now:
// [PathSidecar] while a sidecar session is up, [PathInProcess] when BPF
// programs are loaded in this process (and no sidecar session is up), and
// [PathFloor] otherwise — also while a sidecar that went away is being
// reconnected.
func (s *Set) Path() Path {
	if s.side != nil && s.side.connected.Load() {
		return PathSidecar
	}
	if s.kern != nil {
		return PathInProcess
	}
	return PathFloor
}

// Sidecar reports whether the Set receives kernel signals from the
// slo-sidecar (one was configured, or its socket existed at [Start], for
// signals that could not load in-process) and whether its session is up
// right now.
func (s *Set) Sidecar() (inUse, connected bool) {
	if s.side == nil {
		return false, false
	}
	return true, s.side.connected.Load()
}

// ViaSidecar reports whether sig comes from the slo-sidecar right now: it
// could not load in-process, the sidecar serves it and the session is up.
func (s *Set) ViaSidecar(sig Signal) bool {
	return s.side != nil && s.side.connected.Load() && s.side.mask&(1<<sig) != 0
}

// sidecarSocket resolves the socket path and whether it was asked for
// explicitly; "" means disabled.
func sidecarSocket(cfg Config) (string, bool) {
	p, explicit := cfg.SidecarSocket, cfg.SidecarSocket != ""
	if p == "" {
		if v, ok := os.LookupEnv(SidecarSocketEnv); ok && v != "" {
			p, explicit = v, true
		}
	}
	if p == "off" || p == "-" {
		return "", false
	}
	if p == "" {
		p = DefaultSidecarSocket
	}
	return p, explicit
}

// sidecarClient receives the kernel signals a Set could not load
// in-process from the slo-sidecar, reconnecting with backoff.
type sidecarClient struct {
	s         *Set
	socket    string
	want      []Signal
	mask      uint32
	inproc    map[Signal]string
	dec       *decoder
	filterPID uint32
	log       *slog.Logger

	connected atomic.Bool
	logged    map[string]bool // causes logged once; run goroutine only
	dropped   uint64          // the drops the sidecar reported on this connection; run goroutine only
}

// startSidecar starts the sidecar client for the wanted kernel signals
// that are off in-process, when a sidecar is configured or its socket
// exists. The first connection attempt is synchronous (bounded by 1s);
// later ones run on s.wg until ctx ends.
func (s *Set) startSidecar(ctx context.Context, wallOffset int64) {
	cfg := s.cfg
	if cfg.KernelPath == PathFloor {
		for _, sig := range AllSignals() {
			if sig.kernel() && cfg.wants(sig) {
				s.setStatus(sig, Off, "Config.KernelPath is floor")
			}
		}
		return
	}
	if cfg.AllProcesses || cfg.KernelPath == PathInProcess {
		return
	}
	c := &sidecarClient{s: s, inproc: map[Signal]string{}, dec: newDecoder(wallOffset), log: cfg.Logger, logged: map[string]bool{}}
	c.dec.omitNames = cfg.OmitDNSNames
	for _, sig := range AllSignals() {
		if sig.kernel() && cfg.wants(sig) {
			if st := s.StatusOf(sig); st.State == Off {
				c.want = append(c.want, sig)
				c.mask |= 1 << sig
				c.inproc[sig] = st.Reason
				if cfg.KernelPath == PathSidecar {
					c.inproc[sig] = "not tried (Config.KernelPath is sidecar)"
				}
			}
		}
	}
	if len(c.want) == 0 {
		return
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	socket, explicit := sidecarSocket(cfg)
	if socket == "" {
		c.log.Info("probes: kernel signals off in-process and the sidecar is disabled: floor only", "signals", c.names(), "reason", c.inproc[c.want[0]])
		return
	}
	if _, err := os.Stat(socket); err != nil && !explicit {
		c.log.Info("probes: kernel signals off in-process and no slo-sidecar socket: floor only", "socket", socket, "signals", c.names(), "reason", c.inproc[c.want[0]])
		return
	}
	c.socket = socket
	if inInitPIDNS() {
		c.filterPID = s.target
	}
	s.side = c
	first, rd, err := c.connect(ctx)
	if err != nil {
		c.down(err)
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); c.run(ctx, first, rd) }()
}

// inInitPIDNS reports whether this process sees host pids (the ones BPF
// records); PROC_PID_INIT_INO is the initial pid namespace's inode.
func inInitPIDNS() bool {
	l, err := os.Readlink("/proc/self/ns/pid")
	return err == nil && l == "pid:[4026531836]"
}

// connect dials the sidecar and completes the handshake.
func (c *sidecarClient) connect(ctx context.Context) (net.Conn, *wire.Reader, error) {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	hello := wire.AppendFrame(nil, wire.TypeHello, wire.AppendHello(nil, wire.Hello{Version: wire.Version, Signals: c.mask}))
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("send hello: %w", err)
	}
	rd := wire.NewReader(conn, wire.DefaultMaxFrame)
	f, err := rd.Next()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("read welcome: %w", err)
	}
	switch f.Type {
	case wire.TypeWelcome:
	case wire.TypeBye:
		conn.Close()
		b, err := wire.DecodeBye(f.Payload)
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, b
	default:
		conn.Close()
		return nil, nil, fmt.Errorf("sidecar: unexpected frame type %d", f.Type)
	}
	w, err := wire.DecodeWelcome(f.Payload)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	c.dropped = 0 // counted per session
	c.apply(w.Statuses, true)
	c.connected.Store(true)
	c.log.Info("probes: kernel signals via the slo-sidecar", "socket", c.socket, "cgroup", w.CgroupID, "signals", c.names(), "in_process", c.inproc[c.want[0]])
	clear(c.logged)
	return conn, rd, nil
}

func (c *sidecarClient) names() string {
	var n []string
	for _, s := range c.want {
		n = append(n, s.String())
	}
	return strings.Join(n, ",")
}

// apply sets the statuses the sidecar reported; with all, signals it did
// not report are off.
func (c *sidecarClient) apply(st []wire.SignalStatus, all bool) {
	seen := map[Signal]bool{}
	for _, x := range st {
		sig := Signal(x.Signal)
		if c.mask&(1<<sig) == 0 || !sig.valid() {
			continue
		}
		seen[sig] = true
		state := State(x.State)
		if state > On {
			state = Off
		}
		reason := ""
		if state != On {
			reason = "sidecar: " + x.Reason
		}
		c.s.setStatus(sig, state, joinDropped(reason, c.dropped))
	}
	if all {
		for _, sig := range c.want {
			if !seen[sig] {
				c.s.setStatus(sig, Off, "sidecar does not serve this signal")
			}
		}
	}
}

// noteDropped records the count of this client's events the sidecar
// dropped (its queue full, or its cgroup over the sidecar's event budget)
// and says so in the status of every signal that is not off.
func (c *sidecarClient) noteDropped(n uint64) {
	c.dropped = n
	for _, sig := range c.want {
		st := c.s.StatusOf(sig)
		if st.State == Off {
			continue
		}
		reason, _, _ := strings.Cut(st.Reason, droppedNote)
		c.s.setStatus(sig, st.State, joinDropped(strings.TrimSuffix(reason, "; "), n))
	}
}

// droppedNote starts the part of a status reason that counts the events
// the sidecar dropped.
const droppedNote = "sidecar dropped "

// joinDropped appends the sidecar's drop count to reason.
func joinDropped(reason string, n uint64) string {
	if n == 0 {
		return reason
	}
	note := fmt.Sprintf("%s%d of this process's events (its queue full or its cgroup over the sidecar's event budget)", droppedNote, n)
	if reason == "" {
		return note
	}
	return reason + "; " + note
}

// down marks every sidecar signal off with err and logs the cause once.
func (c *sidecarClient) down(err error) {
	c.connected.Store(false)
	for _, sig := range c.want {
		c.s.setStatus(sig, Off, fmt.Sprintf("sidecar %s unavailable (%v), retrying; in-process: %s", c.socket, err, c.inproc[sig]))
	}
	cause := err.Error()
	if !c.logged[cause] && len(c.logged) < 16 {
		c.logged[cause] = true
		c.log.Warn("probes: slo-sidecar unavailable, kernel signals on the floor until it returns", "socket", c.socket, "err", err)
	}
}

// run streams from conn (when not nil) and reconnects with backoff until
// ctx ends.
func (c *sidecarClient) run(ctx context.Context, conn net.Conn, rd *wire.Reader) {
	const minBackoff, maxBackoff = 50 * time.Millisecond, time.Second
	backoff := minBackoff
	for {
		if conn != nil {
			t0 := time.Now()
			err := c.stream(ctx, conn, rd)
			conn.Close()
			if ctx.Err() != nil {
				c.connected.Store(false)
				return
			}
			c.down(err)
			if time.Since(t0) > 5*time.Second {
				backoff = minBackoff
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
		var err error
		conn, rd, err = c.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.down(err)
			conn = nil
		}
	}
}

// errSilent: the sidecar sent nothing, not even a heartbeat, for too long.
var errSilent = errors.New("sidecar silent (no heartbeat)")

// stream delivers events from one session until it breaks.
func (c *sidecarClient) stream(ctx context.Context, conn net.Conn, rd *wire.Reader) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		buf := make([]byte, 0, 32)
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			buf = wire.AppendFrame(buf[:0], wire.TypeHeartbeat, wire.AppendHeartbeat(make([]byte, 0, 16), wire.Heartbeat{Mono: monoclock.Now()}))
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := conn.Write(buf); err != nil {
				return
			}
		}
	}()
	defer func() { close(done); wg.Wait() }()

	const silence = time.Second
	var ev Event
	var armed time.Time
	for {
		// Re-arm the silence deadline at most every 50ms, not per frame.
		if now := time.Now(); now.Sub(armed) > 50*time.Millisecond {
			_ = conn.SetReadDeadline(now.Add(silence))
			armed = now
		}
		f, err := rd.Next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return errSilent
			}
			return err
		}
		switch f.Type {
		case wire.TypeEvent:
			if err := c.dec.decode(f.Payload, &ev); err != nil {
				c.s.decodeErrors.Add(1)
				continue
			}
			if c.mask&(1<<ev.Signal) == 0 || (c.filterPID != 0 && ev.PID != 0 && ev.PID != c.filterPID) {
				continue
			}
			c.s.emit(&ev)
		case wire.TypeStatus:
			st, _, err := wire.DecodeStatuses(f.Payload)
			if err != nil {
				return err
			}
			c.apply(st, false)
		case wire.TypeHeartbeat:
			hb, err := wire.DecodeHeartbeat(f.Payload)
			if err != nil {
				return err
			}
			if hb.Dropped != c.dropped {
				c.noteDropped(hb.Dropped)
			}
		case wire.TypeBye:
			b, err := wire.DecodeBye(f.Payload)
			if err != nil {
				return err
			}
			return b
		default:
			return fmt.Errorf("sidecar: unexpected frame type %d", f.Type)
		}
	}
}
