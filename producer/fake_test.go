package producer_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"kvskit/internal/awsauth"
	"kvskit/mkv"
	"kvskit/producer"
)

// putRecord is one PutMedia request as the fake endpoint saw it.
type putRecord struct {
	Proto            string
	TransferEncoding []string
	Path             string
	Header           http.Header
	Body             []byte
	Clusters         []int64 // cluster timecodes in arrival order
	Arrivals         []time.Time
}

// fakeKVS answers the control-plane calls a producer makes and records its
// PutMedia requests; tests script the ACKs.
type fakeKVS struct {
	t         *testing.T
	ts        *httptest.Server
	region    string
	retention int
	verifier  awsauth.Verifier
	hold      chan struct{} // PutMedia handlers wait here without reading when set
	linger    chan struct{} // PutMedia handlers keep the response open after the body ends until closed
	// freeze, when set, makes the first PutMedia handler read the whole
	// request and never answer (no status line) until it is closed.
	freeze chan struct{}
	// dataURL, when set, is the DataEndpoint GetDataEndpoint answers.
	dataURL string

	mu        sync.Mutex
	describes int
	endpoints int
	puts      []*putRecord
	// putStatus, if set, may refuse PutMedia number n (0-based) with an HTTP
	// status and error type.
	putStatus func(n int) (int, string)
	// acks returns the ACK lines for a cluster that ended; nil means
	// RECEIVED and PERSISTED.
	acks func(put, cluster int, tc int64) []string
}

func newFakeKVS(t *testing.T, region string) *fakeKVS {
	f := &fakeKVS{t: t, region: region, retention: 2}
	f.verifier = awsauth.Verifier{Region: region, Lookup: func(id string) (string, bool) {
		if id == testCreds.AccessKeyID {
			return testCreds.SecretAccessKey, true
		}
		return "", false
	}}
	f.ts = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.mu.Lock()
		if f.hold != nil {
			close(f.hold)
		}
		if f.linger != nil {
			close(f.linger)
		}
		if f.freeze != nil {
			close(f.freeze)
		}
		f.mu.Unlock()
		f.ts.CloseClientConnections()
		f.ts.Close()
	})
	return f
}

func (f *fakeKVS) config(t testing.TB, stream string) producer.Config {
	return producer.Config{
		StreamName:  stream,
		Region:      f.region,
		EndpointURL: f.ts.URL,
		Credentials: credentials.NewStaticCredentialsProvider(testCreds.AccessKeyID, testCreds.SecretAccessKey, ""),
		Logger:      testLogger(t),
		RetryBase:   10 * time.Millisecond,
		RetryMax:    50 * time.Millisecond,
	}
}

func (f *fakeKVS) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/putMedia" {
		if _, err := f.verifier.Verify(r); err != nil {
			writeAPIError(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
			return
		}
		f.putMedia(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if _, err := f.verifier.VerifyWithBody(r, body); err != nil {
		writeAPIError(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
		return
	}
	var in struct{ StreamName string }
	_ = json.Unmarshal(body, &in)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/describeStream":
		f.describes++
		_ = json.NewEncoder(w).Encode(map[string]any{"StreamInfo": map[string]any{
			"StreamName": in.StreamName, "StreamARN": "arn:aws:kinesisvideo:" + f.region + ":000000000000:stream/" + in.StreamName + "/1",
			"Status": "ACTIVE", "DataRetentionInHours": f.retention, "Version": "1", "CreationTime": 1.7e9,
		}})
	case "/getDataEndpoint":
		f.endpoints++
		ep := f.ts.URL
		if f.dataURL != "" {
			ep = f.dataURL
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"DataEndpoint": ep})
	case "/tagStream":
		_ = json.NewEncoder(w).Encode(map[string]string{})
	default:
		writeAPIError(w, http.StatusNotFound, "UnknownOperationException", r.URL.Path)
	}
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("x-amzn-ErrorType", code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (f *fakeKVS) putMedia(w http.ResponseWriter, r *http.Request) {
	rec := &putRecord{Proto: r.Proto, TransferEncoding: r.TransferEncoding, Path: r.URL.Path, Header: r.Header.Clone()}
	f.mu.Lock()
	n := len(f.puts)
	f.puts = append(f.puts, rec)
	putStatus, acks, hold, linger, freeze := f.putStatus, f.acks, f.hold, f.linger, f.freeze
	f.mu.Unlock()
	if freeze != nil && n == 0 {
		_, _ = io.Copy(io.Discard, r.Body)
		<-freeze
		return
	}
	if putStatus != nil {
		if status, code := putStatus(n); status != 0 {
			writeAPIError(w, status, code, "refused by the test")
			return
		}
	}
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	if hold != nil {
		<-hold
		return
	}
	send := func(lines ...string) {
		for _, l := range lines {
			if _, err := io.WriteString(w, l+"\n"); err != nil {
				return
			}
		}
		_ = rc.Flush()
	}
	var body bytes.Buffer
	mr := mkv.NewReader(io.TeeReader(r.Body, lockedWriter{&f.mu, &body}))
	defer func() {
		f.mu.Lock()
		rec.Body = body.Bytes()
		f.mu.Unlock()
	}()
	cluster, open := -1, false
	var tc int64
	end := func() {
		if !open {
			return
		}
		open = false
		lines := []string(nil)
		if acks != nil {
			lines = acks(n, cluster, tc)
		}
		if lines == nil {
			lines = []string{ack("RECEIVED", tc), ack("PERSISTED", tc)}
		}
		send(lines...)
	}
	for {
		ev, err := mr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				end()
				if linger != nil {
					select {
					case <-linger:
					case <-r.Context().Done():
					}
				}
			}
			return
		}
		switch ev.Type {
		case mkv.EventClusterStart:
			end()
			cluster++
			open = true
			tc = ev.Timecode
			f.mu.Lock()
			rec.Clusters = append(rec.Clusters, tc)
			rec.Arrivals = append(rec.Arrivals, time.Now())
			f.mu.Unlock()
			send(ack("BUFFERING", tc))
		case mkv.EventClusterEnd, mkv.EventTags, mkv.EventSegmentEnd, mkv.EventHeader:
			end()
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

var fragmentNumber atomic.Int64

func ack(event string, tc int64) string {
	return fmt.Sprintf(`{"EventType":%q,"FragmentTimecode":%d,"FragmentNumber":"91343852333181432%030d","Extra":{"ignored":true}}`,
		event, tc, fragmentNumber.Add(1))
}

func errorAck(id int, code string, tc int64) string {
	return fmt.Sprintf(`{"EventType":"ERROR","FragmentTimecode":%d,"ErrorId":%d,"ErrorCode":%q,"Message":"scripted"}`, tc, id, code)
}

func (f *fakeKVS) records() []*putRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*putRecord, len(f.puts))
	for i, p := range f.puts {
		c := *p
		c.Clusters = append([]int64(nil), p.Clusters...)
		c.Arrivals = append([]time.Time(nil), p.Arrivals...)
		out[i] = &c
	}
	return out
}

// setDataURL changes the DataEndpoint that GetDataEndpoint answers ("" for
// the fake itself).
func (f *fakeKVS) setDataURL(u string) {
	f.mu.Lock()
	f.dataURL = u
	f.mu.Unlock()
}

func (f *fakeKVS) counts() (describes, endpoints int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.describes, f.endpoints
}
