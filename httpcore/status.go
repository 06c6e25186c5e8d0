package httpcore

import "strconv"

// Status is a response status code (RFC 9110 §15). Three digits fit in 16
// bits, which keeps a Response in the allocator's 112-byte size class (see
// TestResponseSize).
type Status uint16

// Status codes of RFC 9110 §15 and the ones servers commonly send.
const (
	StatusContinue           Status = 100
	StatusSwitchingProtocols Status = 101

	StatusOK                   Status = 200
	StatusCreated              Status = 201
	StatusAccepted             Status = 202
	StatusNonAuthoritativeInfo Status = 203
	StatusNoContent            Status = 204
	StatusResetContent         Status = 205
	StatusPartialContent       Status = 206

	StatusMultipleChoices   Status = 300
	StatusMovedPermanently  Status = 301
	StatusFound             Status = 302
	StatusSeeOther          Status = 303
	StatusNotModified       Status = 304
	StatusTemporaryRedirect Status = 307
	StatusPermanentRedirect Status = 308

	StatusBadRequest                  Status = 400
	StatusUnauthorized                Status = 401
	StatusForbidden                   Status = 403
	StatusNotFound                    Status = 404
	StatusMethodNotAllowed            Status = 405
	StatusNotAcceptable               Status = 406
	StatusRequestTimeout              Status = 408
	StatusConflict                    Status = 409
	StatusGone                        Status = 410
	StatusLengthRequired              Status = 411
	StatusPreconditionFailed          Status = 412
	StatusContentTooLarge             Status = 413
	StatusURITooLong                  Status = 414
	StatusUnsupportedMediaType        Status = 415
	StatusRangeNotSatisfiable         Status = 416
	StatusExpectationFailed           Status = 417
	StatusMisdirectedRequest          Status = 421
	StatusUnprocessableContent        Status = 422
	StatusUpgradeRequired             Status = 426
	StatusTooManyRequests             Status = 429
	StatusRequestHeaderFieldsTooLarge Status = 431

	StatusInternalServerError     Status = 500
	StatusNotImplemented          Status = 501
	StatusBadGateway              Status = 502
	StatusServiceUnavailable      Status = 503
	StatusGatewayTimeout          Status = 504
	StatusHTTPVersionNotSupported Status = 505
)

var reasons = map[Status]string{
	100: "Continue", 101: "Switching Protocols",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict",
	410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
	414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
	417: "Expectation Failed", 421: "Misdirected Request", 422: "Unprocessable Content",
	426: "Upgrade Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}

// Reason returns the reason phrase of the status ("Not Found"), or "" for a
// code this package does not name.
func (s Status) Reason() string { return reasons[s] }

// String returns the code and reason, e.g. "404 Not Found".
func (s Status) String() string {
	if r := s.Reason(); r != "" {
		return strconv.Itoa(int(s)) + " " + r
	}
	return strconv.Itoa(int(s))
}

// Valid reports whether s is a three-digit code (100 to 999).
func (s Status) Valid() bool { return s >= 100 && s <= 999 }

// AllowsBody reports whether a response with this status may carry content:
// 1xx, 204 and 304 never do (RFC 9110 §6.4.1).
func (s Status) AllowsBody() bool {
	return !(s >= 100 && s < 200) && s != StatusNoContent && s != StatusNotModified
}
