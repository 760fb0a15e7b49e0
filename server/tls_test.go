package server

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSelfSignedCert(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	cert, path, made, err := SelfSignedCert(dir, []string{"cams.example", "192.0.2.7"}, now)
	if err != nil || !made || path != filepath.Join(dir, "tls", "cert.pem") {
		t.Fatalf("first use: %v made=%v path=%s", err, made, path)
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("cert.pem holds no certificate")
	}
	// cert.pem is the CA bundle: the certificate verifies against it for
	// every name it must carry.
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "cams.example", "192.0.2.7"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: roots, CurrentTime: now}); err == nil {
		t.Error("verified for a name it does not carry")
	}
	if bad := modesUnder(t, filepath.Join(dir, "tls")); len(bad) > 0 {
		t.Fatalf("loose modes: %v", bad)
	}

	// Reused while it covers the hosts; made again for a new host and
	// before it expires.
	if _, _, made, err := SelfSignedCert(dir, []string{"cams.example"}, now); err != nil || made {
		t.Fatalf("second use: %v made=%v", err, made)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, pemBytes) {
		t.Fatal("certificate rewritten although reused")
	}
	if _, _, made, err := SelfSignedCert(dir, []string{"new.example"}, now); err != nil || !made {
		t.Fatalf("new host: %v made=%v", err, made)
	}
	if _, _, made, err := SelfSignedCert(dir, nil, now.Add(340*24*time.Hour)); err != nil || !made {
		t.Fatalf("near expiry: %v made=%v", err, made)
	}
	// A damaged pair is reported, not replaced silently.
	if err := os.WriteFile(filepath.Join(dir, "tls", "key.pem"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := SelfSignedCert(dir, nil, now); err == nil {
		t.Fatal("damaged key accepted")
	}
}
