// Package kvsapi is the client of the KVS data-plane reads that no AWS SDK
// module here provides: GetMedia, ListFragments and GetMediaForFragmentList.
// Requests are JSON, signed with SigV4 (service kinesisvideo) by
// internal/awsauth; the data endpoint of each API comes from the control
// plane's GetDataEndpoint and is cached.
package kvsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	kvtypes "github.com/aws/aws-sdk-go-v2/service/kinesisvideo/types"

	"kvskit/internal/awsauth"
)

// APIError is an error response of the service.
type APIError struct {
	Op      string
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d): %s", e.Op, e.Code, e.Status, e.Message)
}

// Client calls the data-plane reads of one account and region.
type Client struct {
	region string
	creds  aws.CredentialsProvider
	http   aws.HTTPClient
	kv     *kinesisvideo.Client

	mu        sync.Mutex
	endpoints map[string]cachedEndpoint // stream + API name -> endpoint
}

type cachedEndpoint struct {
	url     string
	expires time.Time
}

// endpointTTL is how long a GetDataEndpoint answer is reused.
const endpointTTL = 40 * time.Minute

// New returns a client for cfg (region, credentials, HTTP client).
// endpointURL overrides the control-plane endpoint (e.g. kvs serve's URL).
func New(cfg aws.Config, endpointURL string) *Client {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	kv := kinesisvideo.NewFromConfig(cfg, func(o *kinesisvideo.Options) {
		if endpointURL != "" {
			o.BaseEndpoint = aws.String(endpointURL)
		}
	})
	return &Client{region: cfg.Region, creds: cfg.Credentials, http: hc, kv: kv, endpoints: map[string]cachedEndpoint{}}
}

// Control returns the control-plane client the data endpoints come from.
func (c *Client) Control() *kinesisvideo.Client { return c.kv }

// DataEndpoint returns the data endpoint of an API for a stream.
func (c *Client) DataEndpoint(ctx context.Context, stream string, api kvtypes.APIName) (string, error) {
	key := stream + "\x00" + string(api)
	c.mu.Lock()
	ce, ok := c.endpoints[key]
	c.mu.Unlock()
	if ok && time.Now().Before(ce.expires) {
		return ce.url, nil
	}
	out, err := c.kv.GetDataEndpoint(ctx, &kinesisvideo.GetDataEndpointInput{StreamName: aws.String(stream), APIName: api})
	if err != nil {
		return "", fmt.Errorf("get data endpoint of %s for %s: %w", stream, api, err)
	}
	url := strings.TrimRight(aws.ToString(out.DataEndpoint), "/")
	c.mu.Lock()
	c.endpoints[key] = cachedEndpoint{url: url, expires: time.Now().Add(endpointTTL)}
	c.mu.Unlock()
	return url, nil
}

// call POSTs a signed JSON request and returns the response for the caller to
// read; errors become *APIError.
func (c *Client) call(ctx context.Context, op, stream string, api kvtypes.APIName, in any) (*http.Response, error) {
	base, err := c.DataEndpoint(ctx, stream, api)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/"+op, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: credentials: %w", op, err)
	}
	sum := sha256.Sum256(body)
	ac := awsauth.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	if err := awsauth.SignRequest(ctx, req, ac, c.region, hex.EncodeToString(sum[:]), time.Now()); err != nil {
		return nil, fmt.Errorf("%s: sign: %w", op, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, stream, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e := &APIError{Op: op, Status: resp.StatusCode, Code: resp.Header.Get("x-amzn-ErrorType")}
		var msg struct {
			Message  string `json:"message"`
			Message2 string `json:"Message"`
			Type     string `json:"__type"`
		}
		if json.Unmarshal(b, &msg) == nil {
			e.Message = msg.Message
			if e.Message == "" {
				e.Message = msg.Message2
			}
			if e.Code == "" {
				e.Code = msg.Type
			}
		}
		if i := strings.IndexByte(e.Code, ':'); i >= 0 {
			e.Code = e.Code[:i]
		}
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(b))
		}
		return nil, e
	}
	return resp, nil
}

// Fragment is one entry of ListFragments.
type Fragment struct {
	Number            string
	Size              int64
	ProducerTimestamp time.Time
	ServerTimestamp   time.Time
	Duration          time.Duration
}

// TimestampKind selects the timestamp a ListFragments range applies to.
type TimestampKind string

// Timestamp kinds of ListFragments.
const (
	ProducerTimestamp TimestampKind = "PRODUCER_TIMESTAMP"
	ServerTimestamp   TimestampKind = "SERVER_TIMESTAMP"
)

// ListFragmentsInput selects fragments; a zero Start and End list all.
type ListFragmentsInput struct {
	Stream     string
	Kind       TimestampKind
	Start, End time.Time
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func fromEpoch(f float64) time.Time {
	return time.UnixMilli(int64(f*1000 + 0.5)).UTC()
}

// ListFragments returns every matching fragment (following NextToken),
// ordered by fragment number.
func (c *Client) ListFragments(ctx context.Context, in ListFragmentsInput) ([]Fragment, error) {
	req := map[string]any{"StreamName": in.Stream, "MaxResults": 1000}
	if !in.Start.IsZero() || !in.End.IsZero() {
		kind := in.Kind
		if kind == "" {
			kind = ProducerTimestamp
		}
		end := in.End
		if end.IsZero() {
			end = time.Now().Add(24 * time.Hour)
		}
		req["FragmentSelector"] = map[string]any{
			"FragmentSelectorType": string(kind),
			"TimestampRange":       map[string]any{"StartTimestamp": epochSeconds(in.Start), "EndTimestamp": epochSeconds(end)},
		}
	}
	var all []Fragment
	for {
		resp, err := c.call(ctx, "listFragments", in.Stream, kvtypes.APINameListFragments, req)
		if err != nil {
			return nil, err
		}
		var out struct {
			Fragments []struct {
				FragmentNumber               string
				FragmentSizeInBytes          int64
				ProducerTimestamp            float64
				ServerTimestamp              float64
				FragmentLengthInMilliseconds int64
			}
			NextToken string
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("listFragments %s: decode response: %w", in.Stream, err)
		}
		for _, f := range out.Fragments {
			all = append(all, Fragment{
				Number: f.FragmentNumber, Size: f.FragmentSizeInBytes,
				ProducerTimestamp: fromEpoch(f.ProducerTimestamp), ServerTimestamp: fromEpoch(f.ServerTimestamp),
				Duration: time.Duration(f.FragmentLengthInMilliseconds) * time.Millisecond,
			})
		}
		if out.NextToken == "" {
			break
		}
		req["NextToken"] = out.NextToken
	}
	sortFragments(all)
	return all, nil
}

func sortFragments(f []Fragment) {
	// Fixed-width decimal numbers: byte order is numeric order.
	sort.Slice(f, func(i, j int) bool { return f[i].Number < f[j].Number })
}

// GetMediaForFragmentList returns the MKV of the listed fragments.
func (c *Client) GetMediaForFragmentList(ctx context.Context, stream string, numbers []string) (io.ReadCloser, error) {
	if len(numbers) == 0 {
		return nil, errors.New("getMediaForFragmentList: no fragments")
	}
	resp, err := c.call(ctx, "getMediaForFragmentList", stream, kvtypes.APINameGetMediaForFragmentList,
		map[string]any{"StreamName": stream, "Fragments": numbers})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// StartSelector says where GetMedia starts.
type StartSelector struct {
	// Type is NOW, EARLIEST, FRAGMENT_NUMBER, SERVER_TIMESTAMP,
	// PRODUCER_TIMESTAMP or CONTINUATION_TOKEN.
	Type              string
	FragmentNumber    string
	Timestamp         time.Time
	ContinuationToken string
}

// GetMedia returns the MKV stream of a stream from the selected start; it
// follows new fragments until the service ends the response or ctx ends.
func (c *Client) GetMedia(ctx context.Context, stream string, sel StartSelector) (io.ReadCloser, error) {
	s := map[string]any{"StartSelectorType": sel.Type}
	switch sel.Type {
	case "FRAGMENT_NUMBER":
		s["AfterFragmentNumber"] = sel.FragmentNumber
	case "SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP":
		s["StartTimestamp"] = epochSeconds(sel.Timestamp)
	case "CONTINUATION_TOKEN":
		s["ContinuationToken"] = sel.ContinuationToken
	}
	resp, err := c.call(ctx, "getMedia", stream, kvtypes.APINameGetMedia, map[string]any{"StreamName": stream, "StartSelector": s})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
