package correlate

import (
	"time"

	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/attribute"
)

// Summary is the kernel's view of one request: the evidence joined to it at
// or above [Config].Threshold. The zero value means "no kernel evidence".
type Summary struct {
	// DNS is the time the request's calls spent waiting for DNS answers
	// (the union of the joined lookups' intervals).
	DNS time.Duration
	// DNSLookups counts joined DNS exchanges; DNSFailures those answered
	// with a non-zero rcode.
	DNSLookups, DNSFailures int
	// Retransmits counts TCP retransmissions on the request's connections.
	Retransmits int
	// RetryStorm is set when one of the request's destinations was in a
	// retry storm (Config.StormCount events within Config.StormWindow)
	// while the request used it.
	RetryStorm bool
	// Connects counts completed TCP connects; ConnectLatency is their summed
	// SYN_SENT→ESTABLISHED time; ConnectErrors counts failed connects.
	Connects       int
	ConnectLatency time.Duration
	ConnectErrors  int
	// Runqueue, Reclaim, BlockIO and Syscall are the request's share of the
	// process's run-queue delay, direct-reclaim stalls, block I/O and
	// syscall latency outliers (apportioned by overlap).
	Runqueue, Reclaim, BlockIO, Syscall time.Duration
	// CFSThrottled is the CFS throttled time of the process's cgroup during
	// the request (the throttled fraction of each poll period it overlapped).
	CFSThrottled time.Duration
	// StealPct is the mean CPU steal (percent) during the request; only set
	// when node-wide evidence passes the threshold (svc_node is 0.13 <
	// 0.50 by default).
	StealPct float64
	// PSICPUPct is the mean PSI cpu "some" avg10 (percent) during the
	// request; node-wide, like StealPct.
	PSICPUPct float64
	// GoSchedLatency is the mean Go scheduler latency during the request.
	GoSchedLatency time.Duration
	// Joins counts the joins that entered this summary, by tier.
	Joins [NumTiers]int
	// Weak counts joins below the threshold (not in the fields above).
	Weak int
	// Tier is the highest tier among Joins; TierNone when there is none.
	Tier Tier
	// Confidence is that tier's confidence; 0 when there is none.
	Confidence float64
}

// IsZero reports whether s holds no evidence.
func (s Summary) IsZero() bool { return s == Summary{} }

// KernelTime is the part of the request's time the kernel evidence
// explains: DNS, connect latency, and the apportioned run-queue, throttling,
// reclaim, block I/O and syscall time.
func (s Summary) KernelTime() time.Duration {
	return s.DNS + s.ConnectLatency + s.Runqueue + s.CFSThrottled + s.Reclaim + s.BlockIO + s.Syscall
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// AppendAttributes appends the llm.ebpf.* attributes of s to dst and returns
// it: a count or duration appears only when non-zero, and
// llm.ebpf.correlation_confidence and llm.ebpf.correlation_tier only when
// something was joined.
func (s *Summary) AppendAttributes(dst []attribute.KeyValue) []attribute.KeyValue {
	if s.DNSLookups > 0 {
		dst = append(dst, semconv.EBPFDNSLatencyMs.Float64(ms(s.DNS)))
	}
	if s.Retransmits > 0 {
		dst = append(dst, semconv.EBPFTCPRetransmits.Int(s.Retransmits))
	}
	if s.RetryStorm {
		dst = append(dst, semconv.EBPFTCPRetryStorm.Bool(true))
	}
	if s.Connects > 0 {
		dst = append(dst, semconv.EBPFNetConnectLatencyMs.Float64(ms(s.ConnectLatency)))
	}
	if s.ConnectErrors > 0 {
		dst = append(dst, semconv.EBPFNetConnectErrorsTotal.Int(s.ConnectErrors))
	}
	if s.Runqueue > 0 {
		dst = append(dst, semconv.EBPFSchedRunqueueDelayMs.Float64(ms(s.Runqueue)))
	}
	if s.CFSThrottled > 0 {
		dst = append(dst, semconv.EBPFCPUCFSThrottledMs.Float64(ms(s.CFSThrottled)))
	}
	if s.Reclaim > 0 {
		dst = append(dst, semconv.EBPFMMReclaimLatencyMs.Float64(ms(s.Reclaim)))
	}
	if s.BlockIO > 0 {
		dst = append(dst, semconv.EBPFBlkIOLatencyMs.Float64(ms(s.BlockIO)))
	}
	if s.Syscall > 0 {
		dst = append(dst, semconv.EBPFSyscallLatencyMs.Float64(ms(s.Syscall)))
	}
	if s.StealPct > 0 {
		dst = append(dst, semconv.EBPFCPUStealPct.Float64(s.StealPct))
	}
	if s.PSICPUPct > 0 {
		dst = append(dst, semconv.EBPFPSISomeCPUPct.Float64(s.PSICPUPct))
	}
	if s.GoSchedLatency > 0 {
		dst = append(dst, semconv.EBPFGoSchedLatencyMs.Float64(ms(s.GoSchedLatency)))
	}
	if s.Tier != TierNone {
		dst = append(dst, semconv.EBPFCorrelationConfidence.Float64(s.Confidence),
			semconv.EBPFCorrelationTier.String(s.Tier.String()))
	}
	return dst
}

// AddCall adds to s the connection evidence of a client call made for the
// request s describes; c is the call's own summary (the call joined as a
// request of its own). Added: DNS time and lookups, retransmits, the retry
// storm, connects, their latency and errors, and the joins at the tiers that
// name a connection or destination (exact, pod_conn), the tier and
// confidence rising to the call's when it is one of those. The call's share
// of process- and node-wide evidence is not added: the request has its own
// share of it. DNS time adds up (lookups of concurrent calls may overlap).
func (s *Summary) AddCall(c *Summary) {
	s.DNS += c.DNS
	s.DNSLookups += c.DNSLookups
	s.DNSFailures += c.DNSFailures
	s.Retransmits += c.Retransmits
	s.RetryStorm = s.RetryStorm || c.RetryStorm
	s.Connects += c.Connects
	s.ConnectLatency += c.ConnectLatency
	s.ConnectErrors += c.ConnectErrors
	s.Joins[TierExact] += c.Joins[TierExact]
	s.Joins[TierPodConn] += c.Joins[TierPodConn]
	if (c.Tier == TierExact || c.Tier == TierPodConn) && c.Tier > s.Tier {
		s.Tier, s.Confidence = c.Tier, c.Confidence
	}
}
