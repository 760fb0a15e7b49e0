// Command kvs is the Kinesis Video Streams toolkit: file uploads (kvs put),
// live capture from V4L2 and RTSP cameras (kvs capture, kvs devices), reads
// (kvs get), and a local KVS-compatible endpoint (kvs serve, kvs demo).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "kvs:", err)
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "kvs",
		Short:         "Amazon Kinesis Video Streams toolkit with a built-in local endpoint",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionText(),
	}
	root.SetVersionTemplate("kvs {{.Version}}")
	// --stream-name, the AWS CLI's name, is accepted wherever --stream is.
	root.SetGlobalNormalizationFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "stream-name" {
			name = "stream"
		}
		return pflag.NormalizedName(name)
	})
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(newServeCmd(), newCredsCmd(), newGetCmd(), newPutCmd(), newDemoCmd(), newCaptureCmd(), newDevicesCmd())
	return root
}
