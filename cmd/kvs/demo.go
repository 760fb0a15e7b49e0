package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"kvskit/device"
	"kvskit/internal/awsauth"
	"kvskit/producer"
	"kvskit/samples/clip"
	"kvskit/server"
)

type demoOptions struct {
	dataDir  string
	listen   string
	stream   string
	duration time.Duration
}

func newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the local endpoint and stream the sample clip into it as a live camera would",
		Long: `Start the local KVS endpoint in this process (data in a temporary directory
unless --data-dir is given), create a stream, and stream the sample clip
(10 s of H.264 + AAC, looped with continuing timestamps) into it in real time
through the producer. It prints how to watch the stream and runs until
interrupted or for --duration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "", "archive directory (default: a temporary directory removed at exit)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:4567", "address of the local endpoint (port 0 picks a free port)")
	f.StringVar(&o.stream, "stream", "demo", "stream name")
	f.DurationVar(&o.duration, "duration", 0, "stop after this long (default: until interrupted)")
	return cmd
}

func runDemo(ctx context.Context, cmd *cobra.Command, o demoOptions) error {
	log, err := newLogger(cmd)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	dir := o.dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "kvs-demo-"); err != nil {
			return fmt.Errorf("temporary data dir: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	creds, err := awsauth.NewRandomCredentials()
	if err != nil {
		return err
	}
	credPath := filepath.Join(dir, "credentials")
	if err := awsauth.WriteCredentialsFile(credPath, "default", creds); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w (another kvs serve or demo running? try --listen 127.0.0.1:0)", o.listen, err)
	}
	const region = "us-east-1"
	srv, err := server.New(server.Config{
		DataDir: dir, Region: region, Logger: log,
		Credentials: map[string]string{creds.AccessKeyID: creds.SecretAccessKey},
	})
	if err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() { _ = hs.Shutdown(sctx); close(done) }()
		_ = srv.Close()
		<-done
	}()

	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	src, err := device.NewTestPattern()
	if err != nil {
		return err
	}
	defer src.Close()
	stop := context.AfterFunc(ctx, func() { src.Close() })
	defer stop()
	p, err := producer.New(ctx, producer.Config{
		StreamName: o.stream, Region: region, EndpointURL: url,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		CreateStream: true, RetentionHours: 24, StartTime: src.Origin(), Logger: log,
	}, src.Tracks())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "kvs demo: local endpoint at %s (data %s)\n", url, dir)
	fmt.Fprintf(out, "kvs demo: streaming %s (%s) into stream %q\n", clip.Name, trackSummary(src.Tracks()), o.stream)
	fmt.Fprintf(out, "kvs demo: watch it with:\n  AWS_SHARED_CREDENTIALS_FILE=%s kvs get media --endpoint-url %s --region %s --stream %s --start now --follow -o - | ffplay -\n",
		credPath, url, region, o.stream)

	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var runErr error
	for ctx.Err() == nil {
		fr, err := src.ReadFrame()
		if err != nil {
			if ctx.Err() == nil {
				runErr = err
			}
			break
		}
		if err := p.WriteFrame(ctx, fr); err != nil && ctx.Err() == nil {
			runErr = err
			break
		}
		select {
		case <-tick.C:
			st := p.Stats()
			fmt.Fprintf(out, "kvs demo: %d fragments persisted, the last one persisted %s after it was cut\n",
				st.Persisted, st.LastPersistedLatency.Round(time.Millisecond))
		default:
		}
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	closeErr := p.Close(closeCtx)
	st := p.Stats()
	fmt.Fprintf(out, "kvs demo: stopped; %d fragments persisted\n", st.Persisted)
	if runErr != nil {
		return runErr
	}
	return closeErr
}
