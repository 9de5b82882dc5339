package sidecar_test

import (
	"fmt"

	"github.com/llmslo/slo/probes/sidecar"
)

// The capabilities a manifest grants the sidecar container
// (securityContext.capabilities.add), everything else dropped.
func ExampleCapabilities() {
	fmt.Println(sidecar.Capabilities())
	// Output: [BPF PERFMON SYS_RESOURCE NET_ADMIN]
}
