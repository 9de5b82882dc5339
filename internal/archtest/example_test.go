package archtest_test

import (
	"fmt"

	"github.com/llmslo/slo/internal/archtest"
)

// Check over a two-package graph in which correlate imports the root.
func ExampleCheck() {
	graph := []archtest.Package{
		{Path: archtest.Module, Imports: []string{archtest.Module + "/correlate"}},
		{Path: archtest.Module + "/correlate", Imports: []string{archtest.Module, archtest.Module + "/probes"}},
	}
	for _, v := range archtest.Check(graph, archtest.Layout()) {
		fmt.Println(v)
	}
	// Output:
	// correlate -> .: sub-packages never import the root
}
