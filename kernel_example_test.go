package slo_test

import (
	"fmt"
	"time"

	slo "github.com/llmslo/slo"
	"github.com/llmslo/slo/probes"
)

// Kernel probes are on by default where they can load. WithProbes narrows
// them to the signals wanted; Status says per signal which path is in use.
func ExampleWithProbes() {
	t, err := slo.New(
		slo.WithObjectives(slo.TTFT(500*time.Millisecond, 0.99)),
		slo.WithProbes(probes.Config{Signals: []probes.Signal{probes.TCPRetransmit, probes.DNSLatency, probes.RunqueueDelay}}),
	)
	if err != nil {
		panic(err)
	}
	defer t.Close()
	for _, s := range t.Status().Signals {
		fmt.Println(s.Signal, s.Path, s.Reason)
	}
}

// WithoutProbes keeps the tracker to what the request's own client calls
// measure (httptrace), marked on spans with the httptrace tier and the floor
// path.
func ExampleWithoutProbes() {
	t, err := slo.New(slo.WithoutProbes())
	if err != nil {
		panic(err)
	}
	defer t.Close()
}
