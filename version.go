package slo

// version is the module's version, as the VERSION file at the repository
// root says it. A release build stamps it from that file with
// -ldflags "-X github.com/llmslo/slo.version=<VERSION>" (make release;
// docs/release.md), so a binary built from a tree whose VERSION moved on
// reports the file's value even before this default follows.
var version = "v0.1.0"

// Version returns the version of this module (the VERSION file's, e.g.
// "v0.1.0"). It is the instrumentation version of the tracker's tracer,
// meter and logger.
func Version() string { return version }
