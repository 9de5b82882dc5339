package slo

// Version returns the version of this module.
func Version() string { return "0.1.0-dev" }
