//go:build linux

package sidecar

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/llmslo/slo/internal/monoclock"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/internal/wire"
	"golang.org/x/sys/unix"
)

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
	if n, ok := s.logRejection(reason, time.Now()); ok {
		s.log.Info("sidecar: client rejected", "reason", reason, "detail", text, "suppressed", n)
	}
	_ = conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = conn.Write(wire.AppendFrame(nil, wire.TypeBye, wire.AppendBye(nil, wire.Bye{Reason: bye, Text: text})))
	conn.Close()
}

// logRejection reports whether a rejection for reason may be logged at
// now — at most one line per reason a second, so that a client hammering
// the socket cannot flood the log — and how many went unlogged since.
func (s *Server) logRejection(reason string, now time.Time) (uint64, bool) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	l := s.rejectLogs[reason]
	if !l.at.IsZero() && now.Sub(l.at) < time.Second {
		l.suppressed++
		s.rejectLogs[reason] = l
		return 0, false
	}
	s.rejectLogs[reason] = rejectLog{at: now}
	return l.suppressed, true
}

// rejectLog is the last logged rejection of a reason.
type rejectLog struct {
	at         time.Time
	suppressed uint64
}

// supportedMask is the set of signals a client may ask for: the kernel ones.
const supportedMask = 1<<probes.RunqueueDelay | 1<<probes.TCPRetransmit | 1<<probes.ConnectLatency |
	1<<probes.DNSLatency | 1<<probes.MemReclaim | 1<<probes.BlockIO | 1<<probes.SyscallLatency

func (s *Server) serveConn(conn *net.UnixConn) {
	var p peer
	var perr error
	rc, err := conn.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) { p, perr = s.authenticate(int(fd)) })
	}
	if err == nil {
		err = perr
	}
	if err != nil {
		s.reject(conn, ReasonUnauthorized, wire.ByeUnauthorized, err.Error())
		return
	}
	ten := s.admit(p.cgroup)
	if ten == nil {
		s.reject(conn, ReasonTenantLimit, wire.ByeTooManyClients, fmt.Sprintf("limit %d connections per cgroup", s.cfg.MaxClientsPerCgroup))
		return
	}
	defer s.release(ten)
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
		srv: s, ten: ten, conn: conn, pid: p.pid, cgroup: p.cgroup, mask: h.Signals & supportedMask,
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
	s.log.Info("sidecar: client connected", "pid", p.pid, "uid", p.uid, "cgroup", p.cgroup, "cgroup_from", p.how, "signals", fmt.Sprintf("%#x", c.mask))

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
	ten    *tenant
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

// countDrop counts an event the client wanted and did not get; the
// client learns the total from the heartbeats.
func (c *client) countDrop() {
	c.mu.Lock()
	c.dropped++
	c.mu.Unlock()
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
			c.pend = wire.AppendFrame(c.pend, wire.TypeHeartbeat, wire.AppendHeartbeat(make([]byte, 0, 16), wire.Heartbeat{Mono: monoclock.Now(), Dropped: c.dropped}))
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
