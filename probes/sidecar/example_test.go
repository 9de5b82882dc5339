//go:build linux

package sidecar_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/sidecar"
)

// The privileged side: load the probes for every process and serve each
// client the events of its own cgroup.
func ExampleNewServer() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	set, err := probes.Start(ctx, probes.Config{
		AllProcesses: true,
		Signals:      []probes.Signal{probes.DNSLatency, probes.TCPRetransmit, probes.ConnectLatency},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer set.Close()
	srv, err := sidecar.NewServer(set, sidecar.Config{
		Socket: probes.DefaultSidecarSocket, // mode 0660
		Group:  "10001",                     // the clients' group
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Serve(ctx); err != nil {
		log.Print(err)
	}
}
