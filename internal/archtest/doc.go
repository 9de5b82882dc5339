// Package archtest checks the module's import rules — the layout table of
// docs/design.md §2 — against the package graph that `go list` reports. Its
// test runs under `make test`, so a package that imports against the
// layering fails the build.
//
// [Layout] is the table as data. [Load] reads the module's package graph,
// once per GOOS/GOARCH pair of [Platforms] so that files built only on
// another platform count too. [Check] is a pure function from a graph and a
// table to the [Violation] values: sub-packages importing the root, a
// package importing outside its row, library code importing the OTel SDK,
// the fault injectors, benchstat or a test-only package, github.com/cilium/ebpf
// outside the packages that load BPF, and packages the table lacks.
//
// The compiler already enforces that internal/ packages are imported only
// from inside their parent; the table narrows that further.
package archtest
