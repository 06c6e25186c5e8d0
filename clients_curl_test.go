package streamhttp

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

// TestCurl serves clientRoute to curl: keep-alive over two URLs of one
// invocation, a chunked upload streamed back, and HTTP/1.0. It needs curl
// on the PATH.
func TestCurl(t *testing.T) {
	leakcheck.Check(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	upload := uploadData(2 << 20)
	file := filepath.Join(t.TempDir(), "upload.bin")
	if err := os.WriteFile(file, upload, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		args       func(base string) []string
		wantStdout []byte
		wantStderr []string // each must appear in curl's -v output
		wantConns  int      // connections curl made ("Connected to" lines)
	}{
		{
			name:       "keep-alive two URLs",
			args:       func(base string) []string { return []string{base + "/a", base + "/b"} },
			wantStdout: []byte("GET /aGET /b"),
			wantStderr: []string{"Re-using existing connection", "< X-Request-Proto: HTTP/1.1"},
			wantConns:  1,
		},
		{
			name: "chunked upload",
			args: func(base string) []string {
				return []string{"-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/octet-stream",
					"--data-binary", "@" + file, base + "/echo"}
			},
			wantStdout: upload,
			wantStderr: []string{"> Transfer-Encoding: chunked", "< X-Chunked: true", "< Transfer-Encoding: chunked"},
			wantConns:  1,
		},
		{
			name:       "HTTP/1.0",
			args:       func(base string) []string { return []string{"--http1.0", base + "/ten"} },
			wantStdout: []byte("GET /ten"),
			wantStderr: []string{"> GET /ten HTTP/1.0", "< HTTP/1.1 200 OK", "< Connection: close", "< X-Request-Proto: HTTP/1.0"},
			wantConns:  1,
		},
		{
			name: "HTTP/1.0 keep-alive two URLs",
			args: func(base string) []string {
				return []string{"--http1.0", "-H", "Connection: keep-alive", base + "/a", base + "/b"}
			},
			wantStdout: []byte("GET /aGET /b"),
			wantStderr: []string{"Re-using existing connection", "< Connection: keep-alive", "< X-Request-Proto: HTTP/1.0"},
			wantConns:  1,
		},
		{
			name:       "two URLs, the first closing",
			args:       func(base string) []string { return []string{"-H", "Connection: close", base + "/a", base + "/b"} },
			wantStdout: []byte("GET /aGET /b"),
			wantStderr: []string{"< Connection: close"},
			wantConns:  2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, base := bindSync(t, clientRoute, ServerSettings{})
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			// -q first: no .curlrc; no proxy, whatever the environment says.
			args := append([]string{"-q", "-sS", "-v", "--noproxy", "*", "--max-time", "10"}, tc.args(base)...)
			cmd := exec.CommandContext(ctx, curl, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
			}
			if !bytes.Equal(stdout.Bytes(), tc.wantStdout) {
				t.Errorf("curl's output: %q (%d bytes), want %q (%d bytes)",
					abbrev(stdout.String()), stdout.Len(), abbrev(string(tc.wantStdout)), len(tc.wantStdout))
			}
			log := stderr.String()
			for _, want := range tc.wantStderr {
				if !strings.Contains(log, want) {
					t.Errorf("curl -v has no %q:\n%s", want, log)
				}
			}
			if got := strings.Count(log, "* Connected to "); got != tc.wantConns {
				t.Errorf("curl made %d connections, want %d:\n%s", got, tc.wantConns, log)
			}
			if _, maxOpen := b.OpenConnections(); tc.wantConns == 1 && maxOpen != 1 {
				t.Errorf("the server had up to %d connections open, want 1", maxOpen)
			}
		})
	}
}
