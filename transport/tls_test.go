package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2hil learner"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestTLS: with a certificate the learner speaks TLS only; an actor that
// trusts it connects (with the token), a plaintext one does not.
func TestTLS(t *testing.T) {
	cert, key := selfSigned(t)
	s := startServer(t, func(c *ServerConfig) { c.TLSCert, c.TLSKey, c.Token = cert, key, "tok" })
	for _, tc := range []struct {
		name string
		ca   string
		ok   bool
	}{{"trusting the certificate", cert, true}, {"plaintext", "", false}} {
		cfg := DefaultClientConfig()
		cfg.Addr, cfg.Token, cfg.TLSCA, cfg.CallTimeout = s.Addr(), "tok", tc.ca, 2*time.Second
		c, err := NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Ready(context.Background()); (err == nil) != tc.ok {
			t.Errorf("%s: Ready = %v, want ok %v", tc.name, err, tc.ok)
		}
		c.Close()
	}
}
