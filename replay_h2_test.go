package streamhttp_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/internal/echohandler"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Response is one decoded HTTP/2 response, without its Date field.
type h2Response struct {
	Stream  uint32
	Status  string
	Headers []string // name: value, in order
	Body    string
	Reset   string // the RST_STREAM code, if any
}

// decodeH2 decodes the frames a server wrote into responses, by stream.
func decodeH2(t *testing.T, out []byte) []h2Response {
	t.Helper()
	fr := http2.NewFramer(nil, bytes.NewReader(out))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	byID := map[uint32]*h2Response{}
	get := func(id uint32) *h2Response {
		if byID[id] == nil {
			byID[id] = &h2Response{Stream: id}
		}
		return byID[id]
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			r := get(f.StreamID)
			for _, hf := range f.Fields {
				switch hf.Name {
				case ":status":
					r.Status = hf.Value
				case "date":
				default:
					r.Headers = append(r.Headers, hf.Name+": "+hf.Value)
				}
			}
		case *http2.DataFrame:
			get(f.StreamID).Body += string(f.Data())
		case *http2.RSTStreamFrame:
			get(f.StreamID).Reset = f.ErrCode.String()
		}
	}
	var l []h2Response
	for _, r := range byID {
		l = append(l, *r)
	}
	slices.SortFunc(l, func(a, b h2Response) int { return int(a.Stream) - int(b.Stream) })
	return l
}

// TestReplayHTTP2Captures replays the HTTP/2 captures (curl and h2load
// with prior knowledge against the echo example) through the HTTP/2 layer
// and requires the responses the server sent then, decoded.
func TestReplayHTTP2Captures(t *testing.T) {
	for _, name := range []string{"curl-h2c-echo", "h2load-h2c"} {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join("testdata", "captures", name)
			req, err := os.ReadFile(base + ".req")
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(base + ".resp")
			if err != nil {
				t.Fatal(err)
			}
			got, err := streamhttp.ReplayHTTP2(context.Background(), bytes.NewReader(req), echohandler.Handler(1), echoSettings)
			if err != nil {
				t.Fatal(err)
			}
			w, g := decodeH2(t, want), decodeH2(t, got)
			if len(w) == 0 {
				t.Fatal("the capture holds no response")
			}
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("responses (-capture +replay):\n%s", diff)
			}
		})
	}
}

// TestReplayHTTP2Split: the capture split into every 1-byte prefix and
// rest (a preface and frames cut anywhere) replays to the same responses.
func TestReplayHTTP2Split(t *testing.T) {
	req, err := os.ReadFile(filepath.Join("testdata", "captures", "h2load-h2c.req"))
	if err != nil {
		t.Fatal(err)
	}
	want := decodeH2(t, mustReplayH2(t, [][]byte{req}))
	for i := 1; i < len(req); i++ {
		got := decodeH2(t, mustReplayH2(t, [][]byte{req[:i], req[i:]}))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("split at %d (-whole +split):\n%s", i, diff)
		}
	}
}

// pieces is a reader that returns each piece in its own Read.
type pieces [][]byte

func (p *pieces) Read(b []byte) (int, error) {
	for len(*p) > 0 && len((*p)[0]) == 0 {
		*p = (*p)[1:]
	}
	if len(*p) == 0 {
		return 0, io.EOF
	}
	n := copy(b, (*p)[0])
	(*p)[0] = (*p)[0][n:]
	return n, nil
}

func mustReplayH2(t *testing.T, in [][]byte) []byte {
	t.Helper()
	p := pieces(in)
	out, err := streamhttp.ReplayHTTP2(context.Background(), &p, echohandler.Handler(1), echoSettings)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
