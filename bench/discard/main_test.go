package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDiscardCountsAChunkedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(discard))
	defer srv.Close()
	body := bytes.Repeat([]byte("kvs"), 100_000)
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/discard", io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // sent chunked, as curl -T with Transfer-Encoding: chunked does
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(got)) != "300000" {
		t.Fatalf("status %d, body %q; want 200 and the byte count 300000", resp.StatusCode, got)
	}
}
