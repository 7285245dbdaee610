// A small OCI registry for the e2e tier: go-containerregistry's in-process registry
// (pkg/registry) behind net/http, so `crossplane xpkg push` has somewhere to push and
// Crossplane's package manager and containerd somewhere to pull from.
//
//	registry --address 127.0.0.1:5000 [--blobs-dir DIR] [--tls-cert FILE --tls-key FILE]
//
// Manifests and tags are kept in memory (they are gone when the process ends); blobs too,
// unless --blobs-dir names a directory to keep them in. With --tls-cert and --tls-key it
// serves HTTPS, for clients that will not use plain HTTP off loopback.
package main

import (
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	address := flag.String("address", "127.0.0.1:5000", "host:port to listen on")
	blobsDir := flag.String("blobs-dir", "", "keep blobs in this directory instead of memory")
	tlsCert := flag.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	tlsKey := flag.String("tls-key", "", "private key of --tls-cert (PEM)")
	quiet := flag.Bool("quiet", false, "do not log every request")
	flag.Parse()

	opts := []registry.Option{}
	if *quiet {
		opts = append(opts, registry.Logger(log.New(io.Discard, "", 0)))
	}
	if *blobsDir != "" {
		if err := os.MkdirAll(*blobsDir, 0o755); err != nil {
			log.Fatalf("blobs dir: %v", err)
		}
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*blobsDir)))
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		log.Fatal("--tls-cert and --tls-key go together")
	}

	srv := &http.Server{
		Addr:              *address,
		Handler:           registry.New(opts...),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("registry listening on %s (tls: %t, blobs: %q)", *address, *tlsCert != "", *blobsDir)
	var err error
	if *tlsCert != "" {
		err = srv.ListenAndServeTLS(*tlsCert, *tlsKey)
	} else {
		err = srv.ListenAndServe()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
