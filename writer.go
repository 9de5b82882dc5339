package slo

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"time"
	"unsafe"

	"github.com/felixge/httpsnoop"
)

// The observation hooks of the ResponseWriter wrapper. They run on the
// goroutine that writes the response.

func (r *Request) writeHeader(w http.ResponseWriter, code int) {
	if r.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		r.status = code
	}
	w.WriteHeader(code)
}

func (r *Request) wrote(w http.ResponseWriter, p []byte, n int, err error) {
	if n > 0 {
		if r.status == 0 {
			r.status = http.StatusOK
		}
		var ct string
		if r.bytes == 0 {
			ct = w.Header().Get("Content-Type")
		}
		r.onWrite(p[:n], r.clock(), ct)
	}
	if err != nil {
		r.writeErr = true
	}
}

// clock returns the current time as r.start plus the monotonic time elapsed
// since then: one clock read where time.Now takes two (wall and monotonic).
// Only durations from r.start are ever taken of the timestamps of a request.
func (r *Request) clock() time.Time { return r.start.Add(time.Since(r.start)) }

func (r *Request) write(w http.ResponseWriter, p []byte) (int, error) {
	n, err := w.Write(p)
	r.wrote(w, p, n, err)
	return n, err
}

func (r *Request) writeString(w http.ResponseWriter, s string) (int, error) {
	n, err := io.WriteString(w, s)
	// The observer only reads the bytes and never keeps them.
	r.wrote(w, unsafe.Slice(unsafe.StringData(s), len(s)), n, err)
	return n, err
}

func (r *Request) flush(f http.Flusher) {
	r.flushed = true
	f.Flush()
}

// readFrom passes through untouched so sendfile keeps working; the bytes are
// counted but not decoded (io.Copy of a file is no token stream).
func (r *Request) readFrom(rf io.ReaderFrom, src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	start := r.clock()
	n, err := rf.ReadFrom(src)
	if n > 0 && r.bytes == 0 {
		r.firstByte = start
	}
	r.bytes += n
	if err != nil {
		r.writeErr = true
	}
	return n, err
}

func (r *Request) hijack(h http.Hijacker) (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := h.Hijack()
	if err == nil {
		r.hijacked = true
		if r.status == 0 {
			r.status = http.StatusSwitchingProtocols
		}
	}
	return c, rw, err
}

// wrapWriter returns w wrapped so that every write is observed, keeping w's
// optional interfaces (deadlines and full duplex are reached through Unwrap,
// as http.ResponseController does). The two shapes net/http itself produces
// (HTTP/1 and HTTP/2) and the plain Flusher of httptest get dedicated types
// (one allocation); any other shape goes through httpsnoop.
func wrapWriter(w http.ResponseWriter, rq *Request) http.ResponseWriter {
	_, isFlusher := w.(http.Flusher)
	_, isHijacker := w.(http.Hijacker)
	_, isReaderFrom := w.(io.ReaderFrom)
	_, isPusher := w.(http.Pusher)
	//lint:ignore SA1019 CloseNotifier is deprecated but must be preserved when present.
	_, isCloseNotifier := w.(http.CloseNotifier) //nolint:staticcheck // preserved, not used
	switch {
	case isFlusher && isHijacker && isReaderFrom && isCloseNotifier && !isPusher:
		rq.ww.h1 = rwHTTP1{rwBase{w: w, rq: rq}}
		return &rq.ww.h1
	case isFlusher && isPusher && isCloseNotifier && !isHijacker && !isReaderFrom:
		rq.ww.h2 = rwHTTP2{rwBase{w: w, rq: rq}}
		return &rq.ww.h2
	case isFlusher && !isHijacker && !isReaderFrom && !isPusher && !isCloseNotifier:
		rq.ww.fl = rwFlusher{rwBase{w: w, rq: rq}}
		return &rq.ww.fl
	}
	return snoopWrap(w, rq)
}

// writerWrappers holds, inside a Request, the wrapper wrapWriter returns for
// the shapes it has a type for (one of them is used).
type writerWrappers struct {
	h1 rwHTTP1
	h2 rwHTTP2
	fl rwFlusher
}

// rwBase observes Write, WriteString and WriteHeader, and exposes the
// original writer to http.ResponseController through Unwrap.
type rwBase struct {
	w  http.ResponseWriter
	rq *Request
}

func (b *rwBase) Header() http.Header               { return b.w.Header() }
func (b *rwBase) WriteHeader(code int)              { b.rq.writeHeader(b.w, code) }
func (b *rwBase) Write(p []byte) (int, error)       { return b.rq.write(b.w, p) }
func (b *rwBase) WriteString(s string) (int, error) { return b.rq.writeString(b.w, s) }
func (b *rwBase) Unwrap() http.ResponseWriter       { return b.w }
func (b *rwBase) flush()                            { b.rq.flush(b.w.(http.Flusher)) }
func (b *rwBase) closeNotify() <-chan bool          { return b.w.(http.CloseNotifier).CloseNotify() } //nolint:staticcheck // preserved
func (b *rwBase) readFrom(src io.Reader) (int64, error) {
	return b.rq.readFrom(b.w.(io.ReaderFrom), src)
}

// rwHTTP1 has the interfaces of net/http's HTTP/1 response.
type rwHTTP1 struct{ rwBase }

func (r *rwHTTP1) Flush()                                { r.flush() }
func (r *rwHTTP1) CloseNotify() <-chan bool              { return r.closeNotify() }
func (r *rwHTTP1) ReadFrom(src io.Reader) (int64, error) { return r.readFrom(src) }
func (r *rwHTTP1) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return r.rq.hijack(r.w.(http.Hijacker))
}

// rwHTTP2 has the interfaces of net/http's HTTP/2 response writer.
type rwHTTP2 struct{ rwBase }

func (r *rwHTTP2) Flush()                   { r.flush() }
func (r *rwHTTP2) CloseNotify() <-chan bool { return r.closeNotify() }
func (r *rwHTTP2) Push(target string, o *http.PushOptions) error {
	return r.w.(http.Pusher).Push(target, o)
}

// rwFlusher has only http.Flusher (httptest.ResponseRecorder, many wrappers).
type rwFlusher struct{ rwBase }

func (r *rwFlusher) Flush() { r.flush() }

// snoopWrap handles every other combination of optional interfaces.
func snoopWrap(w http.ResponseWriter, rq *Request) http.ResponseWriter {
	return httpsnoop.Wrap(w, httpsnoop.Hooks{
		WriteHeader: func(httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) { rq.writeHeader(w, code) }
		},
		Write: func(httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(p []byte) (int, error) { return rq.write(w, p) }
		},
		WriteString: func(httpsnoop.WriteStringFunc) httpsnoop.WriteStringFunc {
			return func(s string) (int, error) { return rq.writeString(w, s) }
		},
		Flush: func(httpsnoop.FlushFunc) httpsnoop.FlushFunc {
			return func() { rq.flush(w.(http.Flusher)) }
		},
		ReadFrom: func(httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) { return rq.readFrom(w.(io.ReaderFrom), src) }
		},
		Hijack: func(httpsnoop.HijackFunc) httpsnoop.HijackFunc {
			return func() (net.Conn, *bufio.ReadWriter, error) { return rq.hijack(w.(http.Hijacker)) }
		},
	})
}
