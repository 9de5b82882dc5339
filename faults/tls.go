package faults

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// SlowTLS is a TLS listener whose handshakes take at least a given delay:
// the server holds back its first handshake flight (ServerHello) that long
// after the client's hello arrived. Accept never waits; the delay is spent in
// the connection's own Read/Write (the goroutine serving it). It needs no
// privilege.
type SlowTLS struct {
	net.Listener
	cfg   *tls.Config
	delay atomic.Int64

	done      chan struct{}
	closeOnce sync.Once
}

// SlowTLSListener wraps l so that accepted connections speak TLS with cfg
// (which must hold a certificate) after a handshake delay of handshakeDelay.
// The delay can be changed at run time with SetDelay. A nil cfg makes every
// handshake fail.
func SlowTLSListener(l net.Listener, cfg *tls.Config, handshakeDelay time.Duration) *SlowTLS {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	s := &SlowTLS{Listener: l, cfg: cfg, done: make(chan struct{})}
	s.delay.Store(int64(handshakeDelay))
	return s
}

// SetDelay changes the handshake delay of connections accepted from now on.
func (s *SlowTLS) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// Delay returns the current handshake delay.
func (s *SlowTLS) Delay() time.Duration { return time.Duration(s.delay.Load()) }

// Accept returns the next connection, wrapped in TLS.
func (s *SlowTLS) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	d := s.Delay()
	if d > 0 {
		c = &delayFirstWrite{Conn: c, delay: d, done: s.done}
	}
	return tls.Server(c, s.cfg), nil
}

// Close closes the listener and cuts short handshakes still being delayed.
func (s *SlowTLS) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return s.Listener.Close()
}

// delayFirstWrite sleeps before its first Write.
type delayFirstWrite struct {
	net.Conn
	delay time.Duration
	done  chan struct{}
	once  sync.Once
}

func (c *delayFirstWrite) Write(b []byte) (int, error) {
	var closed bool
	c.once.Do(func() {
		t := time.NewTimer(c.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.done:
			closed = true
		}
	})
	if closed {
		c.Conn.Close()
		return 0, net.ErrClosed
	}
	return c.Conn.Write(b)
}

// TLSFault sets the handshake delay of a [SlowTLS]; undo restores the
// previous delay. It needs no privilege.
type TLSFault struct {
	// Listener is the listener to change. Required.
	Listener *SlowTLS
	// Delay of every handshake while the fault lasts.
	Delay time.Duration
}

// Inject applies the delay.
func (f TLSFault) Inject(ctx context.Context) (undo func() error, err error) {
	if f.Listener == nil {
		return nil, errors.New("faults: tls fault needs a SlowTLS listener")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	old := f.Listener.Delay()
	f.Listener.SetDelay(f.Delay)
	var once sync.Once
	return func() error {
		once.Do(func() { f.Listener.SetDelay(old) })
		return nil
	}, nil
}
