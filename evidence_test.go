package slo

import (
	"testing"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/incident"
)

// TestIncidentEvidenceWithoutNoise: an incident's evidence lists each
// feature once and only above its floor — on a throttling incident, the
// 429s, not a 0.08 ms connect or a 0.02 ms retrieval excess.
func TestIncidentEvidenceWithoutNoise(t *testing.T) {
	a := newAttributor(nil)
	var obs []attribution.Observation
	for i := range 20 {
		var o attribution.Observation
		o.Set(attribution.AppThrottled, 1)
		o.Set(attribution.AppConnectMs, 0.079)
		o.Set(attribution.AppRetrievalMs, 0.017+float64(i%2)*0.001)
		o.Set(attribution.AppProviderWaitMs, 0.4)
		obs = append(obs, o)
	}
	inc := incident.Incident{Evidence: []incident.Evidence{}}
	a.fill(&inc, obs)
	seen := map[string]bool{}
	for _, e := range inc.Evidence {
		if seen[e.Signal] {
			t.Errorf("%s listed twice: %+v", e.Signal, inc.Evidence)
		}
		seen[e.Signal] = true
	}
	if len(inc.Evidence) != 1 || inc.Evidence[0].Signal != "app.throttled" || inc.Evidence[0].Value != 1 {
		t.Errorf("evidence %+v, want only app.throttled=1 (connect, retrieval and provider-wait excesses under 1 ms are noise)", inc.Evidence)
	}
	for _, h := range inc.Hypotheses {
		for _, name := range h.Evidence {
			if !seen[name] {
				t.Errorf("hypothesis %s cites %s, which the evidence does not list", h.Domain, name)
			}
		}
	}
}
