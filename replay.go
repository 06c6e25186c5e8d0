package streamhttp

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"sync"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/stream"
)

// Replay runs the bytes a client sent on one connection through the server
// layer joined with handler, and returns everything the server wrote in
// answer: the replay of a captured (or hand-written) request stream, with no
// socket involved. The end of input is the client closing its side, as
// after the last request of a capture.
//
// Input is read in pieces of the size ServeConn reads, so a replay splits
// the request stream where a live connection that received it all at once
// would. A response whose shape follows the arrival of the input (an echo
// that sends each piece of a streamed body as one chunk) matches a live
// capture only when the capture's pieces were not split differently in
// transit; small captures are.
//
// Nothing is written out of band, as ServeConn does for 100 Continue and a
// 503 whose handler blocks: both come in band, at the same place in the
// output. The output so far is returned with the run's error, nil when the
// layer ended in order (a response that closes the connection, or the end
// of input). Compare outputs with NormalizeDate: every response carries the
// time in its Date field.
func Replay(ctx context.Context, input io.Reader, handler stream.Flow[*Request, *Response], s ServerSettings) ([]byte, error) {
	var out bytes.Buffer // ToWriter copies each piece: the layer's output is valid only until its next pull
	flow := bidi.JoinLeft(handler, ServerLayer(s))
	_, err := stream.RunWith(ctx, stream.Via(stream.FromReader(input, readBufferSize), flow), stream.ToWriter(&out))
	return out.Bytes(), err
}

// DatePlaceholder is the value NormalizeDate puts in every Date field.
const DatePlaceholder = "Thu, 01 Jan 1970 00:00:00 GMT"

// dateField matches a Date field line with an IMF-fixdate value (RFC 9110
// §5.6.7), the form a server sends; the field name is case-insensitive.
var dateField = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?im)^(date:[ \t]*)(?:mon|tue|wed|thu|fri|sat|sun), [0-9]{2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT`)
})

// NormalizeDate returns a copy of b, a stream of HTTP messages, in which
// the value of every Date field is DatePlaceholder, so that the output of a
// replay compares with a capture made at another time. It works on lines:
// a line of a body that looks like a Date field (it starts "Date: " and an
// IMF-fixdate follows) is normalized too. b is not modified.
func NormalizeDate(b []byte) []byte {
	return dateField().ReplaceAll(b, []byte("${1}"+DatePlaceholder))
}
