package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"kvskit/internal/kvsapi"
	"kvskit/mkv"
)

func newGetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Read media and fragment lists from a stream",
	}
	cmd.AddCommand(newGetMediaCmd(), newGetFragmentsCmd())
	return cmd
}

var fragmentNumberRE = regexp.MustCompile(`^[0-9]+$`)

// parseTime reads RFC 3339 or epoch seconds.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(f * 1000)), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2006-01-02T15:04:05Z) nor epoch seconds", s)
}

// startSelector turns --start into a GetMedia start selector.
func startSelector(start, timestamp string) (kvsapi.StartSelector, error) {
	switch strings.ToLower(start) {
	case "now", "":
		return kvsapi.StartSelector{Type: "NOW"}, nil
	case "earliest":
		return kvsapi.StartSelector{Type: "EARLIEST"}, nil
	}
	if len(start) >= 20 && len(start) <= 128 && fragmentNumberRE.MatchString(start) {
		return kvsapi.StartSelector{Type: "FRAGMENT_NUMBER", FragmentNumber: start}, nil
	}
	t, err := parseTime(start)
	if err != nil {
		return kvsapi.StartSelector{}, fmt.Errorf("--start: %w (or now, earliest, a fragment number)", err)
	}
	typ := "PRODUCER_TIMESTAMP"
	if timestamp == "server" {
		typ = "SERVER_TIMESTAMP"
	}
	return kvsapi.StartSelector{Type: typ, Timestamp: t}, nil
}

// fragmentInfo is what the tags around a fragment of GetMedia say.
type fragmentInfo struct {
	FragmentNumber    string `json:"FragmentNumber"`
	ServerTimestamp   string `json:"ServerTimestamp,omitempty"`
	ProducerTimestamp string `json:"ProducerTimestamp,omitempty"`
	MillisBehindNow   string `json:"MillisBehindNow,omitempty"`
	ContinuationToken string `json:"ContinuationToken,omitempty"`
	Frames            int    `json:"Frames"`
	ErrorCode         string `json:"ErrorCode,omitempty"`
	ErrorID           string `json:"ErrorId,omitempty"`
}

// applyTags takes the values of a fragment's GetMedia tags: a fragment
// number starts a new fragment; the continuation token (or an error) ends
// it, and applyTags then reports true.
func (cur *fragmentInfo) applyTags(tags []mkv.Tag) (done bool) {
	for _, t := range tags {
		switch t.Name {
		case "AWS_KINESISVIDEO_FRAGMENT_NUMBER":
			*cur = fragmentInfo{FragmentNumber: t.Value}
		case "AWS_KINESISVIDEO_SERVER_TIMESTAMP":
			cur.ServerTimestamp = t.Value
		case "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP":
			cur.ProducerTimestamp = t.Value
		case "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW":
			cur.MillisBehindNow = t.Value
		case "AWS_KINESISVIDEO_CONTINUATION_TOKEN":
			cur.ContinuationToken = t.Value
			done = true
		case "AWS_KINESISVIDEO_ERROR_CODE":
			cur.ErrorCode = t.Value
			done = true
		case "AWS_KINESISVIDEO_ERROR_ID":
			cur.ErrorID = t.Value
		}
	}
	return done
}

// decodeTags reads GetMedia output and calls emit once per fragment.
func decodeTags(r io.Reader, emit func(fragmentInfo) error) error {
	mr := mkv.NewReader(r)
	var cur fragmentInfo
	for {
		ev, err := mr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("decode media: %w", err)
		}
		switch ev.Type {
		case mkv.EventBlock:
			cur.Frames += len(ev.Block.Frames)
		case mkv.EventTags:
			done := cur.applyTags(ev.Tags)
			if done {
				if err := emit(cur); err != nil {
					return err
				}
				cur = fragmentInfo{}
			}
		}
	}
}

func openOutput(path string) (io.WriteCloser, error) {
	if path == "-" {
		return nopCloser{os.Stdout}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return f, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func newGetMediaCmd() *cobra.Command {
	var co clientOptions
	var o getMediaOptions
	var out, tags, fragments string
	cmd := &cobra.Command{
		Use:   "media --stream NAME -o FILE|-",
		Short: "Download a stream's media (GetMedia, or GetMediaForFragmentList with --fragments)",
		Long:  getMediaLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.stream == "" || out == "" {
				return errors.New("--stream and -o are required")
			}
			if tags != "" && tags == out && out == "-" {
				return errors.New("--tags and -o cannot both be standard output")
			}
			if fragments != "" && (o.follow || cmd.Flags().Changed("start")) {
				return errors.New("--fragments reads the listed fragments: it takes neither --start nor --follow")
			}
			if fragments == "" {
				// Usage errors before any request.
				if _, err := startSelector(o.start, o.timestamp); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			cfg, endpoint, err := co.resolve(ctx)
			if err != nil {
				return err
			}
			client := kvsapi.New(cfg, endpoint)
			w, err := openOutput(out)
			if err != nil {
				return err
			}
			defer w.Close()
			var tagw io.WriteCloser
			if tags != "" {
				if tagw, err = openOutput(tags); err != nil {
					return err
				}
				defer tagw.Close()
			}
			var n int
			if fragments != "" {
				n, err = getFragmentList(ctx, client, o.stream, strings.Split(fragments, ","), w, tagw)
			} else {
				var tw io.Writer
				if tagw != nil {
					tw = tagw
				}
				n, err = runGetMedia(ctx, client, o, w, tw)
			}
			if err != nil {
				return err
			}
			if out != "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "kvs get media: %d fragments written to %s\n", n, out)
			}
			return nil
		},
	}
	co.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.stream, "stream", "", "stream name (required)")
	f.StringVar(&o.start, "start", "earliest", "where to start: earliest, a fragment number, a time, or now (with --follow)")
	f.StringVar(&o.timestamp, "timestamp", "producer", "which timestamp a --start time refers to: producer or server")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep waiting for new fragments (as tail -f) until SIGINT/SIGTERM")
	f.StringVarP(&out, "output-file", "o", "", "MKV output file, - for standard output (required)")
	f.StringVar(&tags, "tags", "", "write a JSON line per fragment to FILE (- for standard output)")
	f.StringVar(&fragments, "fragments", "", "comma-separated fragment numbers (GetMediaForFragmentList)")
	return cmd
}

// getFragmentList writes the listed fragments (GetMediaForFragmentList).
func getFragmentList(ctx context.Context, client *kvsapi.Client, stream string, numbers []string, w io.Writer, tagw io.Writer) (int, error) {
	body, err := client.GetMediaForFragmentList(ctx, stream, numbers)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n := 0
	err = decodeTags(io.TeeReader(body, w), func(fi fragmentInfo) error {
		n++
		if fi.ErrorCode != "" {
			return fmt.Errorf("the service reported %s (%s) after fragment %d", fi.ErrorCode, fi.ErrorID, n-1)
		}
		if tagw == nil {
			return nil
		}
		b, _ := json.Marshal(fi)
		_, werr := tagw.Write(append(b, '\n'))
		return werr
	})
	return n, err
}

func newGetFragmentsCmd() *cobra.Command {
	var co clientOptions
	var stream, start, end, timestamp, output string
	cmd := &cobra.Command{
		Use:   "fragments --stream NAME",
		Short: "List a stream's fragments (ListFragments)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stream == "" {
				return errors.New("--stream is required")
			}
			in := kvsapi.ListFragmentsInput{Stream: stream, Kind: kvsapi.ProducerTimestamp}
			if timestamp == "server" {
				in.Kind = kvsapi.ServerTimestamp
			} else if timestamp != "producer" {
				return fmt.Errorf("--timestamp %q: want producer or server", timestamp)
			}
			var err error
			if start != "" {
				if in.Start, err = parseTime(start); err != nil {
					return fmt.Errorf("--start: %w", err)
				}
			}
			if end != "" {
				if in.End, err = parseTime(end); err != nil {
					return fmt.Errorf("--end: %w", err)
				}
			}
			ctx := cmd.Context()
			cfg, endpoint, err := co.resolve(ctx)
			if err != nil {
				return err
			}
			frags, err := kvsapi.New(cfg, endpoint).ListFragments(ctx, in)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch output {
			case "json":
				enc := json.NewEncoder(w)
				for _, f := range frags {
					if err := enc.Encode(map[string]any{
						"FragmentNumber": f.Number, "FragmentSizeInBytes": f.Size,
						"ProducerTimestamp":            f.ProducerTimestamp.Format(time.RFC3339Nano),
						"ServerTimestamp":              f.ServerTimestamp.Format(time.RFC3339Nano),
						"FragmentLengthInMilliseconds": f.Duration.Milliseconds(),
					}); err != nil {
						return err
					}
				}
			case "table":
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NUMBER\tPRODUCER TIME\tSERVER TIME\tLENGTH\tBYTES")
				for _, f := range frags {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", f.Number, f.ProducerTimestamp.Format("2006-01-02T15:04:05.000Z07:00"),
						f.ServerTimestamp.Format("2006-01-02T15:04:05.000Z07:00"), f.Duration, f.Size)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			default:
				return fmt.Errorf("--output %q: want table or json", output)
			}
			return nil
		},
	}
	co.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&stream, "stream", "", "stream name (required)")
	f.StringVar(&start, "start", "", "list fragments from this time (RFC 3339 or epoch seconds)")
	f.StringVar(&end, "end", "", "list fragments up to this time (default: now + 1 day)")
	f.StringVar(&timestamp, "timestamp", "producer", "which timestamp --start/--end refer to: producer or server")
	f.StringVar(&output, "output", "table", "table or json (one object per line)")
	return cmd
}
