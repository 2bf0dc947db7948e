package reports

import (
	"net/http"
	"regexp"
	"strings"
)

// Redacted replaces every secret removed by [Redact] and [RedactHeaders].
const Redacted = "[REDACTED]"

// sensitiveHeaders are always redacted, whatever their name contains.
var sensitiveHeaders = map[string]bool{
	"Authorization":                          true,
	"Proxy-Authorization":                    true,
	"Cookie":                                 true,
	"Set-Cookie":                             true,
	"X-Databricks-Azure-Sp-Management-Token": true,
}

// RedactHeaders returns a copy of h in which the value of every credential
// header is replaced by [Redacted]: Authorization, Proxy-Authorization,
// cookies, X-Databricks-Azure-SP-Management-Token, and any header whose name
// contains "token", "secret", "password" or "api-key" (case-insensitive).
// Other values are passed through [Redact]. h is not modified. It is safe
// for concurrent use.
func RedactHeaders(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		redactAll := sensitiveHeaders[http.CanonicalHeaderKey(k)] || sensitiveName(k)
		cp := make([]string, len(vs))
		for i, v := range vs {
			if redactAll {
				cp[i] = Redacted
			} else {
				cp[i] = Redact(v)
			}
		}
		out[k] = cp
	}
	return out
}

// sensitiveName reports whether a header or field name suggests a secret.
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"token", "secret", "password", "api-key", "apikey", "cookie", "authorization"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

var (
	// reAuthScheme matches an HTTP credential after its scheme name.
	reAuthScheme = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}`)
	// reKnownToken matches Databricks personal access and OAuth tokens
	// (dapi…, dose…, dkea…) and JSON Web Tokens (Azure AD, OIDC).
	reKnownToken = regexp.MustCompile(`\b(?:dapi|dose|dkea)[A-Za-z0-9_-]{4,}|\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	// reSecretField matches a secret-named field in a query string, form
	// body, JSON document or key=value text, capturing everything up to the
	// value so that only the value is replaced.
	reSecretField = regexp.MustCompile(`(?i)((?:^|[^A-Za-z0-9_])"?(?:access_token|refresh_token|id_token|token_value|client_secret|secret|password|api_key|token)"?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|[^"&\s,;}]+)`)
)

// Redact returns s with credentials masked as [Redacted]: the credential
// after "Bearer" or "Basic", Databricks tokens (dapi…, dose…,
// dkea…), JSON Web Tokens, and the values of fields such as access_token,
// client_secret, password or token in query strings, form bodies and JSON.
// Use it on any text that may echo a request or a reply before it reaches a
// log line or an error. It is safe for concurrent use.
func Redact(s string) string {
	if s == "" {
		return s
	}
	s = reAuthScheme.ReplaceAllString(s, "${1}${2}"+Redacted)
	s = reSecretField.ReplaceAllStringFunc(s, func(m string) string {
		sub := reSecretField.FindStringSubmatch(m)
		if strings.HasPrefix(sub[2], `"`) {
			return sub[1] + `"` + Redacted + `"`
		}
		return sub[1] + Redacted
	})
	s = reKnownToken.ReplaceAllString(s, Redacted)
	return s
}

// RedactArgs returns a command line fit to be recorded: the value of a
// flag whose name suggests a secret (--token, --client-secret, --password
// ..., as --flag=value or --flag value) is replaced, URLs lose their
// user:password part, and every argument goes through Redact.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	secretNext := false
	for i, a := range args {
		switch {
		case secretNext:
			a = Redacted
			secretNext = false
		case strings.HasPrefix(a, "-"):
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if sensitiveName(name) || strings.Contains(strings.ToLower(name), "key") {
				if hasValue {
					a = a[:strings.Index(a, "=")+1] + Redacted
				} else {
					secretNext = true
				}
			}
		}
		out[i] = Redact(stripUserinfo(a))
	}
	return out
}

// reUserinfo matches the user:password@ part of a URL.
var reUserinfo = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)[^/@\s]+@`)

func stripUserinfo(s string) string {
	return reUserinfo.ReplaceAllString(s, "${1}"+Redacted+"@")
}
