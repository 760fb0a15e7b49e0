package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files of the self-signed certificate under the data dir.
const (
	TLSDir      = "tls"
	TLSCertFile = "cert.pem"
	TLSKeyFile  = "key.pem"
)

// Validity of a self-signed certificate, and how long before its end the
// server makes a new one.
const (
	selfSignedValidity = 365 * 24 * time.Hour
	selfSignedRenew    = 30 * 24 * time.Hour
)

// SelfSignedCert returns the data dir's self-signed certificate,
// DATA-DIR/tls/cert.pem with its key DATA-DIR/tls/key.pem (both 0600, the
// directory 0700). It is made on first use (ECDSA P-256, valid a year, for
// localhost, 127.0.0.1, ::1 and every name or address in hosts) and reused
// afterwards; a new one replaces it when it does not cover every host or
// ends within 30 days. made reports a new certificate: clients must then
// trust the new cert.pem. The certificate is its own CA, so cert.pem is the
// CA bundle clients pass (aws --ca-bundle, AWS_CA_BUNDLE).
func SelfSignedCert(dataDir string, hosts []string, now time.Time) (cert tls.Certificate, certPath string, made bool, err error) {
	dir := filepath.Join(dataDir, TLSDir)
	certPath, keyPath := filepath.Join(dir, TLSCertFile), filepath.Join(dir, TLSKeyFile)
	names := append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	cert, err = tls.LoadX509KeyPair(certPath, keyPath)
	switch {
	case err == nil:
		if covers(cert.Leaf, names, now.Add(selfSignedRenew)) {
			return cert, certPath, false, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return tls.Certificate{}, "", false, fmt.Errorf("tls certificate %s: %w (remove %s to make a new one)", certPath, err, dir)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return tls.Certificate{}, "", false, fmt.Errorf("tls certificate: %w", err)
	}
	certPEM, keyPEM, err := newSelfSigned(names, now)
	if err != nil {
		return tls.Certificate{}, "", false, fmt.Errorf("tls certificate: %w", err)
	}
	// The key first: a crash between the two leaves a pair that does not
	// match, which the next start reports instead of serving it.
	if err := writeFileAtomic(keyPath, keyPEM); err != nil {
		return tls.Certificate{}, "", false, fmt.Errorf("tls key %s: %w", keyPath, err)
	}
	if err := writeFileAtomic(certPath, certPEM); err != nil {
		return tls.Certificate{}, "", false, fmt.Errorf("tls certificate %s: %w", certPath, err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, "", false, fmt.Errorf("tls certificate: %w", err)
	}
	return cert, certPath, true, nil
}

// covers reports whether c is valid until at least until and names every
// host (a name or an IP address).
func covers(c *x509.Certificate, hosts []string, until time.Time) bool {
	if c == nil || c.NotAfter.Before(until) {
		return false
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(c.DNSNames, h) {
			return false
		}
	}
	return true
}

func newSelfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kvs serve", Organization: []string{"kvs serve (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if h != "" && !slices.Contains(tmpl.DNSNames, h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), nil
}

// writeFileAtomic replaces path with data, mode 0600, durably.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(fileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
