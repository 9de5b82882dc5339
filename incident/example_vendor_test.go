package incident_test

import (
	"io"
	"net/http"
	"os"
	"time"

	"github.com/llmslo/slo/incident"
)

func ExampleNewWebhookSink() {
	hook, err := incident.NewWebhookSink("https://alerts.example.com/llmslo", incident.WebhookOptions{
		Secret:   []byte(os.Getenv("LLMSLO_WEBHOOK_SECRET")),
		Delivery: incident.Delivery{Attempts: 3},
	})
	if err != nil {
		panic(err)
	}
	_ = hook // slo.New(..., slo.WithIncidentSink(hook)); the tracker's Close closes it
}

// The receiving side checks the signature before trusting the body.
func ExampleVerifyWebhook() {
	secret := []byte(os.Getenv("LLMSLO_WEBHOOK_SECRET"))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /llmslo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		if err := incident.VerifyWebhook(secret, r.Header.Get("X-Llmslo-Signature"), body, 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// body is an incident.Incident in JSON.
	})
	_ = http.ListenAndServe("127.0.0.1:9094", mux)
}

func ExampleNewPagerDutySink() {
	pd, err := incident.NewPagerDutySink(os.Getenv("PAGERDUTY_ROUTING_KEY"), incident.PagerDutyOptions{})
	if err != nil {
		panic(err)
	}
	// Give pd to slo.WithIncidentSink, then pd.ResolveWith(tracker, 0) to
	// resolve in PagerDuty when the burn-rate condition clears.
	_ = pd
}

func ExampleNewOpsgenieSink() {
	og, err := incident.NewOpsgenieSink(os.Getenv("OPSGENIE_API_KEY"), incident.OpsgenieOptions{URL: "https://api.eu.opsgenie.com"})
	if err != nil {
		panic(err)
	}
	// Give og to slo.WithIncidentSink, then og.ResolveWith(tracker, 0) to
	// close the alert when the burn-rate condition clears.
	_ = og
}
