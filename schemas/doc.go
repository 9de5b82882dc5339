// Package schemas embeds the JSON Schemas of the documents llmslo emits:
// IncidentAttributionV1 (incidents), SloEventV1 (per-request SLO events) and
// StatusV1 (the reference service's status, built from the tracker's
// Status, Budget and KernelStatus). The module's tests validate their own
// output against them.
package schemas

import _ "embed"

// IncidentAttributionV1 is the JSON Schema of an incident.
//
//go:embed incident_attribution_v1.json
var IncidentAttributionV1 []byte

// SloEventV1 is the JSON Schema of a per-request SLO event.
//
//go:embed slo_event_v1.json
var SloEventV1 []byte

// StatusV1 is the JSON Schema of the reference service's GET /api/status;
// its $defs TrackerStatus, SignalStatus and BudgetStatus describe
// slo.Status, slo.SignalStatus and slo.BudgetStatus as they marshal. It
// refers to IncidentAttributionV1 by its $id.
//
//go:embed status_v1.json
var StatusV1 []byte
