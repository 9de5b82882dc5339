package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/llmslo/slo/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// appWithIncident starts the service, streams healthy traffic, then injects
// provider_throttle until an incident is raised.
func appWithIncident(t *testing.T) *app {
	t.Helper()
	a := startTestApp(t)
	raiseIncident(t, a)
	return a
}

// raiseIncident streams healthy traffic through a, then injects
// provider_throttle until an incident is raised.
func raiseIncident(t *testing.T, a *app) {
	t.Helper()
	streamMany(t, a, 40, 8)
	waitRequests(t, a, 40)
	if err := a.injectFault(t.Context(), "provider_throttle"); err != nil {
		t.Fatal(err)
	}
	c := newLoadClient(a.URL())
	for i := 0; i < 40 && a.tracker.Status().Incidents == 0; i++ {
		_, _ = askStream(t.Context(), c, questions[i%len(questions)])
	}
	for deadline := time.Now().Add(3 * time.Second); len(a.tracker.Incidents()) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if len(a.tracker.Incidents()) == 0 {
		t.Fatal("no incident after provider_throttle")
	}
}

// TestStatusSchema validates GET /api/status, after real traffic and an
// incident, against schemas/status_v1.json: snake_case names throughout,
// the signals listed once (under probes).
func TestStatusSchema(t *testing.T) {
	a := appWithIncident(t)
	resp, err := http.Get(a.URL() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, s := range [][]byte{schemas.StatusV1, schemas.IncidentAttributionV1} {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(v.(map[string]any)["$id"].(string), v); err != nil {
			t.Fatal(err)
		}
	}
	schema, err := c.Compile("https://github.com/llmslo/slo/schemas/status_v1.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(doc); err != nil {
		t.Errorf("/api/status does not validate: %v\n%.3000s", err, body)
	}

	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	snake := regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				names[k]++
				if !snake.MatchString(k) {
					t.Errorf("%s.%s: not snake_case", path, k)
				}
				walk(x, path+"."+k)
			}
		case []any:
			for _, x := range v {
				walk(x, path+"[]")
			}
		}
	}
	walk(v, "status")
	if names["signals"] != 1 {
		t.Errorf("%d lists of signals, want 1 (under probes)", names["signals"])
	}
}
