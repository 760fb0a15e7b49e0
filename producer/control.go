package producer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo/types"

	"kvskit/internal/awsauth"
	"kvskit/media"
)

// controlPlane holds the kinesisvideo client and the credentials used for
// PutMedia.
type controlPlane struct {
	stream string
	region string
	client *kinesisvideo.Client
	creds  aws.CredentialsProvider
}

// newControlPlane resolves region and credentials (the default chain when
// the Config leaves them out), settles the HTTP client (cfg.HTTPClient, or an
// HTTP/1.1-only client honouring the shared config's CA bundle) and builds
// the kinesisvideo client. own reports whether the HTTP client is the
// producer's own (whose idle connections Close closes).
func newControlPlane(ctx context.Context, cfg *Config) (cp *controlPlane, own bool, err error) {
	region, creds := cfg.Region, cfg.Credentials
	own = cfg.HTTPClient == nil
	if region == "" || creds == nil || own {
		var opts []func(*config.LoadOptions) error
		if own {
			opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(http11Only)))
		}
		if cfg.Profile != "" {
			opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
		}
		ac, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, false, fmt.Errorf("producer: stream %s: load AWS config: %w", cfg.StreamName, err)
		}
		if region == "" {
			region = ac.Region
		}
		if creds == nil {
			creds = ac.Credentials
		}
		if own {
			// The loaded client carries the CA bundle, if one is configured;
			// a transport of our own lets Close release its connections.
			tr := http.DefaultTransport.(*http.Transport).Clone()
			if bc, ok := ac.HTTPClient.(*awshttp.BuildableClient); ok {
				tr = bc.GetTransport()
			}
			http11Only(tr)
			// PutMedia bodies reach the transport in chunks of up to
			// bodyBufferSize that it writes to the socket mostly as they
			// are: a small buffer copies only the start of each.
			tr.WriteBufferSize = 4 << 10
			cfg.HTTPClient = &http.Client{Transport: tr}
		}
	}
	if region == "" {
		region = defaultRegion
	}
	if creds == nil {
		return nil, false, fmt.Errorf("producer: stream %s: %w: no credentials provider", cfg.StreamName, ErrInvalidConfig)
	}
	if _, ok := creds.(*aws.CredentialsCache); !ok {
		creds = aws.NewCredentialsCache(creds)
	}
	client := kinesisvideo.New(kinesisvideo.Options{
		Region:      region,
		Credentials: creds,
		HTTPClient:  cfg.HTTPClient,
	}, func(o *kinesisvideo.Options) {
		if cfg.EndpointURL != "" {
			o.BaseEndpoint = aws.String(strings.TrimRight(cfg.EndpointURL, "/"))
		}
	})
	return &controlPlane{stream: cfg.StreamName, region: region, client: client, creds: creds}, own, nil
}

// http11Only makes a transport speak HTTP/1.1 only: PutMedia is a chunked
// HTTP/1.1 request, and Go would otherwise negotiate HTTP/2 over TLS.
func http11Only(tr *http.Transport) {
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.MaxIdleConns = 4
	tr.MaxIdleConnsPerHost = 2
	tr.IdleConnTimeout = 90 * time.Second
	if tr.TLSHandshakeTimeout == 0 {
		tr.TLSHandshakeTimeout = 10 * time.Second
	}
}

// credentials retrieves the current credentials from the cache.
func (c *controlPlane) credentials(ctx context.Context) (awsauth.Credentials, error) {
	v, err := c.creds.Retrieve(ctx)
	if err != nil {
		return awsauth.Credentials{}, fmt.Errorf("retrieve credentials: %w", err)
	}
	return awsauth.Credentials{AccessKeyID: v.AccessKeyID, SecretAccessKey: v.SecretAccessKey, SessionToken: v.SessionToken}, nil
}

// invalidateCredentials makes the next retrieval fetch fresh credentials.
func (c *controlPlane) invalidateCredentials() {
	if cc, ok := c.creds.(*aws.CredentialsCache); ok {
		cc.Invalidate()
	}
}

// streamState is what the producer learns about the stream.
type streamState struct {
	arn       string
	retention int
	created   bool
}

// ensureStream describes the stream, creates it when missing and allowed
// (waiting until it is ACTIVE) and, when tag is set, tags it.
func (c *controlPlane) ensureStream(ctx context.Context, cfg *Config, tracks []media.Track, tag bool) (streamState, error) {
	info, err := c.describe(ctx)
	var st streamState
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf) && cfg.CreateStream:
		in := &kinesisvideo.CreateStreamInput{
			StreamName:           aws.String(c.stream),
			DataRetentionInHours: aws.Int32(int32(cfg.RetentionHours)),
			MediaType:            aws.String(mediaType(tracks)),
		}
		if len(cfg.Tags) > 0 {
			in.Tags = cfg.Tags
		}
		if _, err := c.client.CreateStream(ctx, in); err != nil {
			var inUse *types.ResourceInUseException
			if !errors.As(err, &inUse) { // created concurrently by someone else: fine
				return st, fmt.Errorf("producer: stream %s: create: %w", c.stream, err)
			}
		} else {
			st.created = true
		}
		info, err = c.waitActive(ctx)
		if err != nil {
			return st, err
		}
	case errors.As(err, &nf):
		return st, fmt.Errorf("producer: stream %s: describe: %w (%v)", c.stream, ErrStreamNotFound, err)
	case err != nil:
		return st, fmt.Errorf("producer: stream %s: describe: %w", c.stream, err)
	case info.Status != types.StatusActive:
		info, err = c.waitActive(ctx)
		if err != nil {
			return st, err
		}
	}
	st.arn = aws.ToString(info.StreamARN)
	st.retention = int(aws.ToInt32(info.DataRetentionInHours))
	if tag && len(cfg.Tags) > 0 && !st.created {
		if _, err := c.client.TagStream(ctx, &kinesisvideo.TagStreamInput{StreamName: aws.String(c.stream), Tags: cfg.Tags}); err != nil {
			return st, fmt.Errorf("producer: stream %s: tag: %w", c.stream, err)
		}
	}
	return st, nil
}

func (c *controlPlane) describe(ctx context.Context) (*types.StreamInfo, error) {
	out, err := c.client.DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{StreamName: aws.String(c.stream)})
	if err != nil {
		return nil, err
	}
	if out.StreamInfo == nil {
		return nil, errors.New("describe returned no StreamInfo")
	}
	return out.StreamInfo, nil
}

// waitActive polls DescribeStream until the stream is ACTIVE.
func (c *controlPlane) waitActive(ctx context.Context) (*types.StreamInfo, error) {
	delay := 250 * time.Millisecond
	for {
		info, err := c.describe(ctx)
		if err != nil {
			return nil, fmt.Errorf("producer: stream %s: wait for ACTIVE: describe: %w", c.stream, err)
		}
		switch info.Status {
		case types.StatusActive:
			return info, nil
		case types.StatusDeleting:
			return nil, fmt.Errorf("producer: stream %s: wait for ACTIVE: the stream is being deleted", c.stream)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("producer: stream %s: wait for ACTIVE (status %s): %w", c.stream, info.Status, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// dataEndpoint returns the PutMedia data endpoint.
func (c *controlPlane) dataEndpoint(ctx context.Context) (string, error) {
	out, err := c.client.GetDataEndpoint(ctx, &kinesisvideo.GetDataEndpointInput{
		StreamName: aws.String(c.stream), APIName: types.APINamePutMedia,
	})
	if err != nil {
		return "", fmt.Errorf("producer: stream %s: get data endpoint: %w", c.stream, err)
	}
	ep := strings.TrimRight(aws.ToString(out.DataEndpoint), "/")
	if ep == "" {
		return "", fmt.Errorf("producer: stream %s: get data endpoint: empty DataEndpoint", c.stream)
	}
	return ep, nil
}

// mediaType names the stream's content for CreateStream, e.g.
// "video/h264,audio/aac".
func mediaType(tracks []media.Track) string {
	var parts []string
	for _, t := range tracks {
		switch t.Codec {
		case media.CodecH264:
			parts = append(parts, "video/h264")
		case media.CodecH265:
			parts = append(parts, "video/h265")
		case media.CodecAAC:
			parts = append(parts, "audio/aac")
		case media.CodecPCMA:
			parts = append(parts, "audio/alaw")
		case media.CodecPCMU:
			parts = append(parts, "audio/mulaw")
		}
	}
	if len(parts) == 0 {
		return "video/h264"
	}
	return strings.Join(parts, ",")
}
