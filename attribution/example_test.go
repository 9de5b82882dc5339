package attribution_test

import (
	"fmt"

	"github.com/llmslo/slo/attribution"
)

func ExampleAttribute() {
	var o attribution.Observation
	o.E2EMs = 900
	o.Set(attribution.KernDNSMs, 600) // the kernel saw a 600 ms DNS answer
	o.Set(attribution.AppProviderTTFBMs, 50)
	v := attribution.Attribute(o, nil) // no fitted model: the latency budget decides
	fmt.Printf("%s %.2f\n", v.Top, v.Confidence)
	for _, h := range v.Ranked {
		fmt.Printf("  %-16s %.2f %4.0f ms %v\n", h.Domain, h.Posterior, h.ExplainedMs, h.Evidence)
	}
	// Output:
	// network_dns 0.67
	//   network_dns      0.67  600 ms [kernel.dns_ms]
	//   unknown          0.33  300 ms []
}
