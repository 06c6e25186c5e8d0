package streamhttp

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// TestBodySourcePanics: a response body source that panics as it is
// built gets its request a 500 (nothing of the head has left), closes the
// connection after it, and logs the panic with its stack; one that panics
// once it streams closes the connection and logs the same.
func TestBodySourcePanics(t *testing.T) {
	atStart := stream.FromPuller(func(*stream.Materializer) stream.Puller[[]byte] { panic("body bug at start") })
	inStream := stream.FromSeq(func(yield func([]byte) bool) {
		yield([]byte("first"))
		panic("body bug in the stream")
	})
	cases := []struct {
		name, want string
		body       stream.Source[[]byte]
	}{
		{"at start", "HTTP/1.1 500 ", atStart},
		{"in the stream", "HTTP/1.1 200 ", inStream},
	}
	for _, tr := range transports {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				logs, log := newLog()
				handler := stream.Map(func(r *Request) *Response {
					return httpcore.NewResponse(httpcore.StatusOK, entity.ChunkedFromData("text/plain", tc.body))
				})
				client, done := tr.dial(t, handler, ServerSettings{Logger: log})
				io.WriteString(client, get("/")+get("/next"))
				br := bufio.NewReader(client)
				head, err := readHead(br)
				if err != nil || !strings.HasPrefix(head, tc.want) {
					t.Fatalf("answered %q, %v; want %s", head, err, tc.want)
				}
				io.ReadAll(br) // and then the connection closes
				client.Close()
				<-done
				if got := logs.String(); !strings.Contains(got, "body bug") || !strings.Contains(got, "stack.0=") {
					t.Errorf("the panic was not logged with its stack:\n%s", got)
				}
			})
		}
	}
}
