package scim

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// maxMessageLen bounds the message kept from an unstructured error body.
const maxMessageLen = 512

var (
	plainErrorRE = regexp.MustCompile(`^([A-Z][A-Z_]+): (.*)$`)
	preRE        = regexp.MustCompile(`(?is)<pre[^>]*>(.*?)</pre>`)
	titleRE      = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	tagRE        = regexp.MustCompile(`<[^>]*>`)
)

// errorBody is the union of the REST and SCIM error shapes (reference §G.1).
type errorBody struct {
	ErrorCode json.RawMessage `json:"error_code"` // string or number
	Message   string          `json:"message"`
	Error     string          `json:"error"` // API 1.2
	Detail    *string         `json:"detail"`
	Status    json.RawMessage `json:"status"` // SCIM: a string; tolerate a number
	SCIMType  string          `json:"scimType"`
	Schemas   []string        `json:"schemas"`
}

// parseAPIError builds the error for a non-2xx reply. It understands REST
// JSON (error_code, message), SCIM JSON (detail, string status, scimType),
// plain "CODE: message" text, HTML and empty bodies. The result is one line.
func parseAPIError(method, path string, status int, header http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{Method: method, Path: path, StatusCode: status}
	if header != nil {
		e.RetryAfter = parseRetryAfter(header.Get("Retry-After"), now)
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		e.Message = http.StatusText(status)
	case trimmed[0] == '{' && parseJSONError(e, trimmed):
	case isHTML(header, trimmed):
		e.Message = htmlMessage(trimmed)
	default:
		text := oneLine(string(trimmed))
		if m := plainErrorRE.FindStringSubmatch(text); m != nil {
			e.ErrorCode, e.Message = m[1], m[2]
		} else {
			e.Message = text
		}
	}
	e.Message = truncate(oneLine(e.Message), maxMessageLen)
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// parseJSONError fills e from a JSON error body and reports whether the body
// had a recognisable shape.
func parseJSONError(e *APIError, body []byte) bool {
	var b errorBody
	if json.Unmarshal(body, &b) != nil {
		return false
	}
	isSCIM := b.Detail != nil || len(b.Status) > 0 || b.SCIMType != ""
	for _, s := range b.Schemas {
		isSCIM = isSCIM || s == SchemaError
	}
	switch {
	case len(b.ErrorCode) > 0:
		e.ErrorCode = rawString(b.ErrorCode)
		e.Message = b.Message
	case isSCIM:
		status := rawString(b.Status)
		if status == "" {
			status = strconv.Itoa(e.StatusCode)
		}
		e.ErrorCode = "SCIM_" + status
		e.SCIMType = b.SCIMType
		if b.Detail != nil {
			e.Message = *b.Detail
		}
		if e.Message == "null" {
			e.Message = "SCIM API Internal Error"
		}
		// SCIM throttling arrives as a 500 whose detail starts with the code.
		if m := plainErrorRE.FindStringSubmatch(oneLine(e.Message)); m != nil && containsThrottleMarker(m[1]) {
			e.ErrorCode = m[1]
		}
	case b.Error != "":
		e.Message = b.Error
	case b.Message != "":
		e.Message = b.Message
	default:
		return false
	}
	return true
}

// rawString returns a JSON string's value, or a number's text.
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

func isHTML(header http.Header, body []byte) bool {
	if header != nil && strings.HasPrefix(header.Get("Content-Type"), "text/html") {
		return true
	}
	prefix := strings.ToLower(string(body[:min(len(body), 64)]))
	return strings.HasPrefix(prefix, "<!doctype html") || strings.HasPrefix(prefix, "<html")
}

// htmlMessage extracts the useful text of an HTML error page.
func htmlMessage(body []byte) string {
	for _, re := range []*regexp.Regexp{preRE, titleRE} {
		if m := re.FindSubmatch(body); m != nil {
			text := strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(string(m[1]), " ")))
			if text != "" {
				return "HTML reply: " + text
			}
		}
	}
	return "unexpected HTML reply (is the host a workspace or account URL?)"
}

// oneLine collapses all whitespace runs, including newlines, to one space.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], " ") + "…"
}

// redactor removes known secrets from text that leaves the package (errors,
// events). The auth layer registers every credential it sends. It is safe for
// concurrent use.
type redactor struct {
	mu      sync.RWMutex
	secrets map[string]struct{}
}

func newRedactor() *redactor { return &redactor{secrets: map[string]struct{}{}} }

// minSecretLen keeps short values (which would redact ordinary words) out.
const minSecretLen = 6

// add registers secret s.
func (r *redactor) add(s string) {
	s = strings.TrimSpace(s)
	if len(s) < minSecretLen {
		return
	}
	r.mu.RLock()
	_, ok := r.secrets[s]
	r.mu.RUnlock()
	if ok {
		return
	}
	r.mu.Lock()
	r.secrets[s] = struct{}{}
	r.mu.Unlock()
}

// addAuthorization registers the credential of an Authorization-style header
// value ("Bearer x", "Basic y" or a bare token).
func (r *redactor) addAuthorization(v string) {
	if _, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
		r.add(cred)
		return
	}
	r.add(v)
}

// redact replaces every registered secret in s with [REDACTED].
func (r *redactor) redact(s string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for secret := range r.secrets {
		if strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return s
}

// redactAPIError scrubs the text fields of e in place.
func (r *redactor) redactAPIError(e *APIError) {
	e.Message = r.redact(e.Message)
	e.ErrorCode = r.redact(e.ErrorCode)
	e.SCIMType = r.redact(e.SCIMType)
}

// sensitiveHeaders are replaced by [REDACTED] in RequestEvent.Header.
var sensitiveHeaders = []string{
	"Authorization",
	"Proxy-Authorization",
	"Cookie",
	"Set-Cookie",
	"X-Databricks-Azure-Sp-Management-Token",
}

// redactHeader returns a copy of h with credential headers replaced.
func redactHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for k := range out {
		lk := strings.ToLower(k)
		sensitive := strings.Contains(lk, "token") || strings.Contains(lk, "secret")
		for _, s := range sensitiveHeaders {
			sensitive = sensitive || strings.EqualFold(k, s)
		}
		if sensitive {
			out[k] = []string{"[REDACTED]"}
		}
	}
	return out
}
