package probes

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"time"
)

// The ring-buffer record layout of internal/bpf/event.h (struct event),
// little endian. Offsets are checked against the generated Go type in
// layout_bpf_test.go (TestRecordLayout).
const (
	recSize       = 128
	offTS         = 0
	offDuration   = 8
	offCookie     = 16
	offCgroup     = 24
	offCount      = 32
	offPID        = 40
	offTID        = 44
	offErr        = 48
	offLport      = 52
	offRport      = 54
	offLaddr      = 56
	offRaddr      = 72
	offTraceID    = 88
	offSpanID     = 104
	offSignal     = 112
	offFamily     = 113
	offState      = 114
	offFlags      = 115
	offAux        = 116
	offPayloadLen = 120

	flagTrace = 1
	flagError = 2
	// flagArm marks a DNS record that is no event: it asks user space to
	// attach the DNS packet programs.
	flagArm = 8
	// flagFromConnect: the DNS duration counts from the connect or send
	// that armed the packet programs (DNSInfo.FromConnect).
	flagFromConnect = 16
	// flagTCP: the DNS exchange went over TCP (DNSInfo.TCP).
	flagTCP = 32

	afInet  = 2
	afInet6 = 10

	// dnsMax mirrors SLO_DNS_MAX.
	dnsMax = 320
	// maxInterned bounds the DNS name intern table.
	maxInterned = 4096
)

var (
	errShortRecord = errors.New("probes: short ring-buffer record")
	errBadSignal   = errors.New("probes: unknown signal in record")
	errBadPayload  = errors.New("probes: payload length out of range")
)

// decoder turns ring-buffer records into Events. It is used by one
// goroutine at a time.
type decoder struct {
	// wallOffset is wall-clock ns minus CLOCK_MONOTONIC ns.
	wallOffset int64
	// pidFrom, when not 0, is the target's tgid in the initial pid
	// namespace, reported as pidTo (its pid in the caller's namespace).
	pidFrom, pidTo uint32
	names          map[string]string
	// omitNames leaves DNSInfo.Name empty (Config.OmitDNSNames).
	omitNames bool
}

func newDecoder(wallOffset int64) *decoder {
	return &decoder{wallOffset: wallOffset, names: make(map[string]string)}
}

// decode fills ev from raw. It does not allocate, except to intern a DNS
// name seen for the first time.
func (d *decoder) decode(raw []byte, ev *Event) error {
	if len(raw) < recSize {
		return errShortRecord
	}
	le := binary.LittleEndian
	sig := Signal(raw[offSignal])
	if !sig.kernel() {
		return errBadSignal
	}
	plen := int(le.Uint16(raw[offPayloadLen:]))
	if plen > dnsMax || recSize+plen > len(raw) {
		return errBadPayload
	}
	mono := int64(le.Uint64(raw[offTS:]))
	flags := raw[offFlags]
	*ev = Event{
		Signal:   sig,
		Mono:     mono,
		Time:     time.Unix(0, mono+d.wallOffset),
		PID:      le.Uint32(raw[offPID:]),
		TID:      le.Uint32(raw[offTID:]),
		CgroupID: le.Uint64(raw[offCgroup:]),
		Duration: time.Duration(le.Uint64(raw[offDuration:])),
		Count:    le.Uint64(raw[offCount:]),
		Op:       le.Uint32(raw[offAux:]),
		Cookie:   le.Uint64(raw[offCookie:]),
		State:    raw[offState],
		Failed:   flags&flagError != 0,
		Errno:    syscall.Errno(le.Uint32(raw[offErr:])),
		HasTrace: flags&flagTrace != 0,
	}
	if d.pidFrom != 0 && ev.PID == d.pidFrom {
		ev.PID = d.pidTo
	}
	if ev.HasTrace {
		copy(ev.TraceID[:], raw[offTraceID:offTraceID+16])
		copy(ev.SpanID[:], raw[offSpanID:offSpanID+8])
	}
	switch raw[offFamily] {
	case afInet:
		ev.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[offLaddr:offLaddr+4])), le.Uint16(raw[offLport:]))
		ev.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[offRaddr:offRaddr+4])), le.Uint16(raw[offRport:]))
	case afInet6:
		ev.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(raw[offLaddr:offLaddr+16])).Unmap(), le.Uint16(raw[offLport:]))
		ev.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(raw[offRaddr:offRaddr+16])).Unmap(), le.Uint16(raw[offRport:]))
	}
	if sig == DNSLatency {
		ev.DNS.ID = uint16(ev.Op)
		ev.DNS.Server = ev.Remote
		ev.DNS.FromConnect = flags&flagFromConnect != 0
		ev.DNS.TCP = flags&flagTCP != 0
		if plen > 0 {
			var m dnsMsg
			if parseDNS(raw[recSize:recSize+plen], &m) {
				ev.DNS.ID = m.id
				ev.DNS.Rcode = m.rcode
				ev.DNS.QType = m.qtype
				if !d.omitNames {
					ev.DNS.Name = d.intern(m.name[:m.nameLen])
				}
			}
		}
	}
	return nil
}

// intern returns b as a string, shared between events with the same name.
func (d *decoder) intern(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.names) >= maxInterned {
		clear(d.names)
	}
	d.names[s] = s
	return s
}

// dnsMsg is the part of a DNS message the decoder keeps.
type dnsMsg struct {
	id      uint16
	rcode   uint8
	qtype   uint16
	nameLen int
	name    [255]byte
}

// parseDNS parses the header and first question of msg into m, writing the
// name in dotted form without the trailing dot. It reports false for a
// malformed message or one without a question. Compression pointers are not
// followed (a question's name is never compressed in practice): it fails.
func parseDNS(msg []byte, m *dnsMsg) bool {
	if len(msg) < 12 {
		return false
	}
	m.id = binary.BigEndian.Uint16(msg[0:])
	m.rcode = msg[3] & 0x0f
	if binary.BigEndian.Uint16(msg[4:]) == 0 {
		return false
	}
	i := 12
	n := 0
	for {
		if i >= len(msg) {
			return false
		}
		l := int(msg[i])
		i++
		if l == 0 {
			break
		}
		if l&0xc0 != 0 || i+l > len(msg) {
			return false
		}
		if n > 0 {
			if n >= len(m.name) {
				return false
			}
			m.name[n] = '.'
			n++
		}
		if n+l > len(m.name) {
			return false
		}
		n += copy(m.name[n:], msg[i:i+l])
		i += l
	}
	if n == 0 {
		m.name[0] = '.'
		n = 1
	}
	if i+4 > len(msg) {
		return false
	}
	m.qtype = binary.BigEndian.Uint16(msg[i:])
	m.nameLen = n
	return true
}
