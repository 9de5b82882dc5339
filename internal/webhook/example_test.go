package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/llmslo/slo/internal/webhook"
)

func ExampleNew() {
	secret := []byte("shared-secret")
	// A receiver that checks the signature.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0)
		fmt.Printf("received %s, verify: %v\n", body, err)
	}))
	defer srv.Close()

	s, err := webhook.New(webhook.Config{URL: srv.URL, Secret: secret})
	if err != nil {
		fmt.Println(err)
		return
	}
	s.Enqueue([]byte(`{"incident_id":"inc-1","predicted_fault_domain":"network_dns"}`)) // never blocks

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil { // delivers what is queued, then stops
		fmt.Println(err)
	}
	fmt.Printf("%+v\n", s.Stats())
	// Output:
	// received {"incident_id":"inc-1","predicted_fault_domain":"network_dns"}, verify: <nil>
	// {Delivered:1 Dropped:0 Failed:0 Retries:0 Pending:0}
}

func ExampleVerify() {
	secret := []byte("shared-secret")
	body := []byte(`{"incident_id":"inc-1"}`)
	sent := time.Unix(1_800_000_000, 0)
	header := webhook.Sign(secret, sent, body) // what the Sender puts in X-Llmslo-Signature

	fmt.Println(webhook.Verify(secret, header, body, sent.Add(30*time.Second), time.Minute))
	fmt.Println(webhook.Verify(secret, header, []byte(`{"incident_id":"inc-2"}`), sent, time.Minute))
	fmt.Println(webhook.Verify(secret, header, body, sent.Add(time.Hour), time.Minute))
	// Output:
	// <nil>
	// webhook: signature mismatch
	// webhook: signature timestamp outside tolerance
}
