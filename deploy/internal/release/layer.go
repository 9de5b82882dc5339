package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// binDir is where an image holds its program: the image's entrypoint is
// binDir + "/" + name.
const binDir = "/usr/local/bin"

// layerTar returns the image's one layer, uncompressed: the directories
// etc, usr, usr/local and usr/local/bin, an /etc/passwd and /etc/group
// naming root and the non-root user [UID]:[GID], and the program. Entries are
// in a fixed order, owned by root (uid and gid 0, no user or group names),
// with the mtime epoch and no access or change times, so the same binary
// gives the same bytes.
func layerTar(name string, binary []byte, epoch time.Time) ([]byte, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nllmslo:x:%d:%d:llmslo:/nonexistent:/sbin/nologin\n", UID, GID)
	group := fmt.Sprintf("root:x:0:\nllmslo:x:%d:\n", GID)
	entries := []struct {
		name string
		mode int64
		body []byte
	}{
		{"etc/", 0o755, nil},
		{"etc/group", 0o644, []byte(group)},
		{"etc/passwd", 0o644, []byte(passwd)},
		{"usr/", 0o755, nil},
		{"usr/local/", 0o755, nil},
		{"usr/local/bin/", 0o755, nil},
		{binDir[1:] + "/" + name, 0o755, binary},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: epoch.UTC(), Format: tar.FormatPAX}
		if e.body == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// layer is an OCI gzip layer held in memory. Its gzip stream has no name
// and no mtime, so the compressed bytes, like the tar, depend on the content
// only (for one Go version: the compressor is compress/gzip).
type layer struct {
	compressed, uncompressed []byte
	digest, diffID           v1.Hash
}

var _ v1.Layer = (*layer)(nil)

// newLayer compresses the tar t.
func newLayer(t []byte) (*layer, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(t); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	l := &layer{compressed: buf.Bytes(), uncompressed: t}
	l.digest = sha256Hash(l.compressed)
	l.diffID = sha256Hash(t)
	return l, nil
}

func sha256Hash(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", s)}
}

func (l *layer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *layer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *layer) Size() (int64, error)     { return int64(len(l.compressed)), nil }
func (l *layer) MediaType() (types.MediaType, error) {
	return types.OCILayer, nil
}
func (l *layer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.uncompressed)), nil
}
