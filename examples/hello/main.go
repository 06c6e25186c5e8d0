// Command hello is the smallest streamhttp server: it answers "Hello, World!"
// at / (and 404 elsewhere) until it gets SIGINT or SIGTERM.
//
//	go run ./examples/hello -addr 127.0.0.1:8080
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	hello := func(r *streamhttp.Request) *streamhttp.Response {
		if r.URI.Path != "/" {
			return httpcore.Text(httpcore.StatusNotFound, "Not Found\n")
		}
		return httpcore.Text(httpcore.StatusOK, "Hello, World!")
	}
	binding, err := streamhttp.BindAndHandleSync(ctx, *addr, hello, streamhttp.ServerSettings{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("hello: serving http://%s/\n", binding.LocalAddr())

	<-ctx.Done()
	// Stop accepting, then give open connections a moment to finish.
	binding.Unbind(context.Background())
	done, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := binding.Close(done); err != nil {
		log.Print(err)
	}
}
