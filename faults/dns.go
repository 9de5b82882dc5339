package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// DNSMode selects how a [DNSServer] answers.
type DNSMode int32

const (
	// DNSAnswer answers from DNSConfig.Hosts; names not there get NXDOMAIN,
	// and a name with no address of the asked type gets an empty NOERROR.
	DNSAnswer DNSMode = iota
	// DNSServFail answers every query with SERVFAIL.
	DNSServFail
	// DNSNXDomain answers every query with NXDOMAIN.
	DNSNXDomain
	// DNSDrop never answers: clients time out.
	DNSDrop
)

// String returns the mode's name.
func (m DNSMode) String() string {
	switch m {
	case DNSAnswer:
		return "answer"
	case DNSServFail:
		return "servfail"
	case DNSNXDomain:
		return "nxdomain"
	case DNSDrop:
		return "drop"
	}
	return fmt.Sprintf("DNSMode(%d)", int32(m))
}

// DNSConfig configures [StartDNS].
type DNSConfig struct {
	// Listen is the host:port the server listens on, for UDP and TCP alike.
	// Default "127.0.0.1:0" (a free port), or NSAddr:53 when NS is set.
	Listen string
	// NS, when set, creates the server's sockets inside that namespace.
	NS *Netns
	// Delay is added before every answer (also SERVFAIL and NXDOMAIN).
	Delay time.Duration
	// Jitter adds a uniform random [0, Jitter) to Delay, drawn per query.
	Jitter time.Duration
	// Mode is the answer mode; the zero value answers from Hosts.
	Mode DNSMode
	// Hosts maps names (case-insensitive, trailing dot optional) to their
	// address; IPv4 addresses answer A queries, IPv6 ones AAAA.
	Hosts map[string]netip.Addr
	// TTL of the answers in seconds (0 means 0: clients should not cache).
	TTL uint32
}

// DNSServer is a small authoritative DNS server over UDP and TCP whose delay
// and answer mode change at run time. It needs no privilege unless it listens
// on a port below 1024 outside a namespace it owns (NS). Create it with
// [StartDNS]; the zero value is not usable.
type DNSServer struct {
	addr    netip.AddrPort
	hosts   map[string][]netip.Addr
	ttl     uint32
	delay   atomic.Int64
	jitter  atomic.Int64
	mode    atomic.Int32
	queries atomic.Uint64

	udp, tcp  *dns.Server
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	serving   sync.WaitGroup
}

// StartDNS starts a DNS server. It returns once the server answers queries.
func StartDNS(cfg DNSConfig) (s *DNSServer, err error) {
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
		if cfg.NS != nil {
			listen = net.JoinHostPort(cfg.NS.NSAddr().String(), "53")
		}
	}
	s = &DNSServer{
		hosts: make(map[string][]netip.Addr, len(cfg.Hosts)),
		ttl:   cfg.TTL,
		done:  make(chan struct{}),
	}
	for name, a := range cfg.Hosts {
		if !a.IsValid() {
			return nil, fmt.Errorf("faults: dns host %q has no valid address", name)
		}
		fq := dns.CanonicalName(name)
		s.hosts[fq] = append(s.hosts[fq], a.Unmap())
	}
	s.delay.Store(int64(cfg.Delay))
	s.jitter.Store(int64(cfg.Jitter))
	s.mode.Store(int32(cfg.Mode))

	listenPacket := net.ListenPacket
	listenStream := net.Listen
	if cfg.NS != nil {
		listenPacket = cfg.NS.ListenPacket
		listenStream = cfg.NS.Listen
	}
	pc, l, err := listenBoth(listen, listenPacket, listenStream)
	if err != nil {
		return nil, fmt.Errorf("faults: dns listen %s: %w", listen, err)
	}
	s.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	s.addr = netip.AddrPortFrom(s.addr.Addr().Unmap(), s.addr.Port())

	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: l, Handler: h}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			errc <- srv.ActivateAndServe()
		}()
		select {
		case <-started:
		case err := <-errc:
			_ = s.Close()
			pc.Close()
			l.Close()
			return nil, fmt.Errorf("faults: dns serve: %w", err)
		}
	}
	return s, nil
}

// listenBoth binds UDP and TCP on the same port, retrying a few times when
// the port was chosen by the kernel and is taken for TCP.
func listenBoth(addr string, lp func(string, string) (net.PacketConn, error), ls func(string, string) (net.Listener, error)) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	var lastErr error
	for range 10 {
		pc, err := lp("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		_, p, _ := net.SplitHostPort(pc.LocalAddr().String())
		l, err := ls("tcp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

func (s *DNSServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	d := time.Duration(s.delay.Load())
	if j := s.jitter.Load(); j > 0 {
		d += time.Duration(rand.Int64N(j))
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return
		}
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	switch DNSMode(s.mode.Load()) {
	case DNSDrop:
		return
	case DNSServFail:
		m.Rcode = dns.RcodeServerFailure
	case DNSNXDomain:
		m.Rcode = dns.RcodeNameError
	default:
		if len(req.Question) != 1 {
			m.Rcode = dns.RcodeFormatError
			break
		}
		q := req.Question[0]
		addrs, ok := s.hosts[dns.CanonicalName(q.Name)]
		if !ok {
			m.Rcode = dns.RcodeNameError
			break
		}
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: s.ttl}
		for _, a := range addrs {
			switch {
			case a.Is4() && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
				h := hdr
				h.Rrtype = dns.TypeA
				m.Answer = append(m.Answer, &dns.A{Hdr: h, A: a.AsSlice()})
			case a.Is6() && (q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY):
				h := hdr
				h.Rrtype = dns.TypeAAAA
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: h, AAAA: a.AsSlice()})
			}
		}
	}
	_ = w.WriteMsg(m)
}

// Addr returns the address the server listens on (UDP and TCP).
func (s *DNSServer) Addr() netip.AddrPort { return s.addr }

// SetDelay changes the delay added before every answer.
func (s *DNSServer) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// Delay returns the current delay.
func (s *DNSServer) Delay() time.Duration { return time.Duration(s.delay.Load()) }

// SetJitter changes the random extra delay: uniform in [0, j), per query.
func (s *DNSServer) SetJitter(j time.Duration) { s.jitter.Store(int64(j)) }

// Jitter returns the current jitter.
func (s *DNSServer) Jitter() time.Duration { return time.Duration(s.jitter.Load()) }

// SetMode changes the answer mode.
func (s *DNSServer) SetMode(m DNSMode) { s.mode.Store(int32(m)) }

// Mode returns the current answer mode.
func (s *DNSServer) Mode() DNSMode { return DNSMode(s.mode.Load()) }

// Queries returns the number of queries received so far.
func (s *DNSServer) Queries() uint64 { return s.queries.Load() }

// Resolver returns a pure-Go resolver that sends every query to s, whatever
// server the caller asks for.
func (s *DNSServer) Resolver() *net.Resolver {
	addr := s.addr.String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// Close stops the server, abandons the queries it is delaying and waits for
// its goroutines. It is idempotent.
func (s *DNSServer) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var errs []error
		for _, srv := range []*dns.Server{s.udp, s.tcp} {
			if srv == nil {
				continue
			}
			if err := srv.ShutdownContext(ctx); err != nil && !strings.Contains(err.Error(), "not started") {
				errs = append(errs, err)
			}
		}
		s.serving.Wait()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// DNSFault switches a running [DNSServer] to a delay and mode; undo restores
// the previous ones. It needs no privilege.
type DNSFault struct {
	// Server is the server to change. Required.
	Server *DNSServer
	// Delay added before every answer, plus a uniform random [0, Jitter).
	Delay, Jitter time.Duration
	// Mode of answering while the fault lasts.
	Mode DNSMode
}

// Inject applies the delay and mode.
func (f DNSFault) Inject(ctx context.Context) (undo func() error, err error) {
	if f.Server == nil {
		return nil, errors.New("faults: dns fault needs a DNSServer")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	oldDelay, oldJitter, oldMode := f.Server.Delay(), f.Server.Jitter(), f.Server.Mode()
	f.Server.SetDelay(f.Delay)
	f.Server.SetJitter(f.Jitter)
	f.Server.SetMode(f.Mode)
	var once sync.Once
	return func() error {
		once.Do(func() {
			f.Server.SetDelay(oldDelay)
			f.Server.SetJitter(oldJitter)
			f.Server.SetMode(oldMode)
		})
		return nil
	}, nil
}
