// Command pkgname prints the name Crossplane gives the package object it creates for a
// package reference, computed by Crossplane's own code:
//
//   - "dependency": the name the package manager's dependency resolver gives a Function
//     it installs for a Configuration's dependsOn (internal/controller/pkg/resolver
//     NewPackage);
//   - "install": the name `crossplane xpkg install function REF` gives it when no name
//     is passed (cmd/crank/xpkg/install.go: the same ToDNSLabel of the repository path).
//
// It is not built in place: hack/crossplane/install.sh copies it into a copy of the
// github.com/crossplane/crossplane/v2 module (internal/ packages are importable only from
// inside that module) and builds it there. tests/test_packages.py runs it on the
// dependency inside the built Configuration package.
//
// Usage: pkgname REF...   (one JSON object per line)
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/utils/ptr"

	"github.com/crossplane/crossplane/v2/apis/pkg/v1beta1"
	"github.com/crossplane/crossplane/v2/internal/controller/pkg/resolver"
	"github.com/crossplane/crossplane/v2/internal/xpkg"
)

type result struct {
	Ref        string `json:"ref"`
	Dependency string `json:"dependency"`
	Install    string `json:"install"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pkgname REF...")
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, ref := range os.Args[1:] {
		r, err := names(ref)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pkgname:", err)
			os.Exit(1)
		}
		_ = enc.Encode(r)
	}
}

func names(ref string) (result, error) {
	// The resolver parses the Lock's dependency source without strict validation (it has
	// no tag); crank parses the install argument strictly (it must have one).
	dep := &v1beta1.Dependency{Package: ref, Type: ptr.To(v1beta1.FunctionPackageType)}
	r, err := name.ParseReference(ref)
	if err != nil {
		return result{}, err
	}
	pkg, err := resolver.NewPackage(dep, "v0.0.0", r)
	if err != nil {
		return result{}, err
	}
	out := result{Ref: ref, Dependency: pkg.GetName()}
	if strict, err := name.ParseReference(ref+":v0.0.0", name.StrictValidation); err == nil {
		out.Install = xpkg.ToDNSLabel(strict.Context().RepositoryStr())
	}
	return out, nil
}
