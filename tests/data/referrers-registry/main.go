// A registry with the OCI 1.1 referrers API on 127.0.0.1, for the tests: go-containerregistry's
// in-memory registry with that API switched on (`crane registry serve` leaves it off). It
// prints the address it listens on, then serves until killed.
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalln(err)
	}
	fmt.Println(listener.Addr().String())
	os.Stdout.Sync()
	server := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler:           registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))),
	}
	log.Fatalln(server.Serve(listener))
}
