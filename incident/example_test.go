package incident_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/llmslo/slo/incident"
)

// sample is an incident as a tracker raises it.
var sample = incident.Incident{
	ID: "inc-20261126T120000Z-0a1b2c3d4e5f", Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
	Service: "chat", Objective: "ttft_500ms_p99", Severity: incident.SeverityPage, Rule: "6h>6 and 30m>6",
	PredictedFaultDomain: "network_dns", Confidence: 0.91,
	Impact:   incident.Impact{SLI: "ttft_ms", BurnRate: 7.5, WindowMinutes: 360},
	TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736"},
}

// A SinkFunc turns a function into a sink; give it to slo.WithIncidentSink.
func ExampleSinkFunc() {
	var s incident.Sink = incident.SinkFunc(func(_ context.Context, inc incident.Incident) error {
		fmt.Printf("%s: %s %q burns %.1fx over %.0f min; likely %s (%.2f)\n", inc.Severity, inc.Objective, inc.Rule,
			inc.Impact.BurnRate, inc.Impact.WindowMinutes, inc.PredictedFaultDomain, inc.Confidence)
		fmt.Printf("condition: %+v\n", inc.Condition())
		return nil
	})
	_ = s.Send(context.Background(), sample)
	// Output:
	// page: ttft_500ms_p99 "6h>6 and 30m>6" burns 7.5x over 360 min; likely network_dns (0.91)
	// condition: {Service:chat Objective:ttft_500ms_p99 Rule:6h>6 and 30m>6}
}

func ExampleSlogSink() {
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	_ = incident.SlogSink(logger).Send(context.Background(), sample)
	// Output:
	// level=ERROR msg="slo incident" incident_id=inc-20261126T120000Z-0a1b2c3d4e5f objective=ttft_500ms_p99 severity=page rule="6h>6 and 30m>6" burn_rate=7.5 predicted_fault_domain=network_dns confidence=0.91 trace_ids=[4bf92f3577b34da6a3ce929d0e0e4736]
}
