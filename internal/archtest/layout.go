package archtest

import "slices"

// Module is the module path the table's relative paths are under.
const Module = "github.com/llmslo/slo"

// Kind says who may import a package, and whether it may use the OTel SDK.
type Kind uint8

// The kinds of package.
const (
	// Library code is imported as the rows allow. It never imports the
	// OpenTelemetry SDK, a Support or a TestOnly package, and (outside the
	// root) never the root.
	Library Kind = iota
	// Support packages (the fault injectors, benchstat, the fake provider)
	// are imported only by tests and programs.
	Support
	// TestOnly packages are imported only by _test.go files.
	TestOnly
	// Program is a main package, an example or a test-only package of
	// manifests: it may import the root, any package but a TestOnly one (as
	// its row allows), and the OpenTelemetry SDK.
	Program
)

// String returns the kind's name as docs/design.md §2 writes it.
func (k Kind) String() string {
	switch k {
	case Library:
		return "library"
	case Support:
		return "support"
	case TestOnly:
		return "test-only"
	case Program:
		return "program"
	}
	return "unknown"
}

// Row is one row of the layout table.
type Row struct {
	// Path is module-relative: "." is the root package, and a "/..."
	// suffix makes the row cover the subtree.
	Path string
	// Kind says who may import the package.
	Kind Kind
	// May lists the module packages its non-test code may import, as
	// patterns like Path; "*" means any package (a program's row).
	May []string
	// EBPF allows importing github.com/cilium/ebpf.
	EBPF bool
}

// layout is the table of docs/design.md §2; TestLayoutMatchesDesign keeps
// the two equal.
var layout = []Row{
	{Path: "semconv"},
	{Path: "schemas"},
	{Path: "internal/bpf", EBPF: true},
	{Path: "internal/stream", May: []string{"semconv"}},
	{Path: "internal/burn"},
	{Path: "internal/webhook"},
	{Path: "internal/promapi"},
	{Path: "internal/monoclock"},
	{Path: "probes", May: []string{"internal/bpf", "internal/monoclock", "probes/internal/cgroupfs", "probes/internal/wire", "semconv"}, EBPF: true},
	{Path: "probes/internal/cgroupfs"},
	{Path: "probes/internal/wire"},
	{Path: "probes/sidecar", May: []string{"probes", "probes/internal/cgroupfs", "probes/internal/wire", "internal/bpf", "internal/monoclock"}, EBPF: true},
	{Path: "correlate", May: []string{"probes", "semconv", "internal/monoclock"}},
	{Path: "attribution", May: []string{"correlate", "probes", "semconv"}},
	{Path: "incident", May: []string{"internal/webhook", "semconv"}},
	{Path: ".", May: []string{"semconv", "internal/stream", "internal/burn", "internal/promapi", "probes", "correlate", "attribution", "incident"}},
	{Path: "faults", Kind: Support, May: []string{"semconv"}},
	{Path: "benchstat", Kind: Support},
	{Path: "internal/providertest", Kind: Support},
	{Path: "internal/testutil", Kind: TestOnly, EBPF: true},
	{Path: "internal/promtest", Kind: TestOnly, May: []string{"internal/promapi"}},
	{Path: "internal/archtest"},
	{Path: "cmd/slo-sidecar", Kind: Program, May: []string{"probes", "probes/sidecar"}},
	{Path: "cmd/slo-lab/...", Kind: Program, May: []string{"*"}},
	{Path: "internal/cmd/...", Kind: Program, May: []string{"*"}},
	{Path: "examples/...", Kind: Program, May: []string{"*"}},
}

// Layout returns a copy of the module's layout table (docs/design.md §2).
func Layout() []Row {
	out := slices.Clone(layout)
	for i := range out {
		out[i].May = slices.Clone(out[i].May)
	}
	return out
}
