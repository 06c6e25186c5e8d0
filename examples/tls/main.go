// Command tls serves HTTPS with a self-signed certificate that it makes at
// start: an ECDSA P-256 key and a certificate for 127.0.0.1, ::1 and
// localhost, valid for 24 hours. It prints the URL and the SHA-256
// fingerprint of the certificate, and answers every request with
// "Hello, World!" and the TLS version and ALPN protocol the connection
// negotiated (Request.TLS). TLS is a setting: ServerSettings.TLSConfig makes
// BindAndHandleSync wrap every accepted connection with tls.Server; the
// handler is the same as over plain TCP.
//
// Run it with
//
//	go run ./examples/tls -addr 127.0.0.1:8080 -cert-out cert.pem
//
// and trust the certificate it wrote:
//
//	curl --cacert cert.pem https://localhost:8080/
//
// or skip verification (curl -k https://127.0.0.1:8080/) and compare the
// fingerprint with the one printed:
//
//	openssl s_client -connect 127.0.0.1:8080 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	certOut := flag.String("cert-out", "", "write the certificate (PEM) to this file, for curl --cacert")
	flag.Parse()

	ready := func(a net.Addr, cert *x509.Certificate) {
		fmt.Printf("tls: serving https://%s/\n", a)
		fmt.Printf("tls: certificate SHA-256 fingerprint %s\n", fingerprint(cert))
		if *certOut != "" {
			data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
			if err := os.WriteFile(*certOut, data, 0o644); err != nil {
				log.Print(err)
			}
		}
	}
	if err := run(context.Background(), *addr, ready); err != nil {
		log.Fatal(err)
	}
}

// run serves on addr until the server is stopped: gracefully by SIGTERM, at
// once by SIGINT (BindAndHandleSync handles both) or by cancelling ctx. It
// calls ready with the bound address and the server's certificate once it
// accepts connections.
func run(ctx context.Context, addr string, ready func(net.Addr, *x509.Certificate)) error {
	cert, err := selfSigned(time.Now())
	if err != nil {
		return err
	}
	settings := streamhttp.ServerSettings{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	binding, err := streamhttp.BindAndHandleSync(ctx, addr, hello, settings)
	if err != nil {
		return err
	}
	ready(binding.LocalAddr(), cert.Leaf)
	binding.Wait()
	return nil
}

// hello answers with what the TLS handshake negotiated.
func hello(r *streamhttp.Request) *streamhttp.Response {
	if r.TLS == nil { // not with this server's settings
		return httpcore.Text(httpcore.StatusOK, "Hello, World!\nno TLS\n")
	}
	alpn := r.TLS.NegotiatedProtocol
	if alpn == "" {
		alpn = "none"
	}
	return httpcore.Text(httpcore.StatusOK, fmt.Sprintf("Hello, World!\n%s, ALPN %s\n", tls.VersionName(r.TLS.Version), alpn))
}

// selfSigned makes a key and a self-signed certificate for the loopback
// addresses and localhost, valid for 24 hours from now.
func selfSigned(now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	template := &x509.Certificate{
		// A nil SerialNumber makes CreateCertificate pick a random one.
		Subject:     pkix.Name{CommonName: "localhost"},
		NotBefore:   now.Add(-time.Minute), // some slack for clocks
		NotAfter:    now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// fingerprint is the SHA-256 of the certificate's DER bytes, written the
// way openssl x509 -fingerprint writes it (AB:CD:...).
func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hex, ":")
}
