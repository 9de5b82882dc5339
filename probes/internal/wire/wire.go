package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the protocol version this package speaks.
const Version = 1

// Magic opens every Hello payload.
const Magic = "SLOS"

// DefaultMaxFrame is the default largest frame (type byte + payload) a
// reader accepts.
const DefaultMaxFrame = 64 << 10

// MaxReason bounds the length of a status reason or Bye text.
const MaxReason = 1024

// Type is a frame type.
type Type uint8

// The frame types.
const (
	// TypeHello is the client's first frame ([Hello]).
	TypeHello Type = 1
	// TypeWelcome is the server's answer to an accepted Hello ([Welcome]).
	TypeWelcome Type = 2
	// TypeEvent carries one ring-buffer record, as is.
	TypeEvent Type = 3
	// TypeHeartbeat is sent periodically by both sides ([Heartbeat]).
	TypeHeartbeat Type = 4
	// TypeStatus updates the signal statuses ([]SignalStatus).
	TypeStatus Type = 5
	// TypeBye is the server's last frame before it closes ([Bye]).
	TypeBye Type = 6
)

// Errors returned by the decoders; they match with errors.Is.
var (
	// ErrFrameTooLarge: a frame's length exceeds the reader's limit.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrMalformed: a frame or payload does not parse.
	ErrMalformed = errors.New("wire: malformed frame")
)

// AppendFrame appends a frame of type t with payload p to dst.
func AppendFrame(dst []byte, t Type, p []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p)+1))
	dst = append(dst, byte(t))
	return append(dst, p...)
}

// Frame is one decoded frame. Payload aliases the [Reader]'s buffer and is
// valid until its next call.
type Frame struct {
	Type    Type
	Payload []byte
}

// Reader reads frames from a stream.
type Reader struct {
	r   *bufio.Reader
	max int
	buf []byte
	hdr [4]byte
}

// NewReader returns a Reader of frames of at most max bytes (type byte +
// payload); max ≤ 0 means [DefaultMaxFrame].
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &Reader{r: bufio.NewReaderSize(r, 4096), max: max}
}

// Next reads the next frame. It returns io.EOF at a clean end of stream,
// io.ErrUnexpectedEOF inside a frame, [ErrFrameTooLarge] (the payload is
// not read) and [ErrMalformed] for a zero-length frame.
func (r *Reader) Next() (Frame, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return Frame{}, err
	}
	n := binary.LittleEndian.Uint32(r.hdr[:])
	if n == 0 {
		return Frame{}, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	if uint64(n) > uint64(r.max) {
		return Frame{}, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, r.max)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return Frame{Type: Type(b[0]), Payload: b[1:]}, nil
}

// Hello is the client's handshake.
type Hello struct {
	// Version is the protocol version the client speaks.
	Version uint16
	// Signals is a bit set of requested probes.Signal values (bit s).
	Signals uint32
}

// helloSize is the fixed Hello payload size: magic, version, flags, signals.
const helloSize = 4 + 2 + 2 + 4

// AppendHello appends the payload of h to dst.
func AppendHello(dst []byte, h Hello) []byte {
	dst = append(dst, Magic...)
	dst = binary.LittleEndian.AppendUint16(dst, h.Version)
	dst = binary.LittleEndian.AppendUint16(dst, 0)
	return binary.LittleEndian.AppendUint32(dst, h.Signals)
}

// DecodeHello parses a Hello payload.
func DecodeHello(p []byte) (Hello, error) {
	if len(p) != helloSize || string(p[:4]) != Magic {
		return Hello{}, fmt.Errorf("%w: hello", ErrMalformed)
	}
	le := binary.LittleEndian
	return Hello{Version: le.Uint16(p[4:]), Signals: le.Uint32(p[8:])}, nil
}

// SignalStatus is the state of one signal as the server sees it. State
// holds a probes.State value (0 off, 1 degraded, 2 on).
type SignalStatus struct {
	Signal uint8
	State  uint8
	Reason string
}

// AppendStatuses appends a status list (count byte, then per entry signal,
// state, reason length u16 and reason) to dst. At most 255 entries are
// written and reasons are cut to [MaxReason] bytes.
func AppendStatuses(dst []byte, st []SignalStatus) []byte {
	if len(st) > 255 {
		st = st[:255]
	}
	dst = append(dst, byte(len(st)))
	for _, s := range st {
		r := s.Reason
		if len(r) > MaxReason {
			r = r[:MaxReason]
		}
		dst = append(dst, s.Signal, s.State)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(r)))
		dst = append(dst, r...)
	}
	return dst
}

// DecodeStatuses parses a status list and returns the bytes after it.
func DecodeStatuses(p []byte) ([]SignalStatus, []byte, error) {
	if len(p) < 1 {
		return nil, nil, fmt.Errorf("%w: status list", ErrMalformed)
	}
	n := int(p[0])
	p = p[1:]
	out := make([]SignalStatus, 0, n)
	for range n {
		if len(p) < 4 {
			return nil, nil, fmt.Errorf("%w: status entry", ErrMalformed)
		}
		l := int(binary.LittleEndian.Uint16(p[2:]))
		if l > MaxReason || len(p) < 4+l {
			return nil, nil, fmt.Errorf("%w: status reason", ErrMalformed)
		}
		out = append(out, SignalStatus{Signal: p[0], State: p[1], Reason: string(p[4 : 4+l])})
		p = p[4+l:]
	}
	return out, p, nil
}

// Welcome is the server's answer to an accepted Hello.
type Welcome struct {
	// Version is the protocol version of the session.
	Version uint16
	// HeartbeatMillis is the server's heartbeat period; a client treats
	// the server as gone after a few periods of silence.
	HeartbeatMillis uint16
	// CgroupID is the cgroup v2 id the server derived from the client's
	// peer credentials; the client only receives events of this cgroup.
	CgroupID uint64
	// PID is the client's process id as the server saw it.
	PID uint32
	// Statuses are the states of the requested signals.
	Statuses []SignalStatus
}

// AppendWelcome appends the payload of w to dst.
func AppendWelcome(dst []byte, w Welcome) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint16(dst, w.Version)
	dst = le.AppendUint16(dst, w.HeartbeatMillis)
	dst = le.AppendUint64(dst, w.CgroupID)
	dst = le.AppendUint32(dst, w.PID)
	return AppendStatuses(dst, w.Statuses)
}

// DecodeWelcome parses a Welcome payload.
func DecodeWelcome(p []byte) (Welcome, error) {
	if len(p) < 16 {
		return Welcome{}, fmt.Errorf("%w: welcome", ErrMalformed)
	}
	le := binary.LittleEndian
	w := Welcome{Version: le.Uint16(p), HeartbeatMillis: le.Uint16(p[2:]), CgroupID: le.Uint64(p[4:]), PID: le.Uint32(p[12:])}
	st, rest, err := DecodeStatuses(p[16:])
	if err != nil {
		return Welcome{}, err
	}
	if len(rest) != 0 {
		return Welcome{}, fmt.Errorf("%w: welcome trailer", ErrMalformed)
	}
	w.Statuses = st
	return w, nil
}

// Heartbeat is the payload of a heartbeat frame.
type Heartbeat struct {
	// Mono is the sender's CLOCK_MONOTONIC time in nanoseconds.
	Mono int64
	// Dropped is, from the server, the number of this client's events the
	// server dropped so far (its queue was full); 0 from a client.
	Dropped uint64
}

// AppendHeartbeat appends the payload of h to dst.
func AppendHeartbeat(dst []byte, h Heartbeat) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Mono))
	return binary.LittleEndian.AppendUint64(dst, h.Dropped)
}

// DecodeHeartbeat parses a Heartbeat payload.
func DecodeHeartbeat(p []byte) (Heartbeat, error) {
	if len(p) != 16 {
		return Heartbeat{}, fmt.Errorf("%w: heartbeat", ErrMalformed)
	}
	return Heartbeat{Mono: int64(binary.LittleEndian.Uint64(p)), Dropped: binary.LittleEndian.Uint64(p[8:])}, nil
}

// ByeReason says why the server ends a session.
type ByeReason uint8

// The Bye reasons.
const (
	ByeShutdown       ByeReason = 1 // the server is stopping
	ByeTooManyClients ByeReason = 2 // the client limit is reached
	ByeUnauthorized   ByeReason = 3 // peer credentials or cgroup unresolved
	ByeVersion        ByeReason = 4 // unsupported protocol version
	ByeProtocol       ByeReason = 5 // malformed, oversized or unexpected frame
	// 6 is not used: a client too slow to read is disconnected without a
	// Bye (writing one would wait on it too).
	ByeTimeout ByeReason = 7 // no handshake or heartbeat in time
)

var byeNames = [...]string{"", "shutdown", "too_many_clients", "unauthorized", "version", "protocol", "", "timeout"}

// String returns the snake_case name of r.
func (r ByeReason) String() string {
	if int(r) < len(byeNames) && byeNames[r] != "" {
		return byeNames[r]
	}
	return fmt.Sprintf("bye(%d)", uint8(r))
}

// Bye is the server's last frame.
type Bye struct {
	Reason ByeReason
	Text   string
}

// AppendBye appends the payload of b to dst (text cut to [MaxReason]).
func AppendBye(dst []byte, b Bye) []byte {
	t := b.Text
	if len(t) > MaxReason {
		t = t[:MaxReason]
	}
	dst = append(dst, byte(b.Reason))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(t)))
	return append(dst, t...)
}

// DecodeBye parses a Bye payload.
func DecodeBye(p []byte) (Bye, error) {
	if len(p) < 3 {
		return Bye{}, fmt.Errorf("%w: bye", ErrMalformed)
	}
	l := int(binary.LittleEndian.Uint16(p[1:]))
	if l > MaxReason || len(p) != 3+l {
		return Bye{}, fmt.Errorf("%w: bye text", ErrMalformed)
	}
	return Bye{Reason: ByeReason(p[0]), Text: string(p[3:])}, nil
}

// Error implements error, so a received Bye can end a session.
func (b Bye) Error() string { return "sidecar: " + b.Reason.String() + ": " + b.Text }
