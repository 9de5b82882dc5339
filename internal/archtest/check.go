package archtest

import (
	"cmp"
	"slices"
	"strings"
)

// Package is one package of the graph, by full import path.
type Package struct {
	// Path is the import path.
	Path string
	// Imports are the import paths of its non-test files.
	Imports []string
	// TestImports are those of its _test.go files, internal and external.
	TestImports []string
	// Error is what go list reported about the package, if anything.
	Error string
}

// Violation is one import against the rules, or a package the table lacks.
type Violation struct {
	// Pkg is the module-relative path of the offending package.
	Pkg string
	// Import is what it imports: module-relative inside the module, the
	// full path outside; empty for a violation of the package itself.
	Import string
	// Test is set when the import is in _test.go files.
	Test bool
	// Rule says which rule is broken.
	Rule string
}

// Key identifies the violation without its rule: "pkg -> import",
// "pkg -(test)-> import", or "pkg".
func (v Violation) Key() string {
	switch {
	case v.Import == "":
		return v.Pkg
	case v.Test:
		return v.Pkg + " -(test)-> " + v.Import
	}
	return v.Pkg + " -> " + v.Import
}

// String returns the key and the rule.
func (v Violation) String() string { return v.Key() + ": " + v.Rule }

const (
	ebpfModule = "github.com/cilium/ebpf"
	otelSDK    = "go.opentelemetry.io/otel/sdk"
)

// Check returns, sorted by key, every violation of rows in pkgs; packages
// outside [Module] are ignored.
func Check(pkgs []Package, rows []Row) []Violation {
	var out []Violation
	for _, p := range pkgs {
		rel, ok := relative(p.Path)
		if !ok {
			continue
		}
		if p.Error != "" {
			out = append(out, Violation{Pkg: rel, Rule: "go list: " + p.Error})
		}
		r := lookup(rows, rel)
		if r == nil {
			out = append(out, Violation{Pkg: rel, Rule: "not in the layout table (docs/design.md §2)"})
			continue
		}
		for _, imp := range p.Imports {
			if rule := checkImport(rows, rel, r, imp); rule != "" {
				out = append(out, Violation{Pkg: rel, Import: shorten(imp), Rule: rule})
			}
		}
		for _, imp := range p.TestImports {
			if imp == p.Path {
				continue // an external test of the package itself
			}
			if rule := checkTestImport(rel, r, imp); rule != "" {
				out = append(out, Violation{Pkg: rel, Import: shorten(imp), Test: true, Rule: rule})
			}
		}
	}
	slices.SortFunc(out, func(a, b Violation) int { return cmp.Compare(a.Key(), b.Key()) })
	return slices.CompactFunc(out, func(a, b Violation) bool { return a.Key() == b.Key() })
}

// checkImport returns the rule a non-test import imp of package rel (row r)
// breaks, or "".
func checkImport(rows []Row, rel string, r *Row, imp string) string {
	to, inModule := relative(imp)
	if !inModule {
		return checkExternal(r, imp, false)
	}
	if to == "." && rel != "." && r.Kind != Program {
		return "sub-packages never import the root"
	}
	if tr := lookup(rows, to); tr != nil {
		switch {
		case tr.Kind == TestOnly:
			return tr.Path + " is imported only by _test.go files"
		case tr.Kind == Support && r.Kind != Program:
			return tr.Path + " is imported only by tests and programs"
		}
	}
	if !matchesAny(r.May, to) {
		return "not in the row of " + r.Path + " (docs/design.md §2)"
	}
	return ""
}

// checkTestImport returns the rule an import imp of the _test.go files of
// package rel (row r) breaks, or "". Tests may import any package of the
// module below the root, and the OTel SDK.
func checkTestImport(rel string, r *Row, imp string) string {
	to, inModule := relative(imp)
	if !inModule {
		return checkExternal(r, imp, true)
	}
	if to == "." && rel != "." && r.Kind != Program {
		return "sub-packages never import the root, in tests neither"
	}
	return ""
}

// checkExternal returns the rule an import of a package outside the module
// breaks, or "".
func checkExternal(r *Row, imp string, test bool) string {
	switch {
	case within(imp, ebpfModule) && !r.EBPF:
		return ebpfModule + " only from the rows that load BPF (docs/design.md §2)"
	case within(imp, otelSDK) && !test && r.Kind != Program:
		return "library code never imports the OpenTelemetry SDK"
	}
	return ""
}

// relative returns path relative to [Module] ("." for the module itself)
// and whether it is inside the module.
func relative(path string) (string, bool) {
	if path == Module {
		return ".", true
	}
	rest, ok := strings.CutPrefix(path, Module+"/")
	return rest, ok
}

// shorten returns path module-relative when it is inside the module.
func shorten(path string) string {
	if rel, ok := relative(path); ok {
		return rel
	}
	return path
}

// within reports whether path is the package or module root or below it.
func within(path, root string) bool {
	return path == root || strings.HasPrefix(path, root+"/")
}

// match reports whether the module-relative path rel matches pattern: "*"
// matches everything, "x/..." matches x and the packages below it, anything
// else only itself.
func match(pattern, rel string) bool {
	if pattern == "*" {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return within(rel, base)
	}
	return rel == pattern
}

func matchesAny(patterns []string, rel string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, rel) })
}

// lookup returns the row for rel: the most specific row whose Path matches
// it (the longest; a package's own row before its parent's subtree row), or
// nil.
func lookup(rows []Row, rel string) *Row {
	var best *Row
	bestScore := -1
	for i := range rows {
		if !match(rows[i].Path, rel) {
			continue
		}
		score := 2*len(rows[i].Path) + 1
		if base, ok := strings.CutSuffix(rows[i].Path, "/..."); ok {
			score = 2 * len(base)
		}
		if score > bestScore {
			best, bestScore = &rows[i], score
		}
	}
	return best
}
