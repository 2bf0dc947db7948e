package sandbox

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// apiError is an error reply. On SCIM routes it is written as a SCIM error
// body (RFC 7644 §3.12, string status) unless rest is set; elsewhere as a
// REST body {"error_code","message"}.
type apiError struct {
	status     int
	code       string            // REST error_code
	scimType   string            // SCIM scimType
	msg        string            // REST message / SCIM detail
	rest       bool              // always the REST shape
	retryAfter int               // seconds; > 0 adds Retry-After
	header     map[string]string // extra reply headers
	// numericCode writes error_code as the HTTP status number, as some
	// replies of the service do ({"error_code":403,"message":...}).
	numericCode bool
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg)
}

// scimErr is an error for SCIM routes (REST code derived from the status
// when written on a non-SCIM route).
func scimErr(status int, scimType, format string, a ...any) *apiError {
	return &apiError{status: status, scimType: scimType, msg: fmt.Sprintf(format, a...), code: codeFor(status)}
}

// restErr is an error that is always written in the REST shape.
func restErr(status int, code, format string, a ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, a...), rest: true}
}

// restOrSCIM is an error written in the route's shape with an explicit
// REST code.
func restOrSCIM(status int, code, format string, a ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, a...)}
}

func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_PARAMETER_VALUE"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "RESOURCE_DOES_NOT_EXIST"
	case http.StatusConflict:
		return "RESOURCE_ALREADY_EXISTS"
	case http.StatusTooManyRequests:
		return "REQUEST_LIMIT_EXCEEDED"
	case http.StatusServiceUnavailable:
		return "TEMPORARILY_UNAVAILABLE"
	}
	return "INTERNAL_ERROR"
}

// Common SCIM error texts.
const (
	detailUnparsable = "Request is unparsable, syntactically incorrect, or violates schema."
)

type restBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

type scimBody struct {
	Schemas  []string `json:"schemas"`
	Detail   string   `json:"detail"`
	Status   string   `json:"status"`
	SCIMType string   `json:"scimType,omitempty"`
}

// replyBufs recycles reply buffers; buffers that grew past maxPooledReply
// are left to the garbage collector.
var replyBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledReply = 1 << 20

// writeJSON writes v as JSON with status; its body is exactly
// json.Marshal(v) (see marshalJSON), or a 500 REST error if v cannot be
// encoded.
func writeJSON(w http.ResponseWriter, status int, v any) {
	bp := replyBufs.Get().(*[]byte)
	b, err := marshalJSON((*bp)[:0], v)
	if err != nil {
		status = http.StatusInternalServerError
		b = append(b[:0], `{"error_code":"INTERNAL_ERROR","message":"sandbox: cannot encode reply"}`...)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledReply {
		*bp = b[:0]
		replyBufs.Put(bp)
	}
}

// writeError writes e in the shape of route rt.
func writeError(w http.ResponseWriter, scim bool, e *apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	for k, v := range e.header {
		w.Header().Set(k, v)
	}
	if scim && !e.rest {
		writeJSON(w, e.status, scimBody{Schemas: []string{schemaError}, Detail: e.msg,
			Status: strconv.Itoa(e.status), SCIMType: e.scimType})
		return
	}
	if e.numericCode {
		writeJSON(w, e.status, map[string]any{"error_code": e.status, "message": e.msg})
		return
	}
	code := e.code
	if code == "" {
		code = codeFor(e.status)
	}
	writeJSON(w, e.status, restBody{ErrorCode: code, Message: e.msg})
}
