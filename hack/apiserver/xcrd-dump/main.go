// Command xcrd-dump prints the CustomResourceDefinition that Crossplane derives from a
// CompositeResourceDefinition, using Crossplane's own internal/xcrd package.
//
// It is not built in place: hack/apiserver/install.sh copies it into a copy of the
// github.com/crossplane/crossplane/v2 module (internal/ packages are importable only
// from inside that module) and builds it there. The API-server tier compares its
// output with tests/apiserver/xrd_to_crd.py, the Python transcription the tests use.
//
// Usage: xcrd-dump definition.yaml > crd.json
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	xpv1 "github.com/crossplane/crossplane-runtime/v2/apis/common/v1"

	v1 "github.com/crossplane/crossplane/v2/apis/apiextensions/v1"
	v2 "github.com/crossplane/crossplane/v2/apis/apiextensions/v2"
	"github.com/crossplane/crossplane/v2/internal/xcrd"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "xcrd-dump:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf("usage: %s definition.yaml", os.Args[0])
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		return err
	}
	meta := struct {
		APIVersion string `json:"apiVersion"`
	}{}
	if err := yaml.Unmarshal(b, &meta); err != nil {
		return err
	}
	xrd := &v1.CompositeResourceDefinition{}
	if meta.APIVersion == v2.SchemeGroupVersion.String() {
		// The API server stores XRDs as v1; v2 has the same field names and adds
		// kubebuilder defaults, which the server would apply on create.
		x2 := &v2.CompositeResourceDefinition{}
		if err := yaml.Unmarshal(b, x2); err != nil {
			return err
		}
		if x2.Spec.Scope == "" {
			x2.Spec.Scope = v2.CompositeResourceScopeNamespaced
		}
		if x2.Spec.DefaultCompositionUpdatePolicy == nil {
			p := xpv1.UpdateAutomatic
			x2.Spec.DefaultCompositionUpdatePolicy = &p
		}
		j, err := json.Marshal(x2)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(j, xrd); err != nil {
			return err
		}
	} else if err := yaml.Unmarshal(b, xrd); err != nil {
		return err
	}
	crd, err := xcrd.ForCompositeResource(xrd)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(crd, "", "  ")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(out, '\n'))
	return err
}
