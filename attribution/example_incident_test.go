package attribution_test

import (
	"fmt"

	"github.com/llmslo/slo/attribution"
)

func ExampleAttributeIncident() {
	// A hand-made model (the lab fits real ones): contention shows in the
	// run queue, the retrieval backend in retrieval time; bins 0 | ≤100 | >100 ms.
	m, err := attribution.UnmarshalModel([]byte(`{"version":1,
		"bins":{"kernel.runqueue_ms":{"edges":[100]},"app.retrieval_ms":{"edges":[100]}},
		"prior":{"cpu_contention":0.7,"cpu_throttle":0.15,"retrieval_backend":0.15},
		"likelihood":{
			"cpu_contention":   {"kernel.runqueue_ms":[0.1,0.1,0.8],"app.retrieval_ms":[0.8,0.1,0.1]},
			"cpu_throttle":     {"kernel.runqueue_ms":[0.1,0.2,0.7],"app.retrieval_ms":[0.6,0.1,0.3]},
			"retrieval_backend":{"kernel.runqueue_ms":[0.8,0.1,0.1],"app.retrieval_ms":[0.1,0.1,0.8]}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Two bad requests of a burning window, each slow in the run queue and
	// in retrieval: two faults at once.
	var o attribution.Observation
	o.E2EMs = 900
	o.Set(attribution.KernRunqueueMs, 200)
	o.Set(attribution.AppRetrievalMs, 200)
	v := attribution.AttributeIncident([]attribution.Observation{o, o}, m)
	for _, h := range v.Ranked {
		fmt.Printf("%-17s %.2f\n", h.Domain, h.Posterior)
	}
	// Output:
	// cpu_contention    0.56
	// retrieval_backend 0.40
	// cpu_throttle      0.29
}
