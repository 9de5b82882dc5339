package slo_test

import (
	"log/slog"
	"os"
	"time"

	"github.com/llmslo/slo"
	"github.com/llmslo/slo/incident"
)

// Incidents go to every sink given: here a log line, and PagerDuty, which
// resolves its incident once the burn-rate condition clears.
func ExampleWithIncidentSink() {
	pd, err := incident.NewPagerDutySink(os.Getenv("PAGERDUTY_ROUTING_KEY"), incident.PagerDutyOptions{})
	if err != nil {
		panic(err)
	}
	t, err := slo.New(
		slo.WithObjectives(slo.TTFT(500*time.Millisecond, 0.99)),
		slo.WithIncidentSink(incident.SlogSink(slog.Default()), pd),
	)
	if err != nil {
		panic(err)
	}
	defer t.Close()      // closes pd too
	pd.ResolveWith(t, 0) // the tracker is the incident.Monitor pd asks
}
