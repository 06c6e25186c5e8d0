package h2

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamhttp/streamhttp/stream"
	"golang.org/x/net/http2"
)

// FuzzFeed feeds arbitrary frames (after a valid preface) to a connection,
// split where the fuzzer says: the engine must not panic, must stay within
// its input bounds, and everything it writes must parse as frames.
func FuzzFeed(f *testing.F) {
	if seed, err := os.ReadFile(filepath.Join("..", "..", "testdata", "captures", "h2load-h2c.req")); err == nil {
		f.Add(seed[len(http2.ClientPreface):], uint16(7))
	}
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0}, uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		c := NewConn(Config{MaxHeaderListSize: 4096}.Resolved())
		c.goBody = func(func(*stream.Materializer)) {}
		var out bytes.Buffer
		take := func() {
			p, _ := c.Output()
			out.Write(p)
		}
		c.Feed([]byte(http2.ClientPreface))
		step := int(split%64) + 1
		for len(data) > 0 {
			n := min(step, len(data))
			c.Feed(data[:n])
			data = data[n:]
			take()
			if in := inputBuffered(c); in > 2*4096+2*(DefaultMaxFrameSize+9)+64 {
				t.Fatalf("%d bytes of input buffered", in)
			}
		}
		c.Abort()
		take()
		fr := http2.NewFramer(nil, &out)
		for {
			if _, err := fr.ReadFrame(); err != nil {
				if out.Len() > 0 {
					t.Fatalf("output does not parse as frames: %v", err)
				}
				break
			}
		}
	})
}
