// Package release names what the repository ships: the programs, the
// repository of their images and the version (the file VERSION). The
// manifests under deploy/ must run these images.
package release
