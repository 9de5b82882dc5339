// Package deploy is the module of what ships around the library: the
// Kubernetes manifests (sidecar/, kubernetes/) and the test that decodes
// them strictly into the Kubernetes API types and checks their security
// policy, the Prometheus rules and Grafana dashboard, and the release tool
// (internal/cmd/release) that builds the programs, their CycloneDX SBOMs and
// OCI images. It has no library code.
//
// It is a module of its own (github.com/llmslo/slo/deploy) so that the
// Kubernetes API types, go-containerregistry and the SBOM generator stay out
// of the library's go.mod: a service importing github.com/llmslo/slo
// inherits none of them. docs/release.md describes the release.
package deploy
