package probes_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/llmslo/slo/probes"
)

// An unprivileged process gets kernel signals from the slo-sidecar when it
// cannot load BPF itself; Path says which path it is on.
func ExampleSet_Path() {
	set, err := probes.Start(context.Background(), probes.Config{
		Signals:       []probes.Signal{probes.DNSLatency, probes.TCPRetransmit, probes.PSI},
		SidecarSocket: "/run/llmslo/sidecar.sock", // or $SLO_SIDECAR_SOCKET
		Logger:        slog.Default(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer set.Close()
	fmt.Println("kernel signals:", set.Path()) // in_process, sidecar or floor
	for _, st := range set.Status() {
		fmt.Println(st.Signal, st.State, st.Reason)
	}
}
