package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvskit/internal/testenv"
	"kvskit/server"
)

// TestServeTLS: kvs serve --tls makes a self-signed certificate in
// DATA-DIR/tls, keeps it across restarts, and the AWS CLI and kvs put
// reach it over HTTPS when given DATA-DIR/tls/cert.pem as CA bundle (flag,
// AWS_CA_BUNDLE or ca_bundle in the shared config); with another CA bundle
// both refuse the server.
func TestServeTLS(t *testing.T) {
	awsBin := testenv.Tool(t, "aws")
	dir := t.TempDir()
	clip := makeClip(t, dir, 2)
	data := filepath.Join(dir, "data")
	p := startServe(t, data, "--tls")
	if !strings.HasPrefix(p.URL, "https://127.0.0.1:") {
		t.Fatalf("ready URL %s", p.URL)
	}
	ca := filepath.Join(data, "tls", "cert.pem")
	for path, mode := range map[string]os.FileMode{filepath.Join(data, "tls"): 0o700, ca: 0o600, filepath.Join(data, "tls", "key.pem"): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v (want mode %#o)", path, err, mode)
		}
	}
	if !strings.Contains(p.Stdout(), "--ca-bundle "+ca) {
		t.Errorf("ready output does not say which CA bundle to use:\n%s", p.Stdout())
	}
	// A CA bundle that is not the server's: another self-signed certificate.
	_, wrong, _, err := server.SelfSignedCert(filepath.Join(dir, "other"), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	awsCLI := func(caArgs []string, args ...string) (string, error) {
		full := append(append([]string{"--endpoint-url", p.URL, "--region", p.Region, "--output", "json"}, caArgs...), args...)
		cmd := exec.Command(awsBin, full...)
		cmd.Env = p.Env()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	kvs := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(kvsBin, args...)
		cmd.Env = append(append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	if out, err := awsCLI([]string{"--ca-bundle", ca}, "kinesisvideo", "list-streams"); err != nil {
		t.Fatalf("aws --ca-bundle over TLS: %v\n%s", err, out)
	}
	if out, err := awsCLI([]string{"--ca-bundle", wrong}, "kinesisvideo", "list-streams"); err == nil || !strings.Contains(out, "CERTIFICATE_VERIFY_FAILED") {
		t.Fatalf("aws with a wrong CA bundle: %v\n%s", err, out)
	}
	if out, err := kvs(nil, "put", clip, "--stream", "tls", "--create-stream", "--ca-bundle", ca, "--output", "json"); err != nil {
		t.Fatalf("kvs put --ca-bundle over TLS: %v\n%s", err, out)
	}
	out, err := kvs([]string{"AWS_CA_BUNDLE=" + ca}, "get", "fragments", "--stream", "tls", "--output", "json")
	if err != nil || strings.Count(out, "FragmentNumber") < 1 {
		t.Fatalf("kvs get fragments with AWS_CA_BUNDLE: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "aws-config")
	if err := os.WriteFile(cfg, []byte("[default]\nca_bundle = "+ca+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := kvs([]string{"AWS_CONFIG_FILE=" + cfg}, "put", clip, "--stream", "tls", "--output", "json"); err != nil {
		t.Fatalf("kvs put with ca_bundle in the shared config: %v\n%s", err, out)
	}
	for _, env := range [][]string{nil, {"AWS_CA_BUNDLE=" + wrong}} {
		args := []string{"put", clip, "--stream", "tls", "--output", "json"}
		if env == nil {
			args = append(args, "--ca-bundle", wrong)
		}
		out, err := kvs(env, args...)
		if err == nil || !strings.Contains(out, "certificate") {
			t.Fatalf("kvs put with a wrong CA bundle %v: %v\n%s", env, err, out)
		}
	}

	// The certificate is kept across restarts.
	before, _ := os.ReadFile(ca)
	p.Stop()
	p2 := startServe(t, data, "--tls")
	after, _ := os.ReadFile(ca)
	if !bytes.Equal(before, after) || strings.Contains(p2.Stdout(), "made a self-signed") {
		t.Fatal("the self-signed certificate was made again on restart")
	}
}

// TestServeOwnCertificate: --tls-cert and --tls-key serve a certificate of
// one's own.
func TestServeOwnCertificate(t *testing.T) {
	awsBin := testenv.Tool(t, "aws")
	dir := t.TempDir()
	if _, _, _, err := server.SelfSignedCert(filepath.Join(dir, "own"), []string{"kvs.example"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "own", "tls", "cert.pem"), filepath.Join(dir, "own", "tls", "key.pem")
	p := startServe(t, filepath.Join(dir, "data"), "--tls-cert", cert, "--tls-key", key)
	if _, err := os.Stat(filepath.Join(dir, "data", "tls")); err == nil {
		t.Error("a self-signed certificate was made although one was given")
	}
	cmd := exec.Command(awsBin, "--endpoint-url", p.URL, "--region", p.Region, "--ca-bundle", cert, "kinesisvideo", "list-streams")
	cmd.Env = p.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws over TLS with one's own certificate: %v\n%s", err, out)
	}
	out, err := exec.Command(kvsBin, "serve", "--data-dir", filepath.Join(dir, "data2"), "--listen", "127.0.0.1:0", "--tls-cert", cert).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--tls-cert and --tls-key go together") {
		t.Fatalf("--tls-cert without --tls-key: %v\n%s", err, out)
	}
}

// TestServeListenAddresses: the URL clients are told to use is never an
// unspecified address, and serving anything but loopback without TLS warns,
// naming the risk. (Checked on addresses, without listening beyond
// loopback.)
func TestServeListenAddresses(t *testing.T) {
	addr := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 4567} }
	for _, tc := range []struct {
		ip, public string
		tls        bool
		url        string
		warn       bool
	}{
		{"127.0.0.1", "", false, "http://127.0.0.1:4567", false},
		{"::1", "", false, "http://[::1]:4567", false},
		{"0.0.0.0", "", false, "http://127.0.0.1:4567", true},
		{"::", "", false, "http://127.0.0.1:4567", true},
		{"::", "", true, "https://127.0.0.1:4567", false},
		{"192.0.2.7", "", false, "http://192.0.2.7:4567", true},
		{"0.0.0.0", "https://cams.example:8443", true, "https://cams.example:8443", false},
	} {
		got := clientURL(serveOptions{publicURL: tc.public}, addr(tc.ip), tc.tls)
		if got != tc.url {
			t.Errorf("%s (tls %v, public %q): client URL %s, want %s", tc.ip, tc.tls, tc.public, got, tc.url)
		}
		w := plainTextWarning(addr(tc.ip), tc.tls)
		if (w != "") != tc.warn || (tc.warn && !strings.Contains(w, "clear text")) {
			t.Errorf("%s (tls %v): warning %q", tc.ip, tc.tls, w)
		}
	}
	hosts := tlsHosts(serveOptions{publicURL: "https://cams.example:8443/"}, addr("192.0.2.7"))
	if strings.Join(hosts, ",") != "cams.example,192.0.2.7" {
		t.Errorf("certificate hosts %v", hosts)
	}
}
