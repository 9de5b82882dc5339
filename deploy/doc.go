// Package deploy is the module of what ships around the library: the
// Kubernetes manifests (sidecar/, kubernetes/) and the test that decodes
// them strictly into the Kubernetes API types and checks their security
// policy, the Prometheus rules and the Grafana dashboard. It has no library
// code.
//
// It is a module of its own (github.com/llmslo/slo/deploy) so that the
// Kubernetes API types stay out of the library's go.mod: a service
// importing github.com/llmslo/slo inherits none of them.
package deploy
