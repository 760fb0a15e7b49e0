package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"
)

// clientOptions are the flags every command that talks to KVS takes, with
// the AWS CLI's meaning and environment.
type clientOptions struct {
	endpointURL string
	region      string
	profile     string
	caBundle    string
}

func (o *clientOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.endpointURL, "endpoint-url", "", "KVS control-plane URL, e.g. a kvs serve URL (env AWS_ENDPOINT_URL_KINESIS_VIDEO, AWS_ENDPOINT_URL; default: AWS)")
	f.StringVar(&o.region, "region", "", "AWS region (env AWS_REGION, AWS_DEFAULT_REGION, or the profile's)")
	f.StringVar(&o.profile, "profile", "", "shared-config profile (env AWS_PROFILE)")
	f.StringVar(&o.caBundle, "ca-bundle", "", "PEM file of the CA certificates to trust for HTTPS instead of the system's, e.g. kvs serve --tls's DATA-DIR/tls/cert.pem (env AWS_CA_BUNDLE, or ca_bundle in the shared config)")
}

// resolve loads the AWS configuration the way the AWS CLI does: flags first,
// then the environment, then the shared config and credentials files.
func (o *clientOptions) resolve(ctx context.Context) (aws.Config, string, error) {
	if o.caBundle != "" {
		if err := checkCABundle(o.caBundle); err != nil {
			return aws.Config{}, "", err
		}
		// As the AWS CLI's --ca-bundle: it overrides AWS_CA_BUNDLE and the
		// shared config, for every client this process makes (the
		// producer loads its own configuration).
		if err := os.Setenv("AWS_CA_BUNDLE", o.caBundle); err != nil {
			return aws.Config{}, "", fmt.Errorf("--ca-bundle: %w", err)
		}
	}
	var opts []func(*config.LoadOptions) error
	if o.region != "" {
		opts = append(opts, config.WithRegion(o.region))
	}
	if o.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.profile))
	}
	opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(http1Only)))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, "", fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	endpoint := o.endpointURL
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL_KINESIS_VIDEO")
	}
	if endpoint == "" && cfg.BaseEndpoint != nil {
		endpoint = *cfg.BaseEndpoint
	}
	return cfg, strings.TrimRight(endpoint, "/"), nil
}

// http1Only keeps a transport from negotiating HTTP/2: PutMedia and GetMedia
// are long HTTP/1.1 streams.
func http1Only(tr *http.Transport) {
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
}

// checkCABundle reads a CA bundle and says clearly what is wrong with it.
func checkCABundle(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--ca-bundle: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return fmt.Errorf("--ca-bundle %s: no PEM certificate in it", path)
	}
	return nil
}
