package bidi_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/stream"
)

// A framing codec: the top direction turns strings into length-prefixed
// frames, the bottom direction turns frames back into strings. Joined with
// an echo on the metal side, it is a flow from strings to strings.
func ExampleJoin() {
	frame := func(s string) []byte {
		return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
	}
	unframe := func(b []byte) string { return string(b[2 : 2+binary.BigEndian.Uint16(b)]) }
	codec := bidi.FromFlows(stream.Map(frame), stream.Map(unframe))

	echo := stream.Map(func(b []byte) []byte {
		fmt.Printf("wire: % x\n", b)
		return b
	})
	out, err := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]string{"hi", "bidi"}), bidi.Join(codec, echo)),
		stream.Collect[string]())
	fmt.Printf("%q %v\n", out, err)
	// Output:
	// wire: 00 02 68 69
	// wire: 00 04 62 69 64 69
	// ["hi" "bidi"] <nil>
}

// A handler meets a layer with JoinLeft: the result takes what the metal
// delivers (here lines of text) and returns what goes back to it.
func ExampleJoinLeft() {
	layer := bidi.FromFlows(
		stream.Map(func(resp string) string { return "< " + resp }), // outbound: render
		stream.Map(strings.TrimSpace),                               // inbound: parse
	)
	handler := stream.Map(strings.ToUpper)
	conn := bidi.JoinLeft(handler, layer)
	out, _ := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]string{" hello ", "world\n"}), conn),
		stream.Collect[string]())
	fmt.Printf("%q\n", out)
	// Output: ["< HELLO" "< WORLD"]
}

// A layer whose directions share state: the inbound side records each
// request's method, the outbound side reads it back and leaves out the body
// of a response to HEAD. Each run gets its own queue; the lock is needed
// because an async handler runs the two directions in different goroutines.
func ExampleFromFunc() {
	methods := bidi.FromFunc(func() (stream.Flow[string, string], stream.Flow[string, string]) {
		var mu sync.Mutex
		var pending []string
		inbound := stream.Map(func(req string) string {
			method, path, _ := strings.Cut(req, " ")
			mu.Lock()
			pending = append(pending, method)
			mu.Unlock()
			return path
		})
		outbound := stream.Map(func(body string) string {
			mu.Lock()
			method := pending[0]
			pending = pending[1:]
			mu.Unlock()
			if method == "HEAD" {
				return "200 (no body)"
			}
			return "200 " + body
		})
		return outbound, inbound
	})
	handler := stream.MapAsync(4, func(_ context.Context, path string) (string, error) {
		return "contents of " + path, nil
	})
	out, _ := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]string{"GET /a", "HEAD /b", "GET /c"}), bidi.JoinLeft(handler, methods)),
		stream.Collect[string]())
	fmt.Println(strings.Join(out, "\n"))
	// Output:
	// 200 contents of /a
	// 200 (no body)
	// 200 contents of /c
}

// A client codec and a server codec face to face: what the client encodes,
// the server decodes, and back.
func ExampleJoinBidi() {
	codec := bidi.FromFlows(
		stream.Map(func(s string) []byte { return []byte(s) }),
		stream.Map(func(b []byte) string { return string(b) }),
	)
	server := stream.Map(func(req string) string { return "re: " + req })
	client := bidi.Join(bidi.JoinBidi(codec, codec), server)
	out, _ := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]string{"ping"}), client), stream.Collect[string]())
	fmt.Println(out)
	// Output: [re: ping]
}

// OneToOne lets at most two requests into the handler at once, and fails
// the stream when the flow it guards answers a request twice.
func ExampleOneToOne() {
	run := func(f stream.Flow[string, string]) ([]string, error) {
		guarded := bidi.Join(bidi.OneToOne[string, string](2), f)
		return stream.RunWith(context.Background(),
			stream.Via(stream.FromSlice([]string{"a", "b", "c"}), guarded), stream.Collect[string]())
	}

	handler := stream.MapAsync(8, func(_ context.Context, req string) (string, error) {
		return "answer to " + req, nil
	})
	fmt.Println(run(handler))

	twice := stream.ViaFlow(stream.Map(func(s string) []string { return []string{s, s} }),
		stream.FlatMapMerge(1, func(xs []string) stream.Source[string] { return stream.FromSlice(xs) }))
	_, err := run(twice)
	var pe *bidi.ProtocolError
	fmt.Println(errors.As(err, &pe), err)
	// Output:
	// [answer to a answer to b answer to c] <nil>
	// true bidi: one-to-one: flow emitted an output for which no input was outstanding
}
