// Command discard is the peer of the producer benchmark (bench/producer.sh):
// an HTTP server that reads every request body to its end, throws it away and
// answers with the byte count, so that a plain `curl -T` upload over loopback
// can be timed against `kvs put` into `kvs serve`.
//
// It listens on -listen (port 0 picks one) and prints "listening on ADDR" on
// standard output once it accepts connections.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	if err := run(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "discard:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	return http.Serve(ln, http.HandlerFunc(discard))
}

// discard reads the body into a fixed buffer and reports its size.
func discard(w http.ResponseWriter, r *http.Request) {
	n, err := io.CopyBuffer(io.Discard, r.Body, make([]byte, 64<<10))
	if err != nil {
		slog.Warn("discard: read body", "err", err, "bytes", n)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, strconv.FormatInt(n, 10)+"\n")
}
