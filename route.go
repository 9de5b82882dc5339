package slo

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
)

// route is a ServeMux pattern, "[METHOD ][HOST]/PATH", split into its parts.
type route struct{ method, host, path string }

// parseRoute splits a ServeMux pattern into its parts; ok is false when s is
// not one (empty, no path, blanks inside the path).
func parseRoute(s string) (r route, ok bool) {
	rest := s
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		r.method, rest = s[:i], strings.TrimLeft(s[i:], " \t")
		if r.method == "" {
			return route{}, false
		}
	}
	j := strings.IndexByte(rest, '/')
	if j < 0 || strings.ContainsAny(rest, " \t") {
		return route{}, false
	}
	r.host, r.path = rest[:j], rest[j:]
	return r, true
}

// matches reports whether the route an objective names (want, parsed from
// [Objective.ForRoute]) covers a request served under route got (its
// pattern, or normalizePath of its path) with the given method: the same
// path, and the same host and method where want gives them. A pattern
// without a method matches want's method through the request's.
func (want route) matches(got route, method string) bool {
	if want.path != got.path || want.host != "" && want.host != got.host {
		return false
	}
	return want.method == "" || want.method == got.method || got.method == "" && want.method == method
}

// The bounds of normalizePath.
const (
	maxRouteSegments = 4  // segments kept; deeper ones become one "{rest...}"
	maxRouteSegment  = 32 // longer segments become "{id}"
	// maxNormalizedRoute is the longest route normalizePath returns.
	maxNormalizedRoute = maxRouteSegments*(1+maxRouteSegment) + len("/{rest...}")
)

// normalizePath is the route of a request that no ServeMux pattern routed
// (docs/design.md §8): its URL path reduced to a bounded shape, so that
// identifiers in paths neither reach objectives, records and events as
// distinct routes nor grow without bound. A segment is kept when it is a
// word of at most 32 bytes (ASCII letters, '-', '_', '.') or a version
// ("v1", "v1beta2"); any other segment (numbers, UUIDs, hashes, long or
// non-ASCII names) becomes "{id}"; segments after the fourth become one
// "{rest...}"; empty segments are dropped, and the empty path is "/". The
// result is at most maxNormalizedRoute (146) bytes: /v1/chat/completions
// stays as it is, /v1/files/file-3f2a9c0e/content becomes
// /v1/files/{id}/content. Words are kept, so the number of distinct routes
// is bounded only by the paths the service answers; a limit on their
// number wraps this function.
func normalizePath(path string) string {
	var buf [maxNormalizedRoute]byte
	b := buf[:0]
	n := 0
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" {
			continue
		}
		if n == maxRouteSegments {
			b = append(b, "/{rest...}"...)
			break
		}
		n++
		b = append(b, '/')
		if routeWord(seg) {
			b = append(b, seg...)
		} else {
			b = append(b, "{id}"...)
		}
	}
	if len(b) == 0 {
		return "/"
	}
	if string(b) == path {
		return path // unchanged: no allocation
	}
	return string(b)
}

// routeWord reports whether seg is kept by normalizePath: a word of ASCII
// letters, '-', '_' and '.', or a version such as v1 or v1beta2.
func routeWord(seg string) bool {
	if len(seg) > maxRouteSegment {
		return false
	}
	digits := 0
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_', c == '.':
		case c >= '0' && c <= '9':
			digits++
		default:
			return false
		}
	}
	return digits == 0 || isVersion(seg)
}

// isVersion reports whether seg is an API version: 'v', digits, and
// optionally a word of letters and digits (v1, v2, v1beta, v1beta2).
func isVersion(seg string) bool {
	if len(seg) < 2 || seg[0] != 'v' || seg[1] < '0' || seg[1] > '9' {
		return false
	}
	i := 1
	for i < len(seg) && seg[i] >= '0' && seg[i] <= '9' {
		i++
	}
	for ; i < len(seg); i++ {
		if c := seg[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// requestRoute is the route of a request Instrument served: the pattern of
// the ServeMux that routed it to Instrument (pattern, read on entry), else
// the pattern of a ServeMux inside Instrument (inner.Pattern, read after
// it served), else normalizePath of the URL path.
func requestRoute(pattern string, inner *http.Request) string {
	switch {
	case pattern != "":
		return pattern
	case inner.Pattern != "":
		return inner.Pattern
	}
	return normalizePath(inner.URL.Path)
}

// unmatchedAfter is the number of requests after which an objective narrowed
// by ForRoute or ForModel that applied to none of them is reported.
const unmatchedAfter = 1000

// objFilter is what narrows one objective ([Objective.ForRoute],
// [Objective.ForModel]), parsed once, and whether it ever applied.
type objFilter struct {
	routes  []route
	models  []string
	tenants []string
	applied atomic.Bool
}

// newFilters returns the filters of objs, in their order.
func newFilters(objs []Objective) []objFilter {
	fs := make([]objFilter, len(objs))
	for i, o := range objs {
		for _, r := range o.routes {
			p, _ := parseRoute(r) // validated by New
			fs[i].routes = append(fs[i].routes, p)
		}
		fs[i].models, fs[i].tenants = o.models, o.tenants
	}
	return fs
}

// applies reports whether the objective covers a request served under
// route got with the given method, model and tenant, and notes that it
// applied.
func (f *objFilter) applies(got route, method, model, tenant string) bool {
	if len(f.routes) > 0 {
		found := false
		for _, want := range f.routes {
			if want.matches(got, method) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(f.models) > 0 && !slices.Contains(f.models, model) {
		return false
	}
	if len(f.tenants) > 0 && !slices.Contains(f.tenants, tenant) {
		return false
	}
	if !f.applied.Load() {
		f.applied.Store(true)
	}
	return true
}

// reportUnmatched reports, once the tracker has served unmatchedAfter
// requests, each objective narrowed by ForRoute or ForModel that applied to
// none of them: a route or model that is never served (a typo, a pattern
// spelled otherwise) would otherwise judge nothing in silence. s is the
// last request, whose route and model the report shows.
func (t *Tracker) reportUnmatched(s *sli) {
	for i := range t.filters {
		f := &t.filters[i]
		if len(f.routes) == 0 && len(f.models) == 0 && len(f.tenants) == 0 || f.applied.Load() {
			continue
		}
		o := t.objs[i].obj
		filters, last := fmt.Sprintf("ForRoute %q, ForModel %q", o.routes, o.models), fmt.Sprintf("route %q, method %s, model %q", s.route, s.method, s.model)
		if len(o.tenants) > 0 {
			filters += fmt.Sprintf(", ForTenant %q", o.tenants)
			last += fmt.Sprintf(", tenant %q", s.tenant)
		}
		err := fmt.Errorf("slo: objective %s applied to none of the first %d requests (%s; the last request: %s)", o.Name(), unmatchedAfter, filters, last)
		t.cfg.logger.Warn(err.Error())
		t.cfg.errorHandler(err)
	}
}
