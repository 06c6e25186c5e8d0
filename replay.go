package streamhttp

import (
	"bytes"
	"context"
	"io"

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
// of input). Compare outputs with streamhttptest.NormalizeDate: every response carries the
// time in its Date field.
func Replay(ctx context.Context, input io.Reader, handler stream.Flow[*Request, *Response], s ServerSettings) ([]byte, error) {
	var out bytes.Buffer // ToWriter copies each piece: the layer's output is valid only until its next pull
	flow := bidi.JoinLeft(handler, ServerLayer(s))
	_, err := stream.RunWith(ctx, stream.Via(stream.FromReader(input, readBufferSize), flow), stream.ToWriter(&out))
	return out.Bytes(), err
}
