package attribution

import (
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/attribute"
)

// kernelKeys maps the llm.ebpf.* span attributes to kernel features.
var kernelKeys = map[attribute.Key]Feature{
	semconv.EBPFDNSLatencyMs:          KernDNSMs,
	semconv.EBPFTCPRetransmits:        KernRetransmits,
	semconv.EBPFNetConnectLatencyMs:   KernConnectMs,
	semconv.EBPFNetConnectErrorsTotal: KernConnectErrors,
	semconv.EBPFSchedRunqueueDelayMs:  KernRunqueueMs,
	semconv.EBPFCPUCFSThrottledMs:     KernCFSThrottledMs,
	semconv.EBPFMMReclaimLatencyMs:    KernReclaimMs,
	semconv.EBPFCPUStealPct:           KernStealPct,
}

// KernelFeature returns the kernel feature an llm.ebpf.* span attribute
// carries, and false for any other key.
func KernelFeature(k attribute.Key) (Feature, bool) {
	f, ok := kernelKeys[k]
	return f, ok
}

// Number returns a numeric attribute value as float64, and false for a
// value that is not an int64 or float64.
func Number(v attribute.Value) (float64, bool) {
	switch v.Type() {
	case attribute.FLOAT64:
		return v.AsFloat64(), true
	case attribute.INT64:
		return float64(v.AsInt64()), true
	}
	return 0, false
}
