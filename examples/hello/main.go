// Command hello is the smallest streamhttp server: it answers "Hello, World!"
// at / (and 404 elsewhere). SIGTERM stops it gracefully (requests in flight
// finish), Ctrl-C at once: BindAndHandleSync ties the binding to those
// signals.
//
//	go run ./examples/hello -addr 127.0.0.1:8080
package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()

	hello := func(r *streamhttp.Request) *streamhttp.Response {
		if r.URI.Path != "/" {
			return httpcore.Text(httpcore.StatusNotFound, "Not Found\n")
		}
		return httpcore.Text(httpcore.StatusOK, "Hello, World!")
	}
	binding, err := streamhttp.BindAndHandleSync(context.Background(), *addr, hello, streamhttp.ServerSettings{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("hello: serving http://%s/\n", binding.LocalAddr())
	binding.Wait()
}
