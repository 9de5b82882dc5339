package webhook

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by [New] to zero [Config] fields.
const (
	DefaultQueueSize   = 256
	DefaultMaxAttempts = 5
	DefaultBaseBackoff = 500 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	DefaultTimeout     = 5 * time.Second // per attempt, for the default client
)

// Header names set on every request.
const (
	// SignatureHeader carries "t=<unix>,v1=<hex>" when a secret is configured.
	SignatureHeader = "X-Llmslo-Signature"
	// DeliveryHeader carries an identifier that stays the same across the
	// retries of one payload.
	DeliveryHeader = "X-Llmslo-Delivery"
)

// maxDrain bounds how much of a response body is read to reuse the connection.
const maxDrain = 64 << 10

// Config configures a [Sender]. Only URL is required; every zero field means
// the documented default.
type Config struct {
	// URL is the absolute http or https endpoint to POST to.
	URL string
	// Secret, when non-empty, signs every request (see the package
	// documentation); it is copied by New.
	Secret []byte
	// Header holds extra request headers, e.g. Authorization; it is copied
	// by New. It may override Content-Type and User-Agent, not the
	// signature or delivery headers.
	Header http.Header
	// Client sends the requests. Nil means a private client with a 5 s
	// timeout per attempt that does not follow redirects.
	Client *http.Client
	// QueueSize bounds the payloads waiting for delivery; 0 means 256.
	QueueSize int
	// MaxAttempts bounds the attempts per payload, the first included; 0
	// means 5.
	MaxAttempts int
	// BaseBackoff is the wait before the first retry, doubled for each
	// further one, with jitter in [d/2, d]; 0 means 500 ms.
	BaseBackoff time.Duration
	// MaxBackoff caps the wait between attempts; 0 means 30 s. A
	// Retry-After longer than MaxBackoff makes the Sender give up on the
	// payload rather than retry early or stall the queue.
	MaxBackoff time.Duration
	// OnError, if set, is called from the Sender's goroutine once for each
	// payload that is given up, with the last error. It must not block.
	OnError func(error)
}

// Stats counts what a [Sender] did with the payloads given to Enqueue.
type Stats struct {
	// Delivered payloads got a 2xx response.
	Delivered uint64
	// Dropped payloads were refused by a full or closed queue, or abandoned
	// when Close's deadline expired.
	Dropped uint64
	// Failed payloads were given up: a non-retryable response, or the last
	// attempt failed.
	Failed uint64
	// Retries counts the attempts after the first, over all payloads.
	Retries uint64
	// Pending is the number of payloads waiting in the queue.
	Pending int
}

// StatusError is a non-2xx response.
type StatusError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// RetryAfter is the parsed Retry-After header, 0 when absent.
	RetryAfter time.Duration
}

// Error returns "http status <code>".
func (e *StatusError) Error() string {
	s := "http status " + strconv.Itoa(e.StatusCode)
	if e.RetryAfter > 0 {
		s += " (retry after " + e.RetryAfter.String() + ")"
	}
	return s
}

// Sender delivers payloads to one endpoint. Create it with [New]; the zero
// value is not usable. Its methods are safe for concurrent use.
type Sender struct {
	url         string
	host        string // for error messages: scheme://host only
	secret      []byte
	header      http.Header
	client      *http.Client
	own         *http.Transport // the private client's transport, closed by Close
	maxAttempts int
	base, maxB  time.Duration
	onError     func(error)

	mu     sync.RWMutex // guards closed against sends racing with Close
	closed bool
	queue  chan []byte

	closing   chan struct{} // closed by Close: drain, then stop
	done      chan struct{} // closed when the goroutine has returned
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once

	delivered, dropped, failed, retries atomic.Uint64
}

// New validates cfg and returns a Sender with its delivery goroutine
// running. It fails when the URL is not an absolute http(s) URL or a
// numeric field is negative.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, errors.New("webhook: invalid url") // the parse error would echo the URL
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook: url must be absolute http or https, got scheme %q", u.Scheme)
	}
	switch {
	case cfg.QueueSize < 0:
		return nil, fmt.Errorf("webhook: negative queue size %d", cfg.QueueSize)
	case cfg.MaxAttempts < 0:
		return nil, fmt.Errorf("webhook: negative max attempts %d", cfg.MaxAttempts)
	case cfg.BaseBackoff < 0 || cfg.MaxBackoff < 0:
		return nil, errors.New("webhook: negative backoff")
	}
	s := &Sender{
		url:         u.String(),
		host:        u.Scheme + "://" + u.Host,
		secret:      bytes.Clone(cfg.Secret),
		header:      cfg.Header.Clone(),
		client:      cfg.Client,
		maxAttempts: or(cfg.MaxAttempts, DefaultMaxAttempts),
		base:        or(cfg.BaseBackoff, DefaultBaseBackoff),
		maxB:        or(cfg.MaxBackoff, DefaultMaxBackoff),
		onError:     cfg.OnError,
		queue:       make(chan []byte, or(cfg.QueueSize, DefaultQueueSize)),
		closing:     make(chan struct{}),
		done:        make(chan struct{}),
	}
	s.maxB = max(s.maxB, s.base)
	if s.client == nil {
		s.own = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: DefaultTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   DefaultTimeout,
			ExpectContinueTimeout: time.Second,
		}
		s.client = &http.Client{
			Transport:     s.own,
			Timeout:       DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Enqueue queues a copy of body for delivery and returns true, or returns
// false at once, counting a drop, when the queue is full or the Sender is
// closed. It never blocks on the network.
func (s *Sender) Enqueue(body []byte) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.closed && len(s.queue) < cap(s.queue) { // skip the copy when surely full
		select {
		case s.queue <- bytes.Clone(body):
			return true
		default:
		}
	}
	s.dropped.Add(1)
	return false
}

// Stats returns the Sender's counters.
func (s *Sender) Stats() Stats {
	return Stats{
		Delivered: s.delivered.Load(),
		Dropped:   s.dropped.Load(),
		Failed:    s.failed.Load(),
		Retries:   s.retries.Load(),
		Pending:   len(s.queue),
	}
}

// Close stops accepting payloads, delivers those queued until ctx is done,
// then abandons the rest (counted as dropped), and returns once the
// Sender's goroutine has exited. It returns nil when everything queued was
// handed over (delivered or given up), else an error wrapping ctx.Err().
// Calling it again returns nil once the first call has finished.
func (s *Sender) Close(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.closing)
	})
	var err error
	select {
	case <-s.done:
	default:
		select {
		case <-s.done:
		case <-ctx.Done():
			pending := len(s.queue)
			s.cancel()
			<-s.done
			err = fmt.Errorf("webhook: close: abandoned %d queued payload(s): %w", pending, ctx.Err())
		}
	}
	s.cancel()
	if s.own != nil {
		s.own.CloseIdleConnections()
	}
	return err
}

// run is the delivery goroutine.
func (s *Sender) run() {
	defer close(s.done)
	for {
		select {
		case b := <-s.queue:
			s.deliver(b)
		case <-s.closing:
			for {
				select {
				case b := <-s.queue:
					if s.ctx.Err() != nil {
						s.dropped.Add(1)
						continue
					}
					s.deliver(b)
				default:
					return
				}
			}
		}
	}
}

// deliver attempts one payload until it is delivered, given up or abandoned.
func (s *Sender) deliver(body []byte) {
	id := crand.Text()
	for attempt := 1; ; attempt++ {
		retry, err := s.attempt(body, id)
		switch {
		case s.ctx.Err() != nil: // Close's deadline passed
			s.dropped.Add(1)
			return
		case err == nil:
			s.delivered.Add(1)
			return
		case !retry || attempt >= s.maxAttempts:
			s.giveUp(id, attempt, err)
			return
		}
		wait := s.backoff(attempt)
		if se := (*StatusError)(nil); errors.As(err, &se) && se.RetryAfter > 0 {
			if se.RetryAfter > s.maxB {
				s.giveUp(id, attempt, fmt.Errorf("%w exceeds max backoff %v", err, s.maxB))
				return
			}
			wait = max(wait, se.RetryAfter)
		}
		s.retries.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			s.dropped.Add(1)
			return
		}
	}
}

func (s *Sender) giveUp(id string, attempts int, err error) {
	s.failed.Add(1)
	if s.onError != nil {
		s.onError(fmt.Errorf("webhook: delivery %s to %s: gave up after %d attempt(s): %w", id, s.host, attempts, err))
	}
}

// backoff returns the jittered wait before retry number attempt (1-based).
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.base
	for i := 1; i < attempt && d < s.maxB; i++ {
		d *= 2
	}
	d = min(d, s.maxB)
	half := d / 2
	return half + rand.N(d-half+1)
}

// attempt makes one request; retry reports whether a failure is transient.
func (s *Sender) attempt(body []byte, id string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("build request") // unreachable: the URL was validated
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "llmslo-webhook/1")
	for k, vs := range s.header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	req.Header.Set(DeliveryHeader, id)
	if len(s.secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(s.secret, time.Now(), body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err) // drop the URL: it may hold credentials
		}
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	se := &StatusError{StatusCode: resp.StatusCode}
	retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	if retry {
		se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return retry, se
}

// parseRetryAfter reads delay-seconds or an HTTP-date; 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 1<<32)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
