package scim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors, matched with errors.Is against an *APIError.
var (
	ErrBadRequest       = errors.New("bad request")
	ErrUnauthenticated  = errors.New("unauthenticated")
	ErrPermissionDenied = errors.New("permission denied")
	ErrNotFound         = errors.New("not found")
	ErrConflict         = errors.New("conflict")
	ErrThrottled        = errors.New("throttled")
	ErrUnavailable      = errors.New("temporarily unavailable")
	ErrInternal         = errors.New("internal error")
)

// Errors raised by the client itself rather than by a server reply.
var (
	// ErrOutcomeUnknown marks a write that is not known to be idempotent
	// (POST, and PATCH unless marked with Idempotent) whose reply was lost:
	// a transport error or a 5xx that is not throttling. The server may or may
	// not have applied it, so the client did not retry; read the live state
	// before trying again (see Endpoint.CreateOnce).
	ErrOutcomeUnknown = errors.New("write outcome unknown")
	// ErrNoAccountID is returned by Session.Account when no account id is
	// configured.
	ErrNoAccountID = errors.New("no account id")
	// ErrPageLimit is returned by a list iterator that reached its page
	// ceiling, or a server that repeats pages, without seeing the end of the
	// list.
	ErrPageLimit = errors.New("list did not end")
)

// ConfigError is a bad connection setting or credential: Problem names the
// input, Fix tells the user what to do. main prints Fix as a hint.
type ConfigError struct {
	Op      string // "resolve credentials", "check settings", ...
	Problem string // what is wrong, naming the input
	Fix     string // what to do about it
}

// Error formats e as "op: problem: fix" on one line.
func (e *ConfigError) Error() string {
	return e.Op + ": " + e.Problem + ": " + e.Fix
}

// APIError is an error reply from a Databricks API. It carries both the SCIM
// error shape (Detail, SCIMType, Status as a string on the wire) and the REST
// shape (error_code, message), normalised into ErrorCode and Message.
// It never carries request headers, so it never contains a credential.
type APIError struct {
	Method     string // HTTP method of the request
	Path       string // URL path of the request, without query
	StatusCode int    // HTTP status of the reply
	ErrorCode  string // REST error_code, or "SCIM_<status>" for SCIM errors
	SCIMType   string // SCIM scimType, if any (invalidSyntax, invalidPath, uniqueness, ...)
	Message    string // REST message or SCIM detail
	// RetryAfter is the server's Retry-After hint, zero if absent.
	RetryAfter time.Duration
}

// Error formats e as "METHOD PATH: STATUS CODE: message", or "METHOD PATH:
// STATUS message" when the message starts with the code.
func (e *APIError) Error() string {
	msg := e.Message
	if e.SCIMType != "" {
		msg = e.SCIMType + " " + msg
	}
	code := e.ErrorCode
	if code == "" {
		code = http.StatusText(e.StatusCode)
	}
	if strings.HasPrefix(msg, code) {
		// "REQUEST_LIMIT_EXCEEDED: ..." in a REQUEST_LIMIT_EXCEEDED reply:
		// name the code once.
		return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.StatusCode, msg)
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.StatusCode, code, msg)
}

// Is reports whether e matches one of the package's sentinel errors.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrThrottled:
		return e.Throttled()
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest && !e.Throttled()
	case ErrUnauthenticated:
		return e.StatusCode == http.StatusUnauthorized
	case ErrPermissionDenied:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || e.ErrorCode == "RESOURCE_DOES_NOT_EXIST"
	case ErrConflict:
		return e.StatusCode == http.StatusConflict || e.ErrorCode == "RESOURCE_ALREADY_EXISTS" || e.ErrorCode == "ALREADY_EXISTS"
	case ErrUnavailable:
		return e.StatusCode == http.StatusServiceUnavailable
	case ErrInternal:
		return e.StatusCode >= 500 && e.StatusCode != http.StatusServiceUnavailable && !e.Throttled()
	}
	return false
}

// Throttled reports whether the server refused the request for rate or
// concurrency limits: HTTP 429, or REQUEST_LIMIT_EXCEEDED / RESOURCE_EXHAUSTED
// in the error code or message (SCIM throttling arrives as HTTP 500).
// A throttled request was not executed, so it is always safe to retry.
func (e *APIError) Throttled() bool {
	if e.StatusCode == http.StatusTooManyRequests {
		return true
	}
	switch e.ErrorCode {
	case "REQUEST_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED":
		return true
	}
	return containsThrottleMarker(e.Message)
}

func containsThrottleMarker(s string) bool {
	return strings.Contains(s, "REQUEST_LIMIT_EXCEEDED") || strings.Contains(s, "RESOURCE_EXHAUSTED")
}
