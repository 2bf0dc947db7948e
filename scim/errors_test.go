package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseAPIError(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		wantCode  string
		wantType  string
		wantMsg   string
		wantIs    []error
		wantNotIs []error
		wantText  string
	}{
		{
			name: "REST", status: 404,
			body:     `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Workspace 7 does not exist."}`,
			wantCode: "RESOURCE_DOES_NOT_EXIST", wantMsg: "Workspace 7 does not exist.",
			wantIs:   []error{ErrNotFound},
			wantText: "GET /p: 404 RESOURCE_DOES_NOT_EXIST: Workspace 7 does not exist.",
		},
		{
			name: "REST numeric error_code", status: 400,
			body:     `{"error_code":1234,"message":"odd"}`,
			wantCode: "1234", wantMsg: "odd", wantIs: []error{ErrBadRequest},
		},
		{
			name: "REST throttled with Retry-After", status: 429, header: http.Header{"Retry-After": {"3"}},
			body:     `{"error_code":"RESOURCE_EXHAUSTED","message":"Too many requests. Please wait a moment and try again."}`,
			wantCode: "RESOURCE_EXHAUSTED", wantMsg: "Too many requests. Please wait a moment and try again.",
			wantIs: []error{ErrThrottled}, wantNotIs: []error{ErrBadRequest, ErrInternal},
		},
		{
			name: "API 1.2", status: 403, body: `{"error":"Invalid access token."}`,
			wantMsg: "Invalid access token.", wantIs: []error{ErrPermissionDenied},
		},
		{
			name: "SCIM conflict", status: 409,
			body:     `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"Group with name admins already exists.","status":"409"}`,
			wantCode: "SCIM_409", wantMsg: "Group with name admins already exists.", wantIs: []error{ErrConflict},
			wantText: "GET /p: 409 SCIM_409: Group with name admins already exists.",
		},
		{
			name: "SCIM scimType", status: 400,
			body:     `{"detail":"entitlements can only be managed at the workspace level","status":"400","schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"scimType":"invalidValue"}`,
			wantCode: "SCIM_400", wantType: "invalidValue", wantMsg: "entitlements can only be managed at the workspace level",
			wantIs:   []error{ErrBadRequest},
			wantText: "GET /p: 400 SCIM_400: invalidValue entitlements can only be managed at the workspace level",
		},
		{
			name: "SCIM throttling as 500", status: 500,
			body:     `{"detail":"REQUEST_LIMIT_EXCEEDED: Workspace 1234 exceeded the concurrent limit of 4 requests.","schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500"}`,
			wantCode: "REQUEST_LIMIT_EXCEEDED", wantMsg: "REQUEST_LIMIT_EXCEEDED: Workspace 1234 exceeded the concurrent limit of 4 requests.",
			wantIs: []error{ErrThrottled}, wantNotIs: []error{ErrInternal},
			// The code is named once.
			wantText: "GET /p: 500 REQUEST_LIMIT_EXCEEDED: Workspace 1234 exceeded the concurrent limit of 4 requests.",
		},
		{
			name: "SCIM detail null", status: 500, body: `{"detail":"null","status":"500"}`,
			wantCode: "SCIM_500", wantMsg: "SCIM API Internal Error", wantIs: []error{ErrInternal},
		},
		{
			name: "SCIM numeric status", status: 404, body: `{"detail":"User not found","status":404}`,
			wantCode: "SCIM_404", wantMsg: "User not found", wantIs: []error{ErrNotFound},
		},
		{
			name: "plain CODE: message", status: 400, body: "INVALID_PARAMETER_VALUE: bad id\n",
			wantCode: "INVALID_PARAMETER_VALUE", wantMsg: "bad id", wantIs: []error{ErrBadRequest},
		},
		{
			name: "plain throttling text", status: 400, body: "REQUEST_LIMIT_EXCEEDED: GetUserPermissionsRequest RPC token bucket limit has been exceeded.",
			wantCode: "REQUEST_LIMIT_EXCEEDED", wantIs: []error{ErrThrottled}, wantNotIs: []error{ErrBadRequest},
			wantMsg: "GetUserPermissionsRequest RPC token bucket limit has been exceeded.",
		},
		{
			name: "HTML with pre", status: 502, header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
			body:    "<html><body><h1>Error</h1><pre>upstream\n  connect &amp; reset</pre></body></html>",
			wantMsg: "HTML reply: upstream connect & reset", wantIs: []error{ErrInternal},
		},
		{
			name: "HTML login page", status: 401, body: "<!DOCTYPE html>\n<html><head><title>Databricks - Sign In</title></head><body>...</body></html>",
			wantMsg: "HTML reply: Databricks - Sign In", wantIs: []error{ErrUnauthenticated},
		},
		{
			name: "HTML without text", status: 400, body: "<html><body><div></div></body></html>",
			wantMsg: "unexpected HTML reply (is the host a workspace or account URL?)",
		},
		{
			name: "empty body", status: 503, body: "",
			wantMsg: "Service Unavailable", wantIs: []error{ErrUnavailable}, wantNotIs: []error{ErrInternal},
			wantText: "GET /p: 503 Service Unavailable",
		},
		{
			name: "unknown JSON", status: 500, body: `{"foo":1}`,
			wantMsg: `{"foo":1}`, wantIs: []error{ErrInternal},
		},
		{
			name: "long text is truncated to one line", status: 500, body: strings.Repeat("x ", 400) + "\nend",
			wantMsg: strings.TrimSpace(strings.Repeat("x ", 256)) + "…",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseAPIError("GET", "/p", tt.status, tt.header, []byte(tt.body), now)
			if e.ErrorCode != tt.wantCode || e.SCIMType != tt.wantType || e.Message != tt.wantMsg {
				t.Errorf("got code %q type %q msg %q\nwant code %q type %q msg %q", e.ErrorCode, e.SCIMType, e.Message, tt.wantCode, tt.wantType, tt.wantMsg)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(e, target) {
					t.Errorf("errors.Is(%v) = false", target)
				}
			}
			for _, target := range tt.wantNotIs {
				if errors.Is(e, target) {
					t.Errorf("errors.Is(%v) = true", target)
				}
			}
			if tt.wantText != "" && e.Error() != tt.wantText {
				t.Errorf("Error() = %q, want %q", e.Error(), tt.wantText)
			}
			if strings.Contains(e.Error(), "\n") {
				t.Errorf("Error() has a newline: %q", e.Error())
			}
			if tt.header.Get("Retry-After") == "3" && e.RetryAfter != 3*time.Second {
				t.Errorf("RetryAfter = %v", e.RetryAfter)
			}
		})
	}
}

// TestNoTokenInErrorsOrEvents runs failures past every output of the package
// with a server that echoes the credential back, and checks that the token
// never shows.
func TestNoTokenInErrorsOrEvents(t *testing.T) {
	echo := func(status int) responder {
		return func(req *http.Request) (*http.Response, error) {
			auth := req.Header.Get("Authorization")
			return respond(status, fmt.Sprintf(`{"error_code":"BAD_%d","message":"rejected header %s"}`, status, auth))(req)
		}
	}
	reg := newMock(t)
	reg.Register("400", rest("GET", usersPath+"/1"), echo(400))
	reg.Register("500 then 500", rest("POST", usersPath), echo(500))
	reg.Register("429", rest("GET", usersPath+"/2"), echo(429))
	reg.Register("429 again", rest("GET", usersPath+"/2"), echo(429))
	reg.Register("transport", rest("GET", usersPath+"/3"), fail(fmt.Errorf("proxy refused Authorization: Bearer %s", testToken))).Times(2)
	var texts []string
	sess, _ := connectMock(t, reg, func(s *Settings) {
		s.MaxAttempts = 2
		s.OnRetry = func(e RetryEvent) { texts = append(texts, fmt.Sprintf("%+v %v", e, e.Err)) }
		s.OnRequest = func(e RequestEvent) {
			texts = append(texts, fmt.Sprintf("%+v %v", e, e.Err))
			if got := e.Header.Get("Authorization"); got != "[REDACTED]" {
				t.Errorf("RequestEvent Authorization = %q, want [REDACTED]", got)
			}
		}
	})
	w := workspaceClient(t, sess)
	ctx := context.Background()
	_, err1 := w.Users.Get(ctx, "1", GetOptions{})
	_, err2 := w.Users.Create(ctx, User{UserName: "a@example.com"})
	_, err3 := w.Users.Get(ctx, "2", GetOptions{})
	_, err4 := w.Users.Get(ctx, "3", GetOptions{})
	for _, err := range []error{err1, err2, err3, err4} {
		if err == nil {
			t.Fatalf("expected errors, got nil")
		}
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
		if ae, ok := errors.AsType[*APIError](err); ok {
			texts = append(texts, ae.Message)
		}
	}
	if len(texts) < 10 {
		t.Fatalf("only %d texts captured", len(texts))
	}
	for _, s := range texts {
		if strings.Contains(s, testToken) {
			t.Errorf("token leaked: %s", s)
		}
	}
	mustContain(t, err1.Error(), "rejected header Bearer [REDACTED]")
}

func TestRedactHeader(t *testing.T) {
	h := http.Header{
		"Authorization":                          {"Bearer x"},
		"X-Databricks-Azure-Sp-Management-Token": {"y"},
		"Cookie":                                 {"z"},
		"X-Custom-Secret":                        {"w"},
		"Accept":                                 {"application/json"},
	}
	got := redactHeader(h)
	for _, k := range []string{"Authorization", "X-Databricks-Azure-Sp-Management-Token", "Cookie", "X-Custom-Secret"} {
		if got.Get(k) != "[REDACTED]" {
			t.Errorf("%s = %q", k, got.Get(k))
		}
	}
	if got.Get("Accept") != "application/json" || h.Get("Authorization") != "Bearer x" {
		t.Errorf("redactHeader changed the wrong headers: %v / original %v", got, h)
	}
}
