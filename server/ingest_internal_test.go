package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"kvskit/internal/awsauth"
	"kvskit/mkv"
)

// TestPutMediaEndedSessionReleasesConnection: when a session ends before the
// body does (here on invalid data; likewise on shutdown or a limit), the
// server stops reading the body instead of draining the rest of it, which a
// slow producer may take minutes to send and which would hold up a graceful
// shutdown.
func TestPutMediaEndedSessionReleasesConnection(t *testing.T) {
	e := newTestEnv(t, Limits{})
	e.createStream("cut", 1)
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/putMedia", nil)
	req.Header.Set("x-amzn-stream-name", "cut")
	req.Header.Set("x-amzn-fragment-timecode-type", "ABSOLUTE")
	if err := awsauth.SignRequest(context.Background(), req, testCreds, "us-east-1", awsauth.UnsignedPayload, time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "POST /putMedia HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n", req.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	junk := strings.Repeat("\xde\xad\xbe\xef", 256)
	fmt.Fprintf(&head, "%x\r\n%s\r\n", len(junk), junk)
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	// The body stays open: a producer that has more to send, slowly.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	acks, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("response: %v", err)
	}
	if !strings.Contains(string(acks), `"ErrorId":4006`) {
		t.Fatalf("want ERROR 4006, got %s", acks)
	}
	// The response is complete. The server must not hold the connection
	// to drain the rest of the body, so a graceful shutdown is prompt.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := e.ts.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an ended PutMedia session: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the shutdown the connection read gives %v, want it closed", err)
	}
}

// TestCloseClusterMatchesAppendCluster: the Cluster built in place in front
// of a fragment's blocks is byte for byte what mkv.AppendCluster builds.
func TestCloseClusterMatchesAppendCluster(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 100, 126, 127, 16382, 16383, 1 << 20, 3<<20 + 17} {
		for _, tc := range []int64{-5, 0, 1, 255, 256, 1 << 40, 1_700_000_000_123, math.MaxInt64} {
			blocks := make([]byte, n)
			for i := range blocks {
				blocks[i] = byte(rng.Uint32())
			}
			buf := append(make([]byte, clusterHeadRoom), blocks...)
			got := closeCluster(buf, tc)
			if want := mkv.AppendCluster(nil, tc, blocks); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes of blocks at timecode %d: cluster %x..., want %x...", n, tc, got[:24], want[:24])
			}
		}
	}
}
