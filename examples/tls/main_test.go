package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/internal/exampletest"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// start runs the server on a free port until the test ends and returns its
// address and certificate.
func start(t *testing.T) (string, *x509.Certificate) {
	t.Helper()
	var cert *x509.Certificate
	addr := exampletest.Start(t, func(ctx context.Context, ready func(net.Addr)) error {
		return run(ctx, "127.0.0.1:0", func(a net.Addr, c *x509.Certificate) {
			cert = c
			ready(a)
		})
	})
	return addr, cert
}

// TestHTTPS: a client that trusts the generated certificate gets the answer,
// with what its handshake negotiated; a client that does not, or that
// expects another name, fails the handshake.
func TestHTTPS(t *testing.T) {
	addr, cert := start(t)
	trusted := x509.NewCertPool()
	trusted.AddCert(cert)
	tests := []struct {
		name    string
		config  *tls.Config
		want    string // the body, or a part of the error
		wantErr bool
	}{
		{"by IP address", &tls.Config{RootCAs: trusted}, "Hello, World!\nTLS 1.3, ALPN none\n", false},
		{"by name", &tls.Config{RootCAs: trusted, ServerName: "localhost"}, "Hello, World!\nTLS 1.3, ALPN none\n", false},
		{"ALPN http/1.1", &tls.Config{RootCAs: trusted, NextProtos: []string{"http/1.1"}}, "Hello, World!\nTLS 1.3, ALPN http/1.1\n", false},
		{"ALPN h2", &tls.Config{RootCAs: trusted}, "Hello, World!\nTLS 1.3, ALPN h2\n", false},
		{"TLS 1.2", &tls.Config{RootCAs: trusted, MaxVersion: tls.VersionTLS12}, "Hello, World!\nTLS 1.2, ALPN none\n", false},
		{"untrusted", &tls.Config{}, "certificate signed by unknown authority", true},
		{"other name", &tls.Config{RootCAs: trusted, ServerName: "example.com"}, "not example.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: tt.config, Protocols: new(http.Protocols)}
			tr.Protocols.SetHTTP1(true)
			tr.Protocols.SetHTTP2(tt.name == "ALPN h2") // the server prefers h2
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			resp, err := client.Get("https://" + addr + "/")
			if tt.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatal("no error")
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %q, want it to contain %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCertificate checks the generated certificate: its names, its validity
// period, and the fingerprint as printed.
func TestCertificate(t *testing.T) {
	now := time.Now()
	cert, err := selfSigned(now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if err := leaf.VerifyHostname(host); err != nil {
			t.Errorf("VerifyHostname(%s): %v", host, err)
		}
	}
	if err := leaf.VerifyHostname("example.com"); err == nil {
		t.Error("the certificate is valid for example.com")
	}
	if d := leaf.NotAfter.Sub(now); d < 23*time.Hour || d > 24*time.Hour {
		t.Errorf("valid for %v from now, want 24h", d)
	}
	if leaf.NotBefore.After(now) {
		t.Errorf("NotBefore %v is after now %v", leaf.NotBefore, now)
	}
	sum := sha256.Sum256(leaf.Raw)
	want := strings.ToUpper(hex.EncodeToString(sum[:]))
	got := strings.ReplaceAll(fingerprint(leaf), ":", "")
	if got != want || len(fingerprint(leaf)) != 32*3-1 {
		t.Errorf("fingerprint %s, want %s in pairs", fingerprint(leaf), want)
	}
}
