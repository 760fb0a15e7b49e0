package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"kvskit/internal/awsauth"
	"kvskit/server"
)

func newLogger(cmd *cobra.Command) (*slog.Logger, error) {
	lvl, _ := cmd.Flags().GetString("log-level")
	var level slog.Level
	if err := level.UnmarshalText([]byte(lvl)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", lvl, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
}

type serveOptions struct {
	listen      string
	dataDir     string
	credentials string
	region      string
	publicURL   string
	tls         bool
	tlsCert     string
	tlsKey      string
	limits      server.Limits
	conns       server.ConnLimits
}

func newServeCmd() *cobra.Command {
	o := serveOptions{limits: server.DefaultLimits(), conns: server.DefaultConnLimits()}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the local Kinesis Video Streams endpoint",
		Long: `Serve the KVS control plane (streams, signaling channels), PutMedia ingest,
GetMedia and the archived-media reads on one listener. Every request must be
signed (SigV4, service kinesisvideo) with a key from the credentials file.

Without --credentials, DIR/credentials is created on first start with a random
key pair in profile "default" and kept; point the AWS CLI at it with
  AWS_SHARED_CREDENTIALS_FILE=DIR/credentials aws --endpoint-url URL kinesisvideo list-streams

Temporary credentials minted by "kvs creds --data-dir DIR", or got from the
endpoint's STS GetSessionToken (aws sts get-session-token --endpoint-url URL),
are accepted until they expire (403 ExpiredTokenException after), also across
restarts; a session token the endpoint did not issue gets 403
UnrecognizedClientException.

Everything under DIR is made 0600 (directories 0700); a DIR that group or
others can write to is refused, and older, looser modes are tightened.

--tls serves HTTPS (HTTP/1.1) with a self-signed ECDSA P-256 certificate for
localhost, 127.0.0.1, ::1, the --public-url host and a specific --listen
address, kept in DIR/tls/cert.pem and key.pem (made on first start, reused,
made again when a host is missing or it ends within 30 days). Clients trust it
with its own file:
  aws --ca-bundle DIR/tls/cert.pem --endpoint-url https://127.0.0.1:PORT ...
  kvs put --ca-bundle DIR/tls/cert.pem ...   (or AWS_CA_BUNDLE=DIR/tls/cert.pem)
--tls-cert and --tls-key serve a certificate of one's own instead. Listening
on anything but loopback without TLS prints a warning: requests, session
tokens and video would cross the network in clear text. The ready line gives
the URL clients should use (--public-url, or a loopback address in place of
0.0.0.0 or ::).

Connections are bounded: at most --max-conns open (fewer if the process may
not open that many files), --max-conns-per-addr from one client address (more
are closed at once), headers must arrive within --header-timeout and a body
must make progress every --body-timeout (PutMedia: --idle-timeout), idle
keep-alive connections close after --keepalive-timeout, and a request refused
as unauthenticated closes its connection. A stream takes up to 5 PutMedia
connections, the newest accepted; older ones end after their fragment in
flight.

Memory: fragments in flight (being received, or waiting for the disk) take at
most --session-memory per PutMedia connection and --memory-budget in all; a
fragment over a connection's budget gets ERROR 4001, one that finds the
server's budget exhausted ERROR 5000 (retriable), and the server stays up.
Unless GOMEMLIMIT is set, the Go heap is kept near --memory-budget + 64 MiB.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			return runServe(cmd.Context(), cmd, o, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:4567", "address to listen on (port 0 picks a free port)")
	f.StringVar(&o.dataDir, "data-dir", "kvs-data", "directory of the archive and the generated credentials")
	f.StringVar(&o.credentials, "credentials", "", "AWS shared-credentials file whose profiles may sign requests (default DATA-DIR/credentials, created if missing)")
	f.StringVar(&o.region, "region", "us-east-1", "region requests must be signed for")
	f.StringVar(&o.publicURL, "public-url", "", "URL GetDataEndpoint returns and clients are told to use (default: the URL the client used)")
	f.BoolVar(&o.tls, "tls", false, "serve HTTPS with a self-signed certificate kept in DATA-DIR/tls (made on first start; clients trust DATA-DIR/tls/cert.pem with --ca-bundle or AWS_CA_BUNDLE)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) instead of the self-signed one; needs --tls-key")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.Float64Var(&o.limits.MaxBytesPerSecond, "max-bytes-per-second", o.limits.MaxBytesPerSecond, "PutMedia throughput limit per stream")
	f.Float64Var(&o.limits.MaxFragmentsPerSecond, "max-fragments-per-second", o.limits.MaxFragmentsPerSecond, "fragment rate limit per stream")
	f.DurationVar(&o.limits.MaxConnectionDuration, "max-connection-duration", o.limits.MaxConnectionDuration, "longest PutMedia connection")
	f.DurationVar(&o.limits.IdleTimeout, "idle-timeout", o.limits.IdleTimeout, "end a PutMedia request after this long without data")
	f.DurationVar(&o.limits.GetMediaIdleTimeout, "getmedia-idle-timeout", o.limits.GetMediaIdleTimeout, "end a GetMedia response after this long without a new fragment")
	f.DurationVar(&o.limits.ExpireInterval, "expire-interval", o.limits.ExpireInterval, "how often fragments past retention are removed")
	f.Int64Var(&o.limits.SessionMemory, "session-memory", o.limits.SessionMemory, "bytes of fragments in flight one PutMedia connection may hold (a fragment may reach about half)")
	f.Int64Var(&o.limits.MemoryBudget, "memory-budget", o.limits.MemoryBudget, "bytes of fragments in flight all PutMedia connections together may hold")
	f.IntVar(&o.conns.MaxConns, "max-conns", o.conns.MaxConns, "most connections open at once; more are closed when accepted")
	f.IntVar(&o.conns.MaxConnsPerAddr, "max-conns-per-addr", o.conns.MaxConnsPerAddr, "most connections open at once from one client IP address")
	f.DurationVar(&o.conns.HeaderTimeout, "header-timeout", o.conns.HeaderTimeout, "time a client has to send a request's headers")
	f.DurationVar(&o.conns.BodyTimeout, "body-timeout", o.conns.BodyTimeout, "longest wait for more of a request body (PutMedia: --idle-timeout)")
	f.DurationVar(&o.conns.KeepAliveTimeout, "keepalive-timeout", o.conns.KeepAliveTimeout, "close a keep-alive connection idle this long between requests")
	return cmd
}

// loadCredentials reads the credentials file, creating DIR/credentials with a
// random key when no file was named and none exists yet.
func loadCredentials(o serveOptions, out *os.File) (map[string]string, string, error) {
	path := o.credentials
	if path == "" {
		path = filepath.Join(o.dataDir, "credentials")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			c, err := awsauth.NewRandomCredentials()
			if err != nil {
				return nil, "", err
			}
			if err := awsauth.WriteCredentialsFile(path, "default", c); err != nil {
				return nil, "", err
			}
			fmt.Fprintf(out, "kvs serve: created credentials %s (profile default)\n", path)
		}
	}
	profiles, err := awsauth.LoadCredentialsFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("credentials: %w", err)
	}
	keys := make(map[string]string, len(profiles))
	for _, c := range profiles {
		keys[c.AccessKeyID] = c.SecretAccessKey
	}
	if len(keys) == 0 {
		return nil, "", fmt.Errorf("credentials file %s has no profiles with keys", path)
	}
	return keys, path, nil
}

// memoryOverhead is the memory of kvs serve besides fragments in flight,
// for the Go memory limit: the runtime, buffers kept for reuse (32 MiB),
// connections.
const memoryOverhead = 64 << 20

func runServe(ctx context.Context, cmd *cobra.Command, o serveOptions, log *slog.Logger) error {
	out := os.Stdout
	if err := server.PrepareDataDir(o.dataDir, log); err != nil {
		return err
	}
	keys, credPath, err := loadCredentials(o, out)
	if err != nil {
		return err
	}
	if o.conns.MaxConns <= 0 || o.conns.MaxConnsPerAddr <= 0 {
		return errors.New("--max-conns and --max-conns-per-addr must be positive")
	}
	if fit := connsWithinFileLimit(o.conns.MaxConns); fit < o.conns.MaxConns {
		log.Warn("--max-conns lowered to fit the open-file limit (raise it with ulimit -n)",
			"max_conns", o.conns.MaxConns, "now", fit)
		o.conns.MaxConns = fit
	}
	if o.limits.SessionMemory <= 0 || o.limits.MemoryBudget <= 0 {
		return errors.New("--session-memory and --memory-budget must be positive")
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Garbage (buffers outgrown by a fragment) is collected before the
		// heap passes the budget by much.
		debug.SetMemoryLimit(o.limits.MemoryBudget + memoryOverhead)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.listen, err)
	}
	st, err := setupTLS(o, ln.Addr(), out)
	if err != nil {
		ln.Close()
		return err
	}
	srv, err := server.New(server.Config{
		DataDir: o.dataDir, Region: o.region, Credentials: keys, PublicURL: o.publicURL,
		Limits: o.limits, Conns: o.conns, Logger: log,
	})
	if err != nil {
		ln.Close()
		return err
	}
	hs := srv.HTTPServer()
	sln := useTLS(hs, srv.LimitListener(ln), st)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(sln) }()

	url := clientURL(o, ln.Addr(), st != nil)
	if w := plainTextWarning(ln.Addr(), st != nil); w != "" {
		fmt.Fprint(os.Stderr, w)
	}
	caFlag := ""
	if st != nil && st.caPath != "" {
		caFlag = " --ca-bundle " + st.caPath
	}
	fmt.Fprintf(out, "kvs serve: point the AWS CLI at it with:\n  AWS_SHARED_CREDENTIALS_FILE=%s aws --region %s --endpoint-url %s%s kinesisvideo list-streams\n",
		credPath, o.region, url, caFlag)
	fmt.Fprintf(out, "kvs serve: ready at %s (region %s, data %s)\n", url, o.region, o.dataDir)

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errc:
		srv.Close()
		return fmt.Errorf("serve: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- hs.Shutdown(shutdownCtx) }()
	closeErr := srv.Close()
	if err := <-done; err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if closeErr != nil {
		return closeErr
	}
	fmt.Fprintln(out, "kvs serve: stopped")
	return nil
}
