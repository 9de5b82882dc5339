// Package schemas embeds the JSON Schemas of the documents llmslo emits:
// IncidentAttributionV1 (incidents) and SloEventV1 (per-request SLO events).
// The module's tests validate their own output against them.
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
