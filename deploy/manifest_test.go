package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// nonKubernetes are the YAML files under deploy/ that hold no Kubernetes
// objects, with what checks them instead. Every other *.yaml or *.yml file
// must decode, document by document, into the Kubernetes API types.
var nonKubernetes = map[string]string{
	"prometheus/rules.yaml": "a Prometheus rule file: promtool check rules (TestPromtoolCheckRules)",
	"prometheus/tests.yaml": "promtool unit tests: promtool test rules (TestPromtoolTestRules)",
}

// manifestFiles returns the Kubernetes manifests under deploy/ by path
// relative to it.
func manifestFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if _, ok := nonKubernetes[filepath.ToSlash(p)]; ok {
			return nil
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(p)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no Kubernetes manifests under deploy/")
	}
	return files
}

// object is one decoded document of a manifest file.
type object struct {
	file string
	doc  int // 0-based index among the file's documents
	obj  runtime.Object
}

func (o object) String() string { return fmt.Sprintf("%s#%d", o.file, o.doc) }

// decoder decodes YAML or JSON into the typed objects of apps/v1 and core/v1
// the way the API server's strict field validation does: an unknown or
// duplicate field, a value of the wrong type or an unregistered kind is an
// error.
func decoder() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err) // the scheme builders of k8s.io/api do not fail
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// splitDocuments returns the YAML documents of data that hold something
// besides comments.
func splitDocuments(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		d, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSON(d)
		if err != nil {
			return nil, err
		}
		if s := string(bytes.TrimSpace(j)); s != "null" && s != "" {
			docs = append(docs, d)
		}
	}
}

// decodeAll decodes every document of every file strictly.
func decodeAll(files map[string][]byte) ([]object, error) {
	dec := decoder()
	var objs []object
	var errs []error
	for _, name := range sortedKeys(files) {
		docs, err := splitDocuments(files[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if len(docs) == 0 {
			errs = append(errs, fmt.Errorf("%s: no Kubernetes object", name))
		}
		for i, d := range docs {
			obj, _, err := dec.Decode(d, nil, nil)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s#%d: %w", name, i, err))
				continue
			}
			objs = append(objs, object{file: name, doc: i, obj: obj})
		}
	}
	return objs, errors.Join(errs...)
}

// checkManifests decodes the files strictly and checks their policy.
func checkManifests(files map[string][]byte) ([]object, error) {
	objs, err := decodeAll(files)
	if err != nil {
		return objs, err
	}
	return objs, policy(objs)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestManifests decodes every Kubernetes document under deploy/ strictly
// into the k8s.io/api types and checks the policy (see policy).
func TestManifests(t *testing.T) {
	objs, err := checkManifests(manifestFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, fmt.Sprintf("%s %s", o, o.obj.GetObjectKind().GroupVersionKind().Kind))
	}
	t.Logf("%d objects decoded strictly and checked: %s", len(objs), strings.Join(names, ", "))
}

// TestManifestsReject checks that the strict decoding and the policy catch
// broken variants of the manifests: each case changes one document of one
// file and expects an error naming the change.
func TestManifestsReject(t *testing.T) {
	for _, tt := range mutations {
		t.Run(tt.name, func(t *testing.T) {
			files := manifestFiles(t)
			files[tt.file] = mutate(t, files[tt.file], tt.doc, tt.change)
			_, err := checkManifests(files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v\nwant one containing %q", err, tt.want)
			}
			t.Logf("rejected: %s", firstLine(err, tt.want))
		})
	}
}

// mutate returns data with its doc-th document changed by change, which
// works on the document as generic JSON values.
func mutate(t *testing.T, data []byte, doc int, change func(d obj)) []byte {
	t.Helper()
	docs, err := splitDocuments(data)
	if err != nil || doc >= len(docs) {
		t.Fatalf("document %d: %v (%d documents)", doc, err, len(docs))
	}
	var out [][]byte
	for i, d := range docs {
		if i == doc {
			var m obj
			if err := yaml.Unmarshal(d, &m); err != nil {
				t.Fatal(err)
			}
			change(m)
			if d, err = yaml.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, d)
	}
	return bytes.Join(out, []byte("\n---\n"))
}

// firstLine returns the line of err that contains want.
func firstLine(err error, want string) string {
	for l := range strings.SplitSeq(err.Error(), "\n") {
		if strings.Contains(l, want) {
			return l
		}
	}
	return err.Error()
}
