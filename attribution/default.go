package attribution

import _ "embed" // the fitted model

// defaultModel is model.json: the model the incident lab fitted (its
// provenance says how). It is read-only.
//
//go:embed model.json
var defaultModel []byte

// DefaultModel returns the model fitted by the incident lab (cmd/slo-lab) on
// this project's reference workload, embedded from model.json with its
// provenance ([Model.Provenance]). Each call decodes a new copy; it returns
// nil only if the embedded file does not decode, in which case callers fall
// back to the decomposition ([Attribute] with a nil model).
func DefaultModel() *Model {
	m, err := UnmarshalModel(defaultModel)
	if err != nil {
		return nil
	}
	return m
}
