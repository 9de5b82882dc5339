package probes

import (
	"encoding/binary"
	"strings"
)

// AppendRecord appends ev to dst in the ring-buffer record layout of
// internal/bpf/event.h — the encoding kernel events travel in from the
// slo-sidecar to its clients — and returns the extended slice. A
// DNSLatency event gets a DNS message payload (header and first question)
// rebuilt from ev.DNS, so the receiving decoder fills the same fields.
// Only kernel signals (RunqueueDelay … SyscallLatency) have a record
// layout; for any other signal dst is returned unchanged.
func AppendRecord(dst []byte, ev *Event) []byte {
	if !ev.Signal.kernel() {
		return dst
	}
	start := len(dst)
	dst = append(dst, make([]byte, recSize)...)
	r := dst[start:]
	le := binary.LittleEndian
	le.PutUint64(r[offTS:], uint64(ev.Mono))
	le.PutUint64(r[offDuration:], uint64(ev.Duration))
	le.PutUint64(r[offCookie:], ev.Cookie)
	le.PutUint64(r[offCgroup:], ev.CgroupID)
	le.PutUint64(r[offCount:], ev.Count)
	le.PutUint32(r[offPID:], ev.PID)
	le.PutUint32(r[offTID:], ev.TID)
	le.PutUint32(r[offErr:], uint32(ev.Errno))
	le.PutUint16(r[offLport:], ev.Local.Port())
	le.PutUint16(r[offRport:], ev.Remote.Port())
	la, ra := ev.Local.Addr(), ev.Remote.Addr()
	switch {
	case la.Is4() || (!la.IsValid() && ra.Is4()):
		r[offFamily] = afInet
		if la.Is4() {
			a := la.As4()
			copy(r[offLaddr:], a[:])
		}
		if ra.Is4() {
			a := ra.As4()
			copy(r[offRaddr:], a[:])
		}
	case la.Is6() || ra.Is6():
		r[offFamily] = afInet6
		if la.IsValid() {
			a := la.As16()
			copy(r[offLaddr:], a[:])
		}
		if ra.IsValid() {
			a := ra.As16()
			copy(r[offRaddr:], a[:])
		}
	}
	if ev.HasTrace {
		r[offFlags] |= flagTrace
		copy(r[offTraceID:], ev.TraceID[:])
		copy(r[offSpanID:], ev.SpanID[:])
	}
	if ev.Failed {
		r[offFlags] |= flagError
	}
	r[offSignal] = byte(ev.Signal)
	r[offState] = ev.State
	le.PutUint32(r[offAux:], ev.Op)
	if ev.Signal == DNSLatency && (ev.DNS.Name != "" || ev.DNS.QType != 0 || ev.DNS.Rcode != 0) {
		n := len(dst)
		dst = appendDNSQuestion(dst, &ev.DNS)
		if plen := len(dst) - n; plen > dnsMax {
			dst = dst[:n]
		} else {
			le.PutUint16(dst[start+offPayloadLen:], uint16(plen))
		}
	}
	return dst
}

// appendDNSQuestion appends a response header (id, QR, rcode, one
// question) and the question of d; a name that does not fit DNS label
// rules is written as the root.
func appendDNSQuestion(dst []byte, d *DNSInfo) []byte {
	dst = binary.BigEndian.AppendUint16(dst, d.ID)
	dst = append(dst, 0x80, d.Rcode&0x0f, 0, 1, 0, 0, 0, 0, 0, 0)
	name := d.Name
	ok := name != "" && name != "." && len(name) <= 253
	if ok {
		for l := range strings.SplitSeq(name, ".") {
			if len(l) == 0 || len(l) > 63 {
				ok = false
				break
			}
		}
	}
	if ok {
		for l := range strings.SplitSeq(name, ".") {
			dst = append(dst, byte(len(l)))
			dst = append(dst, l...)
		}
	}
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, d.QType)
	return binary.BigEndian.AppendUint16(dst, 1) // class IN
}
