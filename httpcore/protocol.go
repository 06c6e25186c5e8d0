package httpcore

// Protocol is the HTTP version of a message.
type Protocol uint8

// The protocol versions the server speaks. The zero value is HTTP/1.1, the
// default of a response.
const (
	HTTP11 Protocol = iota
	HTTP10
	HTTP2
)

// String returns the version as it appears on the wire ("HTTP/1.1").
func (p Protocol) String() string {
	switch p {
	case HTTP10:
		return "HTTP/1.0"
	case HTTP2:
		return "HTTP/2.0"
	}
	return "HTTP/1.1"
}
