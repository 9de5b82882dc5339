//go:build linux

package main

import (
	"bytes"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmslo/slo/probes/sidecar"
)

// TestMetricsText: /metrics parses as Prometheus text and carries each
// tenant's counters under its cgroup id.
func TestMetricsText(t *testing.T) {
	st := sidecar.Stats{
		Clients: 3, Delivered: 10, Dropped: 2, OverBudget: 7, Rejected: map[string]uint64{"tenant_limit": 1},
		Tenants: []sidecar.TenantStats{
			{Cgroup: 11, Connections: 2, Delivered: 9, Dropped: 2, OverBudget: 7, Rejected: 1},
			{Cgroup: 12, Connections: 1, Delivered: 1},
		},
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(appendMetrics(nil, st)))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no %s", name)
		}
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"llmslo_sidecar_clients", nil, 3},
		{"llmslo_sidecar_events_total", map[string]string{"outcome": "over_budget"}, 7},
		{"llmslo_sidecar_rejected_total", map[string]string{"reason": "tenant_limit"}, 1},
		{"llmslo_sidecar_tenant_connections", map[string]string{"cgroup": "11"}, 2},
		{"llmslo_sidecar_tenant_events_total", map[string]string{"cgroup": "11", "outcome": "over_budget"}, 7},
		{"llmslo_sidecar_tenant_events_total", map[string]string{"cgroup": "12", "outcome": "delivered"}, 1},
		{"llmslo_sidecar_tenant_rejected_total", map[string]string{"cgroup": "11"}, 1},
	} {
		if got := value(tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}
