package archtest

import (
	"slices"
	"testing"
)

// pkg builds a synthetic package of the module from relative paths.
func pkg(rel string, imports []string, testImports ...string) Package {
	abs := func(ps []string) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			switch {
			case p == ".":
				out[i] = Module
			case hasDot(p):
				out[i] = p
			default:
				out[i] = Module + "/" + p
			}
		}
		return out
	}
	path := Module
	if rel != "." {
		path = Module + "/" + rel
	}
	return Package{Path: path, Imports: abs(imports), TestImports: abs(testImports)}
}

// hasDot reports whether the first element of p has a dot (a path outside
// the module, like github.com/...).
func hasDot(p string) bool {
	for _, c := range p {
		switch c {
		case '.':
			return true
		case '/':
			return false
		}
	}
	return false
}

// TestCheck runs Check over synthetic graphs, each breaking one rule of the
// module's table (or none), and compares the violations' keys.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkgs []Package
		want []string
	}{
		{"clean layering", []Package{
			pkg(".", []string{"semconv", "probes", "correlate", "attribution", "incident", "internal/burn", "internal/stream", "go.opentelemetry.io/otel/trace"},
				"internal/testutil", "faults", "go.opentelemetry.io/otel/sdk/trace"),
			pkg("probes", []string{"internal/bpf", "probes/internal/wire", "github.com/cilium/ebpf/link"}, "benchstat", "github.com/cilium/ebpf"),
			pkg("correlate", []string{"probes", "semconv"}, "faults"),
			pkg("incident", []string{"internal/webhook", "semconv"}),
			pkg("cmd/slo-lab", []string{".", "faults", "benchstat", "cmd/slo-lab/internal/lab", "go.opentelemetry.io/otel/sdk/trace"}),
			pkg("examples/rag-service", []string{".", "faults"}, "."),
			pkg("internal/testutil", []string{"github.com/cilium/ebpf/features"}),
		}, nil},
		{"sub-package imports the root", []Package{pkg("correlate", []string{"."})}, []string{"correlate -> ."}},
		{"incident imports the root", []Package{pkg("incident", []string{"."})}, []string{"incident -> ."}},
		{"sub-package test imports the root", []Package{pkg("attribution", nil, ".")}, []string{"attribution -(test)-> ."}},
		{"semconv imports the module", []Package{pkg("semconv", []string{"probes"})}, []string{"semconv -> probes"}},
		{"lower layer imports a higher one", []Package{pkg("probes", []string{"correlate"})}, []string{"probes -> correlate"}},
		{"attribution imports the tracker's alert engine", []Package{pkg("attribution", []string{"internal/burn"})}, []string{"attribution -> internal/burn"}},
		{"root imports internal/bpf", []Package{pkg(".", []string{"internal/bpf"})}, []string{". -> internal/bpf"}},
		{"cilium/ebpf outside probes", []Package{pkg("correlate", []string{"github.com/cilium/ebpf/ringbuf"})}, []string{"correlate -> github.com/cilium/ebpf/ringbuf"}},
		{"cilium/ebpf in a test outside probes", []Package{pkg(".", nil, "github.com/cilium/ebpf")}, []string{". -(test)-> github.com/cilium/ebpf"}},
		{"library imports the OTel SDK", []Package{pkg(".", []string{"go.opentelemetry.io/otel/sdk/metric"})}, []string{". -> go.opentelemetry.io/otel/sdk/metric"}},
		{"library imports faults", []Package{pkg(".", []string{"faults"})}, []string{". -> faults"}},
		{"library imports benchstat", []Package{pkg("probes", []string{"benchstat"})}, []string{"probes -> benchstat"}},
		{"support imports support", []Package{pkg("faults", []string{"benchstat"})}, []string{"faults -> benchstat"}},
		{"program imports testutil", []Package{pkg("cmd/slo-lab", []string{"internal/testutil"})}, []string{"cmd/slo-lab -> internal/testutil"}},
		{"sidecar binary outside its row", []Package{pkg("cmd/slo-sidecar", []string{"correlate"})}, []string{"cmd/slo-sidecar -> correlate"}},
		{"package not in the table", []Package{pkg("correlate/registry", nil)}, []string{"correlate/registry"}},
		{"go list error", []Package{{Path: Module + "/semconv", Error: "import cycle not allowed"}}, []string{"semconv"}},
		{"packages outside the module are ignored", []Package{{Path: "example.com/other", Imports: []string{Module}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range Check(tc.pkgs, Layout()) {
				got = append(got, v.Key())
				if v.Rule == "" {
					t.Errorf("%s: no rule given", v.Key())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLookup checks that the most specific row wins.
func TestLookup(t *testing.T) {
	rows := []Row{{Path: "."}, {Path: "probes"}, {Path: "probes/..."}, {Path: "probes/sidecar"}}
	for rel, want := range map[string]string{
		".": ".", "probes": "probes", "probes/sidecar": "probes/sidecar",
		"probes/internal/wire": "probes/...", "probesx": "", "correlate": "",
	} {
		got := ""
		if r := lookup(rows, rel); r != nil {
			got = r.Path
		}
		if got != want {
			t.Errorf("lookup(%q) = %q, want %q", rel, got, want)
		}
	}
}

// TestLayoutRows checks the table itself: no row twice, and every pattern
// in a May list names a row.
func TestLayoutRows(t *testing.T) {
	rows := Layout()
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Path] {
			t.Errorf("row %q twice", r.Path)
		}
		seen[r.Path] = true
	}
	for _, r := range rows {
		for _, m := range r.May {
			if m != "*" && !seen[m] {
				t.Errorf("row %q may import %q, which is no row", r.Path, m)
			}
		}
	}
}
