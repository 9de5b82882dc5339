package incident

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestWebhookSignedDelivery posts an incident with a secret and an extra
// header; the receiver verifies the signature and decodes the incident.
func TestWebhookSignedDelivery(t *testing.T) {
	secret := []byte("s3cret")
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := VerifyWebhook(secret, r.Header.Get("X-Llmslo-Signature"), body, time.Minute)
		var inc Incident
		if err == nil {
			err = json.Unmarshal(body, &inc)
		}
		if err == nil && (inc.ID != "inc-20260102T030405Z-0a1b2c3d4e5f" || r.Header.Get("Authorization") != "Bearer t") {
			err = errors.New("wrong incident or header")
		}
		got <- err
	}))
	defer srv.Close()
	s, err := NewWebhookSink(srv.URL, WebhookOptions{Secret: secret, Header: http.Header{"Authorization": {"Bearer t"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), goldenIncident()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Send(context.Background(), goldenIncident()); err == nil {
		t.Error("Send after Close queued the incident")
	}
}

func TestWebhookRejects(t *testing.T) {
	for _, url := range []string{"", "ftp://x", "/relative"} {
		if _, err := NewWebhookSink(url, WebhookOptions{}); err == nil {
			t.Errorf("NewWebhookSink(%q) accepted it", url)
		}
	}
	if _, err := NewWebhookSink("http://x", WebhookOptions{Delivery: Delivery{Attempts: -1}}); err == nil {
		t.Error("negative attempts accepted")
	}
	if err := VerifyWebhook([]byte("k"), "t=1,v1=00", []byte("{}"), 0); err == nil {
		t.Error("VerifyWebhook accepted a wrong signature")
	}
}
