package probes_test

import (
	"context"
	"fmt"
	"log"

	"github.com/llmslo/slo/probes"
)

// Start the DNS and TCP signals about this process and read their events.
func ExampleStart() {
	ctx := context.Background()
	set, err := probes.Start(ctx, probes.Config{
		Signals:  []probes.Signal{probes.DNSLatency, probes.TCPRetransmit, probes.GoSchedLatency},
		DNSPorts: []uint16{53},
	})
	if err != nil {
		log.Print(err) // no requested signal can work here
		return
	}
	defer set.Close()
	for _, st := range set.Status() {
		fmt.Println(st.Signal, st.State, st.Reason)
	}
	events, cancel := set.Subscribe(1024)
	defer cancel()
	for ev := range events {
		switch ev.Signal {
		case probes.DNSLatency:
			fmt.Println(ev.DNS.Name, ev.Duration, ev.DNS.Rcode, ev.DNS.Server)
		case probes.TCPRetransmit:
			fmt.Println(ev.Local, ev.Remote, ev.Cookie, ev.HasTrace)
		}
	}
}

// Stamp kernel events on a request's connection with its trace, in the
// kernel: the cookie is getsockopt(SO_COOKIE) on the connection's socket.
func ExampleSet_TagConn() {
	set, err := probes.Start(context.Background(), probes.Config{Signals: []probes.Signal{probes.TCPRetransmit}})
	if err != nil {
		log.Print(err)
		return
	}
	defer set.Close()
	var cookie uint64 // from unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_COOKIE)
	traceID := [16]byte{0x4b, 0xf9}
	spanID := [8]byte{0x00, 0xf0}
	if err := set.TagConn(cookie, traceID, spanID); err != nil {
		log.Print(err)
	}
	defer set.UntagConn(cookie)
}
