//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/llmslo/slo/internal/bpf"
)

// TestRecordLayout checks the layout decode.go and AppendRecord use against
// the types bpf2go generated from internal/bpf/event.h: a C change that
// moves, resizes, adds or removes a field of a ring-buffer record fails
// here, instead of decoding garbage.
func TestRecordLayout(t *testing.T) {
	var e bpf.SchedEvent
	// Every field of struct event, where the decoder reads it and how wide
	// (the padding: what is left of the record).
	fields := []struct {
		name              string
		off, size         uintptr
		wantOff, wantSize uintptr
	}{
		{"ts_ns", unsafe.Offsetof(e.TsNs), unsafe.Sizeof(e.TsNs), offTS, 8},
		{"duration_ns", unsafe.Offsetof(e.DurationNs), unsafe.Sizeof(e.DurationNs), offDuration, 8},
		{"cookie", unsafe.Offsetof(e.Cookie), unsafe.Sizeof(e.Cookie), offCookie, 8},
		{"cgroup_id", unsafe.Offsetof(e.CgroupId), unsafe.Sizeof(e.CgroupId), offCgroup, 8},
		{"count", unsafe.Offsetof(e.Count), unsafe.Sizeof(e.Count), offCount, 8},
		{"pid", unsafe.Offsetof(e.Pid), unsafe.Sizeof(e.Pid), offPID, 4},
		{"tid", unsafe.Offsetof(e.Tid), unsafe.Sizeof(e.Tid), offTID, 4},
		{"err", unsafe.Offsetof(e.Err), unsafe.Sizeof(e.Err), offErr, 4},
		{"lport", unsafe.Offsetof(e.Lport), unsafe.Sizeof(e.Lport), offLport, 2},
		{"rport", unsafe.Offsetof(e.Rport), unsafe.Sizeof(e.Rport), offRport, 2},
		{"laddr", unsafe.Offsetof(e.Laddr), unsafe.Sizeof(e.Laddr), offLaddr, 16},
		{"raddr", unsafe.Offsetof(e.Raddr), unsafe.Sizeof(e.Raddr), offRaddr, 16},
		{"trace_id", unsafe.Offsetof(e.TraceId), unsafe.Sizeof(e.TraceId), offTraceID, 16},
		{"span_id", unsafe.Offsetof(e.SpanId), unsafe.Sizeof(e.SpanId), offSpanID, 8},
		{"signal", unsafe.Offsetof(e.Signal), unsafe.Sizeof(e.Signal), offSignal, 1},
		{"family", unsafe.Offsetof(e.Family), unsafe.Sizeof(e.Family), offFamily, 1},
		{"state", unsafe.Offsetof(e.State), unsafe.Sizeof(e.State), offState, 1},
		{"flags", unsafe.Offsetof(e.Flags), unsafe.Sizeof(e.Flags), offFlags, 1},
		{"aux", unsafe.Offsetof(e.Aux), unsafe.Sizeof(e.Aux), offAux, 4},
		{"payload_len", unsafe.Offsetof(e.PayloadLen), unsafe.Sizeof(e.PayloadLen), offPayloadLen, 2},
		{"_pad", unsafe.Offsetof(e.Pad), unsafe.Sizeof(e.Pad), offPayloadLen + 2, recSize - offPayloadLen - 2},
	}
	for _, f := range fields {
		if f.off != f.wantOff || f.size != f.wantSize {
			t.Errorf("struct event field %s: offset %d size %d in the generated type; the decoder reads offset %d size %d",
				f.name, f.off, f.size, f.wantOff, f.wantSize)
		}
	}
	// A field added to struct event is a field the decoder does not read.
	if n := countFields(reflect.TypeOf(e)); n != len(fields) {
		t.Errorf("struct event has %d fields, the decoder knows %d", n, len(fields))
	}
	if got := unsafe.Sizeof(e); got != recSize {
		t.Errorf("struct event is %d bytes, the decoder expects %d", got, recSize)
	}

	var d bpf.DnsDnsEvent
	if off := unsafe.Offsetof(d.Payload); off != recSize {
		t.Errorf("struct dns_event: payload at %d, the decoder reads it after the %d-byte record", off, recSize)
	}
	if n := len(d.Payload); n != dnsMax {
		t.Errorf("struct dns_event: payload of %d bytes, the decoder bounds it at %d (SLO_DNS_MAX)", n, dnsMax)
	}
}

// TestRecordLayoutPerObject checks that every object's copy of the boundary
// types has one layout: each signal's records are decoded with the same
// offsets, histograms are read as bpf.SchedHist from every object's maps,
// and connections are tagged with bpf.NetTraceTag in the shared map.
func TestRecordLayoutPerObject(t *testing.T) {
	// The generated copy of struct event of the object behind each kernel
	// signal.
	events := map[Signal]reflect.Type{
		RunqueueDelay:  reflect.TypeFor[bpf.SchedEvent](),
		TCPRetransmit:  reflect.TypeFor[bpf.NetEvent](),
		ConnectLatency: reflect.TypeFor[bpf.NetEvent](),
		DNSLatency:     reflect.TypeFor[bpf.DnsEvent](),
		MemReclaim:     reflect.TypeFor[bpf.MmEvent](),
		BlockIO:        reflect.TypeFor[bpf.BlkEvent](),
		SyscallLatency: reflect.TypeFor[bpf.SchedEvent](), // one object for both scheduler signals
	}
	want := layout(reflect.TypeFor[bpf.SchedEvent]())
	for _, sig := range AllSignals() {
		if !sig.kernel() {
			continue
		}
		typ, ok := events[sig]
		if !ok {
			t.Errorf("%s: no generated record type to check", sig)
			continue
		}
		if got := layout(typ); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s layout %v, want struct event's %v", sig, typ, got, want)
		}
	}
	if got := layout(reflect.TypeFor[bpf.DnsDnsEvent]().Field(1).Type); !reflect.DeepEqual(got, want) {
		t.Errorf("struct dns_event's record: layout %v, want %v", got, want)
	}

	hist := layout(reflect.TypeFor[bpf.SchedHist]())
	for _, typ := range []reflect.Type{reflect.TypeFor[bpf.MmHist](), reflect.TypeFor[bpf.BlkHist]()} {
		if got := layout(typ); !reflect.DeepEqual(got, hist) {
			t.Errorf("%s layout %v, want bpf.SchedHist's %v (histograms are read as bpf.SchedHist)", typ, got, hist)
		}
	}
	var h bpf.SchedHist
	if len(h.Slots) != len(Histogram{}.Buckets) {
		t.Errorf("struct hist has %d slots, Histogram %d buckets", len(h.Slots), len(Histogram{}.Buckets))
	}

	tag := layout(reflect.TypeFor[bpf.NetTraceTag]())
	for _, typ := range []reflect.Type{reflect.TypeFor[bpf.SchedTraceTag](), reflect.TypeFor[bpf.DnsTraceTag]()} {
		if got := layout(typ); !reflect.DeepEqual(got, tag) {
			t.Errorf("%s layout %v, want bpf.NetTraceTag's %v (tags are written as bpf.NetTraceTag)", typ, got, tag)
		}
	}
	var tt bpf.NetTraceTag
	if unsafe.Sizeof(tt.TraceId) != 16 || unsafe.Sizeof(tt.SpanId) != 8 || unsafe.Offsetof(tt.SpanId) != 16 {
		t.Errorf("struct trace_tag: trace_id %d bytes, span_id %d bytes at %d; TagConn writes 16 and 8 at 16",
			unsafe.Sizeof(tt.TraceId), unsafe.Sizeof(tt.SpanId), unsafe.Offsetof(tt.SpanId))
	}
}

// fieldLayout is one field's name, offset and size.
type fieldLayout struct {
	name      string
	off, size uintptr
}

// layout lists the fields of struct type typ (reflect's Offset is
// unsafe.Offsetof), without the blank structs.HostLayout marker.
func layout(typ reflect.Type) []fieldLayout {
	var out []fieldLayout
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "_" {
			continue
		}
		out = append(out, fieldLayout{f.Name, f.Offset, f.Type.Size()})
	}
	out = append(out, fieldLayout{"(size)", typ.Size(), 0})
	return out
}

// countFields counts the named fields of struct type typ.
func countFields(typ reflect.Type) int {
	n := 0
	for i := range typ.NumField() {
		if typ.Field(i).Name != "_" {
			n++
		}
	}
	return n
}
