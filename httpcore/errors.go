package httpcore

import "fmt"

// ParseError is a request the parser rejects: the status to answer with and
// a reason safe to send to the client (it never echoes request bytes). When
// a limit was exceeded, Setting names the ParserSettings field to raise.
type ParseError struct {
	Status  Status
	Reason  string
	Setting string
	// InBody is set when the error happened inside a body that was already
	// being delivered: the request has been dispatched, and the error is a
	// failure of its entity stream.
	InBody bool
}

func (e *ParseError) Error() string {
	if e.Setting != "" {
		return fmt.Sprintf("httpcore: %d %s: %s (raise ParserSettings.%s)", int(e.Status), e.Status.Reason(), e.Reason, e.Setting)
	}
	return fmt.Sprintf("httpcore: %d %s: %s", int(e.Status), e.Status.Reason(), e.Reason)
}

func badRequest(reason string) *ParseError {
	return &ParseError{Status: StatusBadRequest, Reason: reason}
}

func limitError(status Status, reason, setting string, limit int64) *ParseError {
	return &ParseError{Status: status, Reason: fmt.Sprintf("%s exceeds the limit of %d", reason, limit), Setting: setting}
}
