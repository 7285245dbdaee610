// The e2e tier's OCI registry; hack/crossplane/install.sh builds main.go.
module function-multigres/hack/crossplane/registry

go 1.24.0

require github.com/google/go-containerregistry v0.20.7
