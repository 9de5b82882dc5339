package correlate

// The connection registry: which request owned which connection (by socket
// cookie or 4-tuple) when, and the destination, host and name indexes the
// lower tiers search.

import (
	"net/netip"
	"strings"
)

type ownKind uint8

const (
	ownConn ownKind = iota
	ownDial
	ownLookup
)

type ownership struct {
	req      RequestID
	from, to int64
	kind     ownKind
}

type connRec struct {
	cookie   uint64
	tuple    tupleKey
	hasTuple bool
	own      [4]ownership
	pos, n   uint8
	used     bool
}

// firstFrom is the start of the earliest ownership kept.
func (rec *connRec) firstFrom() int64 {
	f := int64(forever)
	for _, o := range rec.own[:rec.n] {
		f = min(f, o.from)
	}
	return f
}

type tupleKey struct{ local, remote netip.AddrPort }

// Acquire registers that request id owns connection c from mono on (until
// [Joiner.Release]).
func (j *Joiner) Acquire(id RequestID, c Conn, mono int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.req(id)
	if r == nil {
		return
	}
	j.tick(mono)
	ci := j.connFor(c, true)
	if ci < 0 {
		j.stats.Refused++
		return
	}
	rec := &j.conns[ci]
	// A new owner ends the previous ownership.
	if rec.n > 0 {
		last := &rec.own[(int(rec.pos)+len(rec.own)-1)%len(rec.own)]
		if last.to == forever {
			last.to = mono
		}
	}
	rec.own[rec.pos] = ownership{req: id, from: mono, to: forever, kind: ownConn}
	rec.pos = (rec.pos + 1) % uint8(len(rec.own))
	rec.n = min(rec.n+1, uint8(len(rec.own)))
	if c.Remote.IsValid() {
		j.dests.note(c.Remote, ownership{req: id, from: mono, to: forever, kind: ownConn}, j.now, j.cfg.OuterWindow, &j.stats)
		j.hosts.note(c.Remote.Addr(), ownership{req: id, from: mono, to: forever, kind: ownConn}, j.now, j.cfg.OuterWindow, &j.stats)
	}
	j.rescan()
}

// Release ends the current ownership of connection c at mono.
func (j *Joiner) Release(c Conn, mono int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tick(mono)
	ci := j.connFor(c, false)
	if ci < 0 {
		return
	}
	rec := &j.conns[ci]
	var owner RequestID
	for i := range rec.own[:rec.n] {
		if rec.own[i].to == forever {
			rec.own[i].to = mono
			owner = rec.own[i].req
		}
	}
	if owner != 0 && c.Remote.IsValid() {
		j.dests.release(c.Remote, owner, mono)
		j.hosts.release(c.Remote.Addr(), owner, mono)
	}
}

// connFor finds (or with create, makes) the record of c; -1 when none.
func (j *Joiner) connFor(c Conn, create bool) int {
	tk := tupleKey{c.Local, c.Remote}
	hasTuple := c.Local.IsValid() && c.Remote.IsValid()
	if c.Cookie != 0 {
		if i, ok := j.byCookie[c.Cookie]; ok {
			return int(i)
		}
	} else if hasTuple {
		if i, ok := j.byTuple[tk]; ok {
			return int(i)
		}
	}
	if !create || (c.Cookie == 0 && !hasTuple) {
		return -1
	}
	// Amortised sweep of stale records.
	for range 2 {
		j.sweepConn()
	}
	var i int
	switch {
	case len(j.connFree) > 0:
		i = int(j.connFree[len(j.connFree)-1])
		j.connFree = j.connFree[:len(j.connFree)-1]
	case len(j.conns) < j.cfg.MaxConns:
		j.conns = append(j.conns, connRec{})
		i = len(j.conns) - 1
	default:
		i = j.evictConn()
		if i < 0 {
			return -1
		}
	}
	j.conns[i] = connRec{cookie: c.Cookie, tuple: tk, hasTuple: hasTuple, used: true}
	if c.Cookie != 0 {
		j.byCookie[c.Cookie] = int32(i)
	}
	if hasTuple {
		j.byTuple[tk] = int32(i)
	}
	return i
}

// stale reports whether rec has no ownership within the outer window.
func (j *Joiner) staleConn(rec *connRec) bool {
	horizon := j.now - int64(j.cfg.OuterWindow)
	for _, o := range rec.own[:rec.n] {
		if o.to == forever {
			if r := j.req(o.req); r != nil && (r.state == stLive || r.end >= horizon) {
				return false
			}
			continue
		}
		if o.to >= horizon {
			return false
		}
	}
	return true
}

func (j *Joiner) dropConn(i int) {
	rec := &j.conns[i]
	if rec.cookie != 0 && j.byCookie[rec.cookie] == int32(i) {
		delete(j.byCookie, rec.cookie)
	}
	if rec.hasTuple && j.byTuple[rec.tuple] == int32(i) {
		delete(j.byTuple, rec.tuple)
	}
	*rec = connRec{}
}

func (j *Joiner) sweepConn() {
	if len(j.conns) == 0 {
		return
	}
	j.connHand = (j.connHand + 1) % len(j.conns)
	rec := &j.conns[j.connHand]
	if rec.used && j.staleConn(rec) {
		j.dropConn(j.connHand)
		j.connFree = append(j.connFree, int32(j.connHand))
	}
}

// evictConn frees a stale record, or the next one the hand meets after 64
// tries; it returns its index.
func (j *Joiner) evictConn() int {
	for range 64 {
		j.connHand = (j.connHand + 1) % len(j.conns)
		if rec := &j.conns[j.connHand]; rec.used && j.staleConn(rec) {
			j.dropConn(j.connHand)
			return j.connHand
		}
	}
	j.connHand = (j.connHand + 1) % len(j.conns)
	j.dropConn(j.connHand)
	j.stats.Evicted++
	return j.connHand
}

// Lookup registers a DNS lookup of host made for request id between from
// and to (httptrace DNSStart and DNSDone).
func (j *Joiner) Lookup(id RequestID, host string, from, to int64) {
	host = normName(host)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.req(id) == nil || host == "" {
		return
	}
	j.tick(to)
	j.names.note(host, ownership{req: id, from: from, to: to, kind: ownLookup}, j.now, j.cfg.OuterWindow, &j.stats)
	j.rescan()
}

// Dial registers a TCP connect to remote made for request id between from
// and to (httptrace ConnectStart and ConnectDone).
func (j *Joiner) Dial(id RequestID, remote netip.AddrPort, from, to int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.req(id) == nil || !remote.IsValid() {
		return
	}
	j.tick(to)
	j.dests.note(remote, ownership{req: id, from: from, to: to, kind: ownDial}, j.now, j.cfg.OuterWindow, &j.stats)
	j.rescan()
}

func normName(s string) string {
	s = strings.TrimSuffix(s, ".")
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
