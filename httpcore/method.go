package httpcore

// Method is a request method (RFC 9110 §9): a case-sensitive token. The
// standard methods are constants; a custom method is any other token that
// the server's settings register.
type Method string

// The methods of RFC 9110 §9 and PATCH (RFC 5789).
const (
	MethodGet     Method = "GET"
	MethodHead    Method = "HEAD"
	MethodPost    Method = "POST"
	MethodPut     Method = "PUT"
	MethodDelete  Method = "DELETE"
	MethodConnect Method = "CONNECT"
	MethodOptions Method = "OPTIONS"
	MethodTrace   Method = "TRACE"
	MethodPatch   Method = "PATCH"
)

// standardMethod returns the constant for a standard method token without
// allocating, or "" and false.
func standardMethod(b []byte) (Method, bool) {
	switch string(b) { // no allocation: the compiler compares in place
	case "GET":
		return MethodGet, true
	case "POST":
		return MethodPost, true
	case "HEAD":
		return MethodHead, true
	case "PUT":
		return MethodPut, true
	case "DELETE":
		return MethodDelete, true
	case "OPTIONS":
		return MethodOptions, true
	case "PATCH":
		return MethodPatch, true
	case "CONNECT":
		return MethodConnect, true
	case "TRACE":
		return MethodTrace, true
	}
	return "", false
}

// String returns the method token.
func (m Method) String() string { return string(m) }
