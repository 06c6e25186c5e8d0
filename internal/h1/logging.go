package h1

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// The log policy of a served connection, in one place:
//
//   - what a client causes (it resets or closes its connection, sends a
//     malformed or oversized body, sends too slowly, does not read) is
//     logged at DEBUG: a client must not be able to fill the server's disk,
//     and a load balancer that resets its idle pooled connections is not
//     an incident. Statistics count these ends.
//   - what the server causes (a handler that fails or panics, a request
//     that times out, a response the server could not finish) is logged at
//     WARN or ERROR, with the connection's addresses;
//   - a panic's stack is logged frame by frame (one attribute per frame),
//     readable with any slog handler rather than one escaped line.

// clientCaused reports whether err is the client's doing: its connection
// ended or failed, it sent a body that is malformed, too large or too
// slow, or it stopped reading.
func clientCaused(err error) bool {
	var pe *httpcore.ParseError
	var sle *entity.SizeLimitError
	switch {
	case err == nil:
		return false
	case errors.Is(err, errTruncated), errors.Is(err, errBodyTooSlow), errors.Is(err, errHeadTimeout),
		errors.Is(err, errLayerDone), errors.Is(err, errDiscarded), errors.Is(err, errPeerGone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.ErrClosedPipe),
		errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, context.Canceled),
		errors.As(err, &pe), errors.As(err, &sle):
		return true
	}
	return false
}

// logEnd logs the failure a connection ended with: at DEBUG when the
// client caused it, at WARN otherwise.
func (c *conn) logEnd(err error) {
	if errors.As(err, new(*stream.PanicError)) {
		return // logged with its stack where it was recovered
	}
	level := slog.LevelWarn
	if clientCaused(err) {
		level = slog.LevelDebug
	}
	if c.s.Logger.Enabled(c.ctx, level) {
		c.s.Logger.Log(c.ctx, level, "streamhttp: connection failed", append(c.info.Attrs(), "err", err)...)
	}
}

// debug logs at DEBUG with the connection's attributes.
func (c *conn) debug(msg string, args ...any) {
	if c.s.Logger.Enabled(c.ctx, slog.LevelDebug) {
		c.s.Logger.Debug(msg, append(c.info.Attrs(), args...)...)
	}
}

// warn logs at warning level with the connection's attributes.
func (c *conn) warn(msg string, args ...any) {
	c.s.Logger.Warn(msg, append(c.info.Attrs(), args...)...)
}

// logHandlerFailure logs the failure of the handler of request seq: a
// panic at ERROR with its stack; a failure the client caused (the handler
// read a body that broke off, say) at DEBUG; another at ERROR.
func logHandlerFailure(logger *slog.Logger, info Info, seq uint64, err error) {
	attrs := append(info.Attrs(), "seq", seq)
	var pe *stream.PanicError
	switch {
	case errors.As(err, &pe):
		logger.Error("streamhttp: handler panicked", append(attrs, "panic", pe.Value, "stack", stackValue(pe.Stack))...)
	case clientCaused(err):
		if logger.Enabled(context.Background(), slog.LevelDebug) {
			logger.Debug("streamhttp: handler failed on the client's input", append(attrs, "err", err)...)
		}
	default:
		logger.Error("streamhttp: handler failed", append(attrs, "err", err)...)
	}
}

// logHandlerFailure logs the failure of request seq's handler (or of its
// response's source) on the connection's logger.
func (c *conn) logHandlerFailure(seq uint64, err error) {
	logHandlerFailure(c.s.Logger, c.info, seq, err)
}

// stackValue turns a goroutine stack as runtime/debug.Stack prints it into
// a group with one attribute per frame, "function (file:line)", numbered
// from the innermost: readable in a text log, structured in a JSON one.
func stackValue(stack []byte) slog.Value {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	var frames []slog.Attr
	for i := 0; i < len(lines); i++ {
		fn := strings.TrimSpace(lines[i])
		if strings.HasPrefix(fn, "goroutine ") || fn == "" {
			continue
		}
		frame := fn
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			loc := strings.TrimSpace(lines[i+1])
			if j := strings.LastIndex(loc, " +0x"); j >= 0 {
				loc = loc[:j]
			}
			frame += " (" + loc + ")"
			i++
		}
		frames = append(frames, slog.String(strconv.Itoa(len(frames)), frame))
	}
	return slog.GroupValue(frames...)
}
