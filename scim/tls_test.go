package scim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestConnectUntrustedCertificateFailsFast: a host whose certificate the
// client does not trust, or that speaks another protocol than TLS, fails Connect at once
// with a ConfigError naming it and the fix (it used to be retried 8 times
// over some 40 s, then reported without one).
func TestConnectUntrustedCertificateFailsFast(t *testing.T) {
	cleanEnv(t)
	srv := httptest.NewTLSServer(http.NotFoundHandler()) // a self-signed certificate
	defer srv.Close()
	// A server of another protocol on the port (SSH, say).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
			c.Close()
		}
	}()
	for _, tt := range []struct {
		host, problem, fix string
	}{
		{srv.URL, "certificate signed by unknown authority", "SSL_CERT_FILE"},
		{"https://" + ln.Addr().String(), "does not look like a TLS handshake", "does not speak TLS"},
	} {
		_, err := Connect(context.Background(), Settings{Host: tt.host, Token: "dapi-tls-token-1"})
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Op != "connect" || !strings.Contains(ce.Problem, tt.host) ||
			!strings.Contains(ce.Problem, tt.problem) || !strings.Contains(ce.Fix, tt.fix) {
			t.Errorf("Connect(%s) = %v, want a connect ConfigError naming the host, %q and a fix with %q", tt.host, err, tt.problem, tt.fix)
		}
		if err != nil && strings.Contains(err.Error(), "dapi-tls") {
			t.Errorf("error leaks the token: %v", err)
		}
	}
}

// TestTLSFailureNotRetried: a request whose TLS handshake fails is not
// retried (nothing was sent, and every retry fails alike).
func TestTLSFailureNotRetried(t *testing.T) {
	for _, cause := range []error{
		&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}},
		x509.HostnameError{Certificate: &x509.Certificate{}, Host: "10.0.0.1"},
		tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"},
	} {
		reg := newMock(t)
		reg.Register("handshake", rest("GET", usersPath+"/1"), fail(&net.OpError{Op: "remote error", Net: "tcp", Err: cause})).Times(1)
		retries := 0
		sess, _ := connectMock(t, reg, func(s *Settings) { s.OnRetry = func(RetryEvent) { retries++ } })
		_, err := workspaceClient(t, sess).Users.Get(context.Background(), "1", GetOptions{})
		if err == nil || retries != 0 {
			t.Errorf("%T: error %v after %d retries, want the error and no retry", cause, err, retries)
		}
	}
}
