package correlate

import (
	"testing"
	"time"
)

func TestSummaryAddCall(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name      string
		req, call Summary
		want      Summary
	}{
		{
			name: "connection evidence adds up, process-wide does not",
			req:  Summary{DNS: 10 * ms, DNSLookups: 1, Runqueue: 5 * ms, Joins: [NumTiers]int{TierPodPID: 2}, Tier: TierPodPID, Confidence: 0.9},
			call: Summary{DNS: 150 * ms, DNSLookups: 1, DNSFailures: 1, Retransmits: 3, Connects: 1, ConnectLatency: 2 * ms,
				ConnectErrors: 1, Runqueue: 4 * ms, RetryStorm: true, Joins: [NumTiers]int{TierExact: 4, TierPodPID: 1}, Tier: TierExact, Confidence: 1},
			want: Summary{DNS: 160 * ms, DNSLookups: 2, DNSFailures: 1, Retransmits: 3, Connects: 1, ConnectLatency: 2 * ms,
				ConnectErrors: 1, Runqueue: 5 * ms, RetryStorm: true, Joins: [NumTiers]int{TierExact: 4, TierPodPID: 2}, Tier: TierExact, Confidence: 1},
		},
		{
			name: "a destination join does not lower the request's tier",
			req:  Summary{Joins: [NumTiers]int{TierPodPID: 1}, Tier: TierPodPID, Confidence: 0.9},
			call: Summary{Retransmits: 1, Joins: [NumTiers]int{TierPodConn: 1}, Tier: TierPodConn, Confidence: 0.8},
			want: Summary{Retransmits: 1, Joins: [NumTiers]int{TierPodConn: 1, TierPodPID: 1}, Tier: TierPodPID, Confidence: 0.9},
		},
		{
			name: "a call with only process-wide evidence adds nothing",
			call: Summary{Runqueue: 3 * ms, Joins: [NumTiers]int{TierPodPID: 1}, Tier: TierPodPID, Confidence: 0.9},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.req
			got.AddCall(&tc.call)
			if got != tc.want {
				t.Errorf("AddCall:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
