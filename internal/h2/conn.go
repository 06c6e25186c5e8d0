package h2

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Conn is the state of one server connection: settings, windows, the
// stream table, the HPACK contexts, timers and the GOAWAY state. Every
// field below mu is guarded by it: the reader (Feed), the writer (Output),
// the handler side (NextRequest, Respond) and the request and response
// bodies all take it for short, non-blocking sections, and wake each other
// through the one-slot channels below. Nothing in a locked section does
// I/O or calls user code.
type Conn struct {
	cfg   Config
	start time.Time

	// wakes the writer: output or sendable data appeared, or the end.
	outWake chan struct{}
	// wakes NextRequest: a request was queued, or no more will come.
	reqWake chan struct{}
	// wakes the reader waiting for the output backlog to drain.
	readWake chan struct{}
	// done is closed once the connection has nothing more to write.
	done chan struct{}

	mu sync.Mutex

	// Input: the bytes from inOff on; the Framer reads them through
	// inReader, and only ever whole frames (or whole header blocks), so it
	// never runs dry. During Feed, in is the caller's bytes when nothing
	// was left over before; what is left of them after a Feed (a partial
	// frame) is copied into inBuf, which in is then a view of.
	in       []byte
	inOff    int
	inBuf    []byte
	fr       *http2.Framer
	preface  bool // the client preface has arrived
	settings bool // the client's first SETTINGS has arrived
	stopRead bool // a connection error: the rest of the input is ignored

	// Output: bytes for the transport, and the buffer handed out last
	// (valid until the next Output call).
	out, spare []byte
	henc       *hpack.Encoder
	hbuf       *bytes.Buffer // henc's output

	// The peer's settings.
	peerMaxFrame   uint32
	peerInitWindow int32
	acked          bool // the client acknowledged our SETTINGS

	// Flow control: what we may send on the connection, what the client
	// may still send, and credit earned (body bytes consumed) not yet
	// returned with WINDOW_UPDATE.
	sendWindow int64
	recvAvail  int32
	recvUnsent int32

	streams map[uint32]*strm // open and half-closed streams
	maxID   uint32           // the highest client stream id seen
	queue   []*strm          // requests not yet taken by the handler
	handed  []*strm          // requests taken, oldest first (answered ones leave lazily)
	bySeq   map[uint64]*strm // requests received and not yet answered
	seq     uint64
	sending []*strm // streams whose response is being written

	goAway      bool   // we sent GOAWAY: no new stream is accepted
	goAwayID    uint32 // its last stream id
	inputDone   bool   // the input ended
	handlerDone bool   // the handler flow ended
	noMoreReqs  bool   // the handler asked for no further request
	finished    bool   // nothing is written after out
	err         error  // why the connection failed, if it did

	tokens     float64 // the flood budget (Config.FloodBurst, FloodRate)
	tokensAt   time.Time
	lastActive time.Time
	timer      *time.Timer
	ticks      uint64 // how often the timer has fired: the request timeout's clock

	// goBody starts a response body pump (set by the layer); pumps counts
	// those running.
	goBody func(func(*stream.Materializer))
	pumps  int
	// parked is the state kept by Park (park.go).
	parked *Parked
}

// ErrClosed is the failure of a request body whose stream or connection
// closed before the body was complete.
var ErrClosed = errors.New("h2: the stream was closed before the request body was complete")

// ConnError is how a connection ended because of a protocol error: the
// GOAWAY code sent and the reason.
type ConnError struct {
	Code   http2.ErrCode
	Reason string
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("h2: connection error %v: %s", e.Code, e.Reason)
}

// NewConn returns the state of a new server connection, with our SETTINGS
// and the connection window's WINDOW_UPDATE already in its output, or of a
// parked one resuming (Config.Resume). cfg must be resolved
// (Config.Resolved).
func NewConn(cfg Config) *Conn {
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	c := &Conn{
		cfg:            cfg,
		outWake:        make(chan struct{}, 1),
		reqWake:        make(chan struct{}, 1),
		readWake:       make(chan struct{}, 1),
		done:           make(chan struct{}),
		peerMaxFrame:   DefaultMaxFrameSize,
		peerInitWindow: initialWindow,
		sendWindow:     initialWindow,
		recvAvail:      cfg.ConnWindow,
		streams:        make(map[uint32]*strm),
		bySeq:          make(map[uint64]*strm),
		tokens:         float64(cfg.FloodBurst),
	}
	c.start = time.Now()
	c.tokensAt, c.lastActive = c.start, c.start
	c.out, c.spare = getOutBuffer(), getOutBuffer()
	c.fr = http2.NewFramer((*outWriter)(c), (*inReader)(c))
	c.fr.SetMaxReadFrameSize(cfg.MaxFrameSize)
	c.fr.MaxHeaderListSize = cfg.MaxHeaderListSize
	if p := cfg.Resume; p != nil {
		c.resume(p)
		c.timer = time.AfterFunc(c.tickPeriod(), c.tick)
		return c
	}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.hbuf = new(bytes.Buffer)
	c.henc = hpack.NewEncoder(c.hbuf)
	c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: cfg.MaxConcurrentStreams},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(cfg.StreamWindow)},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: cfg.MaxFrameSize},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: cfg.MaxHeaderListSize},
		http2.Setting{ID: http2.SettingNoRFC7540Priorities, Val: 1},
	)
	if d := cfg.ConnWindow - initialWindow; d > 0 {
		c.fr.WriteWindowUpdate(0, uint32(d))
	}
	c.timer = time.AfterFunc(c.tickPeriod(), c.tick)
	return c
}

// inReader is the Framer's view of the buffered input.
type inReader Conn

func (r *inReader) Read(p []byte) (int, error) {
	b := r.in[r.inOff:]
	if len(b) == 0 {
		return 0, io.ErrUnexpectedEOF // never: whole frames are checked first
	}
	n := copy(p, b)
	r.inOff += n
	return n, nil
}

// outWriter is the Framer's output: frames append to the connection's
// output buffer, so that they batch into one transport write.
type outWriter Conn

func (w *outWriter) Write(p []byte) (int, error) {
	w.out = append(w.out, p...)
	return len(p), nil
}

// Done is closed once the connection has written its last bytes.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err reports why the connection failed, nil for an orderly end.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Feed processes input bytes: p is not kept.
func (c *Conn) Feed(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopRead || c.finished {
		return
	}
	c.lastActive = time.Now()
	if c.inOff == len(c.in) {
		c.in, c.inOff = p, 0 // nothing left over: the frames are read in place
	} else {
		c.inBuf = append(append(c.inBuf[:0], c.in[c.inOff:]...), p...)
		c.in, c.inOff = c.inBuf, 0
	}
	c.process()
	rest := c.in[c.inOff:]
	switch {
	case len(rest) == 0 || c.stopRead || c.finished:
		c.in, c.inOff = nil, 0 // p is not kept
		if cap(c.inBuf) > 64<<10 {
			c.inBuf = nil // a large header block or frame has passed
		}
	default: // a partial frame: kept (rest may overlap inBuf; append moves it down)
		c.inBuf = append(c.inBuf[:0], rest...)
		c.in, c.inOff = c.inBuf, 0
	}
}

// InputEnded records the end of the input: err is nil for a clean end.
// An HTTP/2 client does not half-close: the end of its input is the end
// of the connection, and the requests in progress are cancelled; with
// Config.HalfClose (a replay) the requests received in full are answered
// first.
func (c *Conn) InputEnded(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inputDone = true
	if err != nil || !c.cfg.HalfClose || !c.settings {
		c.finish(nil)
		return
	}
	for _, s := range c.streamList() {
		if !s.remoteClosed {
			c.closeStream(s, ErrClosed)
		}
	}
	signal(c.reqWake)
	c.checkDone()
}

// Backlogged reports whether output waits for the transport beyond
// MaxOutputBuffer; the reader then waits on ReadWake before it reads on.
func (c *Conn) Backlogged() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out) > c.cfg.MaxOutputBuffer && !c.finished
}

// ReadWake is signalled when the output backlog shrinks.
func (c *Conn) ReadWake() <-chan struct{} { return c.readWake }

// Reading reports whether input is still wanted.
func (c *Conn) Reading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.stopRead && !c.finished
}

// frameHeader reads the 9-byte frame header at the start of b.
func frameHeader(b []byte) (length uint32, typ http2.FrameType, flags http2.Flags, id uint32) {
	length = uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	return length, http2.FrameType(b[3]), http2.Flags(b[4]), binary.BigEndian.Uint32(b[5:9]) & (1<<31 - 1)
}

// process handles every complete frame in the buffered input.
func (c *Conn) process() {
	for !c.stopRead && !c.finished {
		b := c.in[c.inOff:]
		if !c.preface {
			n := min(len(b), len(http2.ClientPreface))
			if string(b[:n]) != http2.ClientPreface[:n] {
				c.connError(http2.ErrCodeProtocol, "invalid connection preface")
				return
			}
			if n < len(http2.ClientPreface) {
				return
			}
			c.inOff += n
			c.preface = true
			continue
		}
		if len(b) < 9 {
			return
		}
		length, typ, flags, id := frameHeader(b)
		if length > c.cfg.MaxFrameSize {
			c.connError(http2.ErrCodeFrameSize, fmt.Sprintf("frame of %d bytes over MaxFrameSize %d", length, c.cfg.MaxFrameSize))
			return
		}
		if !c.settings && (typ != http2.FrameSettings || flags.Has(http2.FlagSettingsAck)) {
			c.connError(http2.ErrCodeProtocol, "the client preface does not end with SETTINGS")
			return
		}
		need := 9 + int(length)
		if typ == http2.FrameHeaders && !flags.Has(http2.FlagHeadersEndHeaders) {
			complete, ok := c.scanBlock(b, need, id)
			if !ok || !complete {
				return
			}
		}
		if len(b) < need {
			return
		}
		if typ == http2.FramePriority && length != 5 && id != 0 {
			// RFC 9113 §6.3: a stream error, where the Framer reports a
			// connection error.
			c.inOff += need
			c.resetStream(id, http2.ErrCodeFrameSize, true)
			continue
		}
		if typ == http2.FrameContinuation && length == 0 && !c.charge() {
			return
		}
		if typ == http2.FrameData {
			// Most of the input: read in place, without the Framer's copy.
			c.inOff += need
			c.readData(id, flags, b[9:need])
			continue
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.frameError(typ, id, err)
			continue
		}
		c.handleFrame(f)
	}
}

// scanBlock checks that a header block (HEADERS without END_HEADERS and
// its CONTINUATION frames) is complete in b, whose first frame is need
// bytes long, and within its limits: the Framer reads the whole block at
// once. ok is false after a connection error.
func (c *Conn) scanBlock(b []byte, need int, id uint32) (complete, ok bool) {
	limit := 2 * int(c.cfg.MaxHeaderListSize)
	total, frames := need-9, 0
	pos := need
	for {
		if total > limit {
			c.connError(http2.ErrCodeProtocol, "header block over twice MaxHeaderListSize")
			return false, false
		}
		if len(b) < pos+9 {
			return false, true
		}
		length, typ, flags, sid := frameHeader(b[pos:])
		if typ != http2.FrameContinuation || sid != id {
			return true, true // the Framer reports the error
		}
		if length > c.cfg.MaxFrameSize {
			c.connError(http2.ErrCodeFrameSize, "CONTINUATION frame over MaxFrameSize")
			return false, false
		}
		if frames++; frames > c.cfg.MaxContinuations {
			c.connError(http2.ErrCodeEnhanceYourCalm, "too many CONTINUATION frames (MaxContinuations)")
			return false, false
		}
		if length == 0 && !c.charge() {
			return false, false
		}
		total += int(length)
		pos += 9 + int(length)
		if flags.Has(http2.FlagContinuationEndHeaders) {
			return len(b) >= pos, true
		}
	}
}

// frameError handles an error of the Framer.
func (c *Conn) frameError(typ http2.FrameType, id uint32, err error) {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		if typ == http2.FrameHeaders && se.StreamID > c.maxID && c.streams[se.StreamID] == nil {
			c.maxID = se.StreamID // the stream was opened, and is closed now
		}
		c.resetStream(se.StreamID, se.Code, true)
	case errors.As(err, &ce):
		reason := "malformed frame"
		if d := c.fr.ErrorDetail(); d != nil {
			reason = d.Error()
		}
		c.connError(http2.ErrCode(ce), reason)
	default:
		c.connError(http2.ErrCodeProtocol, err.Error())
	}
}

// handleFrame acts on one frame.
func (c *Conn) handleFrame(f http2.Frame) {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		c.handleSettings(f)
	case *http2.MetaHeadersFrame:
		c.handleHeaders(f)
	case *http2.DataFrame:
		c.handleData(f.StreamID, int32(f.Length), f.Data(), f.StreamEnded())
	case *http2.WindowUpdateFrame:
		c.handleWindowUpdate(f)
	case *http2.RSTStreamFrame:
		c.handleReset(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			c.fr.WritePing(true, f.Data)
			signal(c.outWake)
		}
	case *http2.GoAwayFrame:
		// The client is leaving: finish what is under way, take nothing new.
		c.shutdown()
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			c.resetStream(f.StreamID, http2.ErrCodeProtocol, true) // RFC 9113 §5.3.1
		}
	case *http2.PushPromiseFrame:
		c.connError(http2.ErrCodeProtocol, "PUSH_PROMISE from a client")
	default:
		// Unknown and extension frames are ignored (RFC 9113 §4.1).
	}
}

func (c *Conn) handleSettings(f *http2.SettingsFrame) {
	if f.IsAck() {
		c.acked = true
		return
	}
	c.settings = true
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.henc.SetMaxDynamicTableSize(s.Val)
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = s.Val
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - int64(c.peerInitWindow)
			c.peerInitWindow = int32(s.Val)
			for _, st := range c.streams {
				st.sendWindow += delta
				if st.sendWindow > maxWindow {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
		}
		return nil
	})
	if err != nil {
		var ce http2.ConnectionError
		code := http2.ErrCodeProtocol
		if errors.As(err, &ce) {
			code = http2.ErrCode(ce)
		}
		c.connError(code, "invalid SETTINGS: "+err.Error())
		return
	}
	c.fr.WriteSettingsAck()
	signal(c.outWake)
}

func (c *Conn) handleWindowUpdate(f *http2.WindowUpdateFrame) {
	if f.StreamID == 0 {
		c.sendWindow += int64(f.Increment)
		if c.sendWindow > maxWindow {
			c.connError(http2.ErrCodeFlowControl, "connection window over 2^31-1")
			return
		}
		signal(c.outWake)
		return
	}
	if f.StreamID > c.maxID {
		c.connError(http2.ErrCodeProtocol, "WINDOW_UPDATE on an idle stream")
		return
	}
	s := c.streams[f.StreamID]
	if s == nil {
		return // closed: credit for nothing
	}
	s.sendWindow += int64(f.Increment)
	if s.sendWindow > maxWindow {
		c.resetStream(s.id, http2.ErrCodeFlowControl, true)
		return
	}
	signal(s.sendWake)
	signal(c.outWake)
}

func (c *Conn) handleReset(f *http2.RSTStreamFrame) {
	if f.StreamID > c.maxID {
		c.connError(http2.ErrCodeProtocol, "RST_STREAM on an idle stream")
		return
	}
	if !c.charge() {
		return
	}
	if s := c.streams[f.StreamID]; s != nil {
		c.closeStream(s, fmt.Errorf("h2: stream reset by the client (%v)", f.ErrCode))
	}
}

// charge takes one token from the flood budget; false (after a GOAWAY
// ENHANCE_YOUR_CALM) when it is empty.
func (c *Conn) charge() bool {
	now := time.Now()
	c.tokens = min(c.tokens+now.Sub(c.tokensAt).Seconds()*float64(c.cfg.FloodRate), float64(c.cfg.FloodBurst))
	c.tokensAt = now
	if c.tokens < 1 {
		c.connError(http2.ErrCodeEnhanceYourCalm, "too many resets or empty frames (FloodBurst, FloodRate)")
		return false
	}
	c.tokens--
	return true
}

// resetStream sends RST_STREAM and closes the stream if it is open;
// provoked says the client caused it, which costs flood budget
// (MadeYouReset).
func (c *Conn) resetStream(id uint32, code http2.ErrCode, provoked bool) {
	if provoked && !c.charge() {
		return
	}
	c.fr.WriteRSTStream(id, code)
	signal(c.outWake)
	if s := c.streams[id]; s != nil {
		c.closeStream(s, fmt.Errorf("h2: stream reset by the server (%v)", code))
	}
}

// connError ends the connection with GOAWAY(code): the input is ignored
// from here on, and every stream ends.
func (c *Conn) connError(code http2.ErrCode, reason string) {
	if c.finished {
		return
	}
	c.stopRead = true
	c.fr.WriteGoAway(c.maxID, code, nil)
	c.goAway, c.goAwayID = true, c.maxID
	c.finish(&ConnError{Code: code, Reason: reason})
}

// finish ends the connection: whatever is in out is its last output.
func (c *Conn) finish(err error) {
	if c.finished {
		return
	}
	c.finished = true
	if c.err == nil {
		c.err = err
	}
	for _, s := range c.streamList() {
		c.closeStream(s, ErrClosed)
	}
	for _, s := range c.bySeq {
		s.req.CancelContext()
	}
	c.timer.Stop()
	close(c.done)
	signal(c.outWake)
	signal(c.reqWake)
	signal(c.readWake)
}

// streamList returns the open streams (a copy: closing edits the map).
func (c *Conn) streamList() []*strm {
	l := make([]*strm, 0, len(c.streams))
	for _, s := range c.streams {
		l = append(l, s)
	}
	return l
}

// Shutdown starts the graceful end (a terminating server): GOAWAY(NO_ERROR)
// with the last stream id seen; streams up to it finish, later ones are
// ignored, and the connection ends when none is left.
func (c *Conn) Shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shutdown()
}

func (c *Conn) shutdown() {
	if c.goAway || c.finished {
		c.checkDone()
		return
	}
	c.goAway, c.goAwayID = true, c.maxID
	c.fr.WriteGoAway(c.maxID, http2.ErrCodeNo, nil)
	signal(c.outWake)
	signal(c.reqWake)
	c.checkDone()
}

// Abort is a terminating server's hard deadline. Every request not yet
// answered, whether its handler has it or it still waits for one, gets the
// timeout response (TimeoutResponse, or 503) on its stream, as HTTP/1.1
// requests do; a response already under way gets what its window lets out
// now and is then reset (RST_STREAM(CANCEL)). The connection ends after a
// GOAWAY(NO_ERROR); the handler's late answers are dropped.
func (c *Conn) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	for _, s := range c.queue {
		s.handed = true // the handler never gets it: it is answered here
	}
	c.queue = nil
	for _, s := range c.streamList() {
		if s.req != nil && !s.answered && !s.late {
			s.late = true
			c.writeResponse(s, c.timeoutResponse(s.req, "the server stopped before the handler answered"))
		}
	}
	c.writeData()
	for _, s := range c.streamList() {
		if !s.localClosed {
			c.fr.WriteRSTStream(s.id, http2.ErrCodeCancel)
		}
	}
	if !c.goAway {
		c.goAway = true
		c.fr.WriteGoAway(c.maxID, http2.ErrCodeNo, nil)
	}
	c.finish(nil)
}

// timeoutResponse is the answer to req when the server answers in the
// handler's place: TimeoutResponse, or 503 saying why.
func (c *Conn) timeoutResponse(req *httpcore.Request, why string) *httpcore.Response {
	if c.cfg.TimeoutResponse != nil {
		if resp := c.cfg.TimeoutResponse(req); resp != nil {
			return resp
		}
	}
	return httpcore.Text(httpcore.StatusServiceUnavailable, "Service Unavailable: "+why+"\n")
}

// checkDone ends a connection that is going away once nothing is left.
func (c *Conn) checkDone() {
	if c.finished {
		return
	}
	quiet := len(c.streams) == 0 && len(c.bySeq) == 0
	if quiet && (c.goAway || c.inputDone || c.handlerDone) {
		c.finish(nil)
	}
}

// tickPeriod is how often the connection's timer looks at its deadlines.
func (c *Conn) tickPeriod() time.Duration {
	d := time.Second
	var grace time.Duration
	if c.cfg.MinBodyRate > 0 {
		grace = c.cfg.BodyGrace
	}
	for _, t := range []time.Duration{c.cfg.IdleTimeout, c.cfg.SendTimeout, c.cfg.PrefaceTimeout, c.cfg.RequestTimeout, grace} {
		if t > 0 {
			d = min(d, t/4)
		}
	}
	return max(d, 10*time.Millisecond)
}

// tick checks the preface, idle and send deadlines.
func (c *Conn) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	now := time.Now()
	c.ticks++
	c.expireRequests()
	switch {
	case !c.settings && c.cfg.PrefaceTimeout > 0 && now.Sub(c.start) >= c.cfg.PrefaceTimeout:
		c.finish(errors.New("h2: no client preface within PrefaceTimeout"))
		return
	case c.cfg.IdleTimeout > 0 && len(c.streams) == 0 && len(c.bySeq) == 0 && now.Sub(c.lastActive) >= c.cfg.IdleTimeout:
		c.shutdown()
	}
	for _, s := range c.streamList() {
		if c.tooSlow(s, now) {
			c.bodyTooSlow(s)
		}
		if s.localClosed && !s.lingerAt.IsZero() && now.Sub(s.lingerAt) >= bodyLinger {
			c.fr.WriteRSTStream(s.id, http2.ErrCodeNo)
			signal(c.outWake)
			c.closeStream(s, ErrClosed)
		}
	}
	if c.cfg.SendTimeout > 0 {
		for _, s := range c.sending {
			if !s.stalledAt.IsZero() && now.Sub(s.stalledAt) >= c.cfg.SendTimeout && !s.closed {
				c.resetStream(s.id, http2.ErrCodeCancel, false)
			}
		}
	}
	if !c.finished {
		c.timer.Reset(c.tickPeriod())
	}
}

// expireRequests answers the requests whose handler has had them in full
// for longer than their timeout (Request.SetTimeout, or RequestTimeout)
// with TimeoutResponse, or 503; the handler's late answer is dropped. It
// counts timer ticks: a timeout fires up to one tick late.
func (c *Conn) expireRequests() {
	period := c.tickPeriod()
	for _, s := range c.bySeq {
		if !s.handed || s.answered || s.late || !s.remoteClosed || s.closed {
			continue
		}
		timeout := c.cfg.RequestTimeout
		if d := s.req.Timeout(); d != 0 {
			timeout = max(d, 0)
		}
		if timeout <= 0 || time.Duration(c.ticks-s.readyTick)*period < timeout {
			continue
		}
		s.late = true
		c.writeResponse(s, c.timeoutResponse(s.req, "the server did not answer within RequestTimeout"))
	}
}

// newRequestSeq numbers a request.
func (c *Conn) newRequestSeq() uint64 {
	c.seq++
	return c.seq
}
