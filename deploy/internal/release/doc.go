// Package release builds the programs of github.com/llmslo/slo for
// shipping, reproducibly: the same source tree, version, revision and
// SOURCE_DATE_EPOCH give the same bytes on any machine with the same Go
// toolchain, wherever the tree lies.
//
// For each [Program] and [Platform], [Run] writes into the output directory
//
//	<name>_<version>_<os>_<arch>            the static binary (CGO_ENABLED=0, -trimpath,
//	                                        -buildvcs=false, -ldflags "-s -w -buildid=", and
//	                                        -X github.com/llmslo/slo.version=<version>)
//	<name>_<version>_<os>_<arch>.cdx.json   its CycloneDX SBOM, from the binary's build info
//	oci/<name>/                             an OCI image layout: one image per platform and the
//	                                        image index over them, the SBOMs attached as referrers
//	SHA256SUMS                              sha256sum(1) lines for the binaries, the SBOMs and
//	                                        each layout's index.json (which pins every blob)
//
// Images are built without a container engine: one layer holding the binary
// and a passwd/group naming the non-root user [UID], files owned by root with
// their mtime at SOURCE_DATE_EPOCH, config and manifests carrying the OCI
// labels and annotations (source, version, revision, created). The
// manifests under deploy/ name the images through [Program.Image].
package release
