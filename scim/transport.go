package scim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"time"
)

// maxReplyBytes bounds a buffered reply body.
const maxReplyBytes = 64 << 20

// RetryEvent reports a failed attempt that will be retried after Wait.
// It never contains a credential.
type RetryEvent struct {
	Method      string
	Path        string // URL path, without query
	Host        string
	WorkspaceID int64 // 0 for account calls and the --host workspace before Me
	// Workspace names where the call went, for messages: the workspace's
	// name (its id when it has none), "account" for account calls, or the
	// host for a --host workspace.
	Workspace string
	Class     Class
	Attempt   int           // the attempt that failed, from 1
	Wait      time.Duration // backoff before the next attempt
	Throttled bool          // the server refused for rate or concurrency limits
	Err       error         // *APIError or transport error of the failed attempt
}

// RequestEvent reports one HTTP exchange (one attempt). Header is the request
// header as sent, with credentials replaced by [REDACTED]. Duration runs from
// sending the request to receiving the reply headers.
type RequestEvent struct {
	Method      string
	Path        string // URL path, without query
	Host        string
	WorkspaceID int64
	Class       Class
	Attempt     int
	Status      int // 0 on a transport error
	Duration    time.Duration
	Header      http.Header
	Err         error // transport error, if any
}

// CallOption adjusts one call made with Do or an Endpoint method.
type CallOption func(*callOptions)

// callOptions are the per-call knobs of the retry loop.
type callOptions struct {
	idempotent bool
	header     *http.Header
	// final holds the statuses returned at once, never retried (NoRetryOn).
	final []int
	// beforeSend are the hooks of BeforeSend and WithBeforeSend.
	beforeSend []func() error
}

// BeforeSend runs fn once for the call, after the call's rate-limit slot
// was granted, its concurrency slot taken and its credentials added, right
// before its first attempt is sent; later attempts (retries) do not run
// it again, and a call that is never sent (its context ended while it
// waited for a slot) never runs it. When fn fails the request is not
// sent and the call fails with fn's error, without a retry.
//
// It is for a write-ahead journal: the record that announces a write is
// written (and made durable) only for a call that is about to be sent,
// never for one still waiting for the rate limiter, which a killed process
// would leave announced but never made.
func BeforeSend(fn func() error) CallOption {
	return func(o *callOptions) { o.beforeSend = append(o.beforeSend, fn) }
}

type beforeSendKey struct{}

// WithBeforeSend returns a copy of ctx whose calls run fn as [BeforeSend]
// does (once per call made with it), for a caller that reaches this
// package through an interface whose methods take no CallOption, as
// httptrace.WithClientTrace does for net/http. Hooks of nested
// WithBeforeSend calls all run, outermost first.
func WithBeforeSend(ctx context.Context, fn func() error) context.Context {
	hooks := append(slices.Clip(BeforeSendHooks(ctx)), fn)
	return context.WithValue(ctx, beforeSendKey{}, hooks)
}

// BeforeSendHooks returns the hooks WithBeforeSend put in ctx, outermost
// first. An implementation of such an interface that does not send
// through this package (a test double, a decorator that sends nothing)
// runs them where a client of this package would send.
func BeforeSendHooks(ctx context.Context) []func() error {
	hooks, _ := ctx.Value(beforeSendKey{}).([]func() error)
	return hooks
}

// RunBeforeSend runs the hooks of ctx (see [BeforeSendHooks]) in order and
// returns the first error.
func RunBeforeSend(ctx context.Context) error {
	for _, fn := range BeforeSendHooks(ctx) {
		if err := fn(); err != nil {
			return err
		}
	}
	return nil
}

// Idempotent marks a POST or PATCH as safe to repeat, so transport errors and
// 5xx replies are retried as for GET. Use it only when applying the call twice
// has the same effect as once (e.g. adding members, renaming to a fixed name).
func Idempotent() CallOption {
	return func(o *callOptions) { o.idempotent = true }
}

// NoRetryOn returns a reply with one of these HTTP statuses to the caller at
// once, as an *APIError, even for a call marked Idempotent; throttling is
// still retried (the server ran nothing). It is for an endpoint whose error
// repeats identically whatever the number of attempts, where the caller
// decides what to do next: the permission migration API answers 500 "Error
// when updating permissions table" for conflicting grants, after moving part
// of its batch (docs/permission-migration.md, rule 6), and a repeat only
// spends the throttled API's budget.
func NoRetryOn(statuses ...int) CallOption {
	return func(o *callOptions) { o.final = append(o.final, statuses...) }
}

// ReplyHeader stores the reply's header in *h when the call succeeds.
func ReplyHeader(h *http.Header) CallOption {
	return func(o *callOptions) { o.header = h }
}

// idempotentMethod reports whether an HTTP method is idempotent by definition.
func idempotentMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// attemptInfo travels in an attempt's request context to the inner layers.
type attemptInfo struct {
	class   Class
	attempt int
	limiter *adaptiveLimiter // the class's bucket, looked up once per call
	sent    *grant           // set by limitTransport: the attempt's slot
	// hooks is the call's BeforeSend state, shared by its attempts.
	hooks *sendHooks
}

// sendHooks are a call's BeforeSend hooks; they run before the first
// attempt that reaches the wire.
type sendHooks struct {
	fns []func() error
	ran bool
}

// run runs the hooks unless an earlier attempt did.
func (h *sendHooks) run() error {
	if h == nil || h.ran {
		return nil
	}
	h.ran = true
	for _, fn := range h.fns {
		if err := fn(); err != nil {
			return err
		}
	}
	return nil
}

type attemptKey struct{}

func attemptOf(ctx context.Context) attemptInfo {
	a, _ := ctx.Value(attemptKey{}).(attemptInfo)
	if a.class == "" {
		a.class = ClassDefault
	}
	return a
}

// stackConfig is everything newTransport needs for one (host, workspace).
type stackConfig struct {
	host         string // scheme://host[:port], the limiter and semaphore key
	workspaceID  int64
	label        string // RetryEvent.Workspace
	base         http.RoundTripper
	authenticate func(*http.Request) error
	registry     *registry
	secrets      *redactor

	maxAttempts    int
	budget         time.Duration
	requestTimeout time.Duration
	backoff        backoff

	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	random    func() float64
	onRetry   func(RetryEvent)
	onRequest func(RequestEvent)
}

// newTransport builds the request pipeline for one (host, workspace). The
// layers, outermost first:
//
//  1. retrier: the retry loop; turns replies into errors, backs off, adapts
//     the class's rate on throttling and success.
//  2. limitTransport: waits for a token of the call's class; every attempt
//     pays, retries included.
//  3. semaphoreTransport: caps in-flight requests per workspace.
//  4. authTransport: clones the request and adds credentials via the SDK.
//  5. hookTransport: runs the call's BeforeSend hooks before its first
//     attempt that gets this far.
//  6. observeTransport: bounds the attempt with the request timeout and
//     reports a RequestEvent with redacted headers.
//  7. base: the http.RoundTripper doing the I/O.
func newTransport(c stackConfig) *retrier {
	return &retrier{cfg: c, next: &limitTransport{
		now: c.now, sleep: c.sleep,
		next: &semaphoreTransport{
			sem: c.registry.semaphore(c.host, c.workspaceID),
			next: &authTransport{
				host: c.host, authenticate: c.authenticate, secrets: c.secrets,
				next: &hookTransport{
					next: &observeTransport{
						host: c.host, workspaceID: c.workspaceID, timeout: c.requestTimeout, onRequest: c.onRequest, now: c.now, secrets: c.secrets,
						next: c.base,
					},
				},
			},
		},
	}}
}

// reply is a buffered successful reply.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// retrier is the retry loop, the outermost layer. It is safe for concurrent
// use.
type retrier struct {
	cfg  stackConfig
	next http.RoundTripper
}

// do sends req (whose body, if any, must be replayable through GetBody) until
// it succeeds, fails for good, or the retry budget runs out. A non-2xx reply
// becomes an *APIError; a lost reply to a non-idempotent write becomes an
// error wrapping ErrOutcomeUnknown.
func (r *retrier) do(ctx context.Context, req *http.Request, class Class, opts callOptions) (*reply, error) {
	idempotent := opts.idempotent || idempotentMethod(req.Method)
	class = r.cfg.registry.charged(class, req.Method)
	path := req.URL.Path
	start := r.cfg.now()
	limiter := r.cfg.registry.limiter(r.cfg.host, r.cfg.workspaceID, class)
	var hooks *sendHooks
	if fns := append(slices.Clip(BeforeSendHooks(ctx)), opts.beforeSend...); len(fns) > 0 {
		hooks = &sendHooks{fns: fns}
	}
	for attempt := 1; ; attempt++ {
		var sent grant
		rep, err := r.attempt(ctx, req, attemptInfo{class: class, attempt: attempt, limiter: limiter, sent: &sent, hooks: hooks})
		var apiErr *APIError
		if err == nil && (rep.status < 200 || rep.status > 299) {
			apiErr = parseAPIError(req.Method, path, rep.status, rep.header, rep.body, r.cfg.now())
			r.cfg.secrets.redactAPIError(apiErr)
			err = apiErr
		}
		switch {
		case apiErr != nil && apiErr.Throttled():
			limiter.throttled(sent)
		case err == nil || (apiErr != nil && apiErr.StatusCode < 500):
			limiter.succeeded(sent) // the server had capacity for it
		}
		if err == nil {
			return rep, nil
		}
		if apiErr != nil && !apiErr.Throttled() && slices.Contains(opts.final, apiErr.StatusCode) {
			return nil, err
		}
		retry, unknown := shouldRetry(ctx, err, idempotent)
		switch {
		case unknown:
			return nil, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
		case !retry && ctx.Err() != nil && !errors.Is(err, ctx.Err()):
			return nil, fmt.Errorf("%w (last attempt: %w)", ctx.Err(), err)
		case !retry:
			return nil, err
		}
		var hint time.Duration
		if apiErr != nil {
			hint = apiErr.RetryAfter
		}
		wait := r.cfg.backoff.delay(attempt, r.cfg.random(), hint)
		if attempt >= r.cfg.maxAttempts || r.cfg.now().Add(wait).Sub(start) > r.cfg.budget {
			return nil, fmt.Errorf("giving up after %d attempts in %s: %w", attempt, r.cfg.now().Sub(start).Round(time.Millisecond), err)
		}
		if r.cfg.onRetry != nil {
			r.cfg.onRetry(RetryEvent{
				Method: req.Method, Path: path, Host: r.cfg.host, WorkspaceID: r.cfg.workspaceID, Workspace: r.cfg.label, Class: class,
				Attempt: attempt, Wait: wait, Throttled: apiErr != nil && apiErr.Throttled(), Err: err,
			})
		}
		if serr := r.cfg.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%w while waiting to retry (last attempt: %w)", serr, err)
		}
	}
}

// attempt sends one copy of req and buffers the reply.
func (r *retrier) attempt(ctx context.Context, req *http.Request, info attemptInfo) (*reply, error) {
	actx := context.WithValue(ctx, attemptKey{}, info)
	areq := req.Clone(actx)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("%s %s: replay body: %w", req.Method, req.URL.Path, err)
		}
		areq.Body = body
	}
	resp, err := r.next.RoundTrip(areq)
	if err != nil {
		return nil, &transportError{method: req.Method, path: req.URL.Path, err: err, secrets: r.cfg.secrets}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return nil, &transportError{method: req.Method, path: req.URL.Path, err: err, secrets: r.cfg.secrets}
	}
	if len(body) > maxReplyBytes {
		return nil, fmt.Errorf("%s %s: reply larger than %d bytes", req.Method, req.URL.Path, maxReplyBytes)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// transportError is a failed exchange (no reply). Its text is redacted; it
// unwraps to the cause so callers can test for net and context errors.
type transportError struct {
	method, path string
	err          error
	secrets      *redactor
}

func (e *transportError) Error() string {
	msg := e.secrets.redact(e.err.Error())
	if e.method == "" {
		return msg
	}
	return e.method + " " + e.path + ": " + msg
}

func (e *transportError) Unwrap() error { return e.err }

// authError is a failure to obtain credentials; the request was not sent.
type authError struct{ error }

func (e authError) Unwrap() error { return e.error }

// hookError is the error of a BeforeSend hook; the request was not sent.
// Its text is the hook's.
type hookError struct{ error }

func (e hookError) Unwrap() error { return e.error }

// shouldRetry decides whether a failed attempt is retried. Throttling (429 or
// REQUEST_LIMIT_EXCEEDED/RESOURCE_EXHAUSTED, whatever the status) is always
// retried: the server did not run the request. A request that never left
// (dial failure) is always retried. Other transport errors and 5xx replies,
// 503 included (a proxy may answer 503 after the write went through), are
// retried only for idempotent calls; for other calls unknown reports that the
// write may have been applied. Nothing is retried once ctx
// is done or when credentials could not be obtained.
func shouldRetry(ctx context.Context, err error, idempotent bool) (retry, unknown bool) {
	retry, unknown = classify(err, idempotent)
	if ctx.Err() != nil {
		retry = false
	}
	return retry, unknown
}

// classify is shouldRetry without the context check.
func classify(err error, idempotent bool) (retry, unknown bool) {
	if ae, ok := errors.AsType[*APIError](err); ok {
		switch {
		case ae.Throttled():
			return true, false
		case ae.StatusCode >= 500:
			// 503 included: a proxy may answer 503 after the write went
			// through, so a non-idempotent call is not repeated blindly.
			return idempotent, !idempotent
		}
		return false, false
	}
	if _, ok := errors.AsType[authError](err); ok {
		return false, false
	}
	if _, ok := errors.AsType[hookError](err); ok {
		return false, false
	}
	if tlsProblem(err) != "" {
		return false, false // the handshake failed: nothing was sent, and a retry fails alike
	}
	if _, ok := errors.AsType[hookError](err); ok {
		return false, false
	}
	if notSent(err) {
		return true, false
	}
	return idempotent, !idempotent
}

// notSent reports whether a transport error happened before the request could
// reach the server.
func notSent(err error) bool {
	if _, ok := errors.AsType[notSentError](err); ok {
		return true
	}
	return dialFailed(err)
}

// dialFailed reports whether err is a failure to look up or connect to the
// host.
func dialFailed(err error) bool {
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return true
	}
	op, ok := errors.AsType[*net.OpError](err)
	return ok && op.Op == "dial"
}

// tlsProblem returns the fix for a TLS failure that no retry can mend (a
// certificate the client does not trust or that names another host, or a
// server that does not speak TLS on that port), or "" for any other error.
func tlsProblem(err error) string {
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return "the server does not speak TLS there: check --host (http:// for a plain HTTP server such as the sandbox)"
	}
	_, verify := errors.AsType[*tls.CertificateVerificationError](err)
	_, authority := errors.AsType[x509.UnknownAuthorityError](err)
	_, hostname := errors.AsType[x509.HostnameError](err)
	_, invalid := errors.AsType[x509.CertificateInvalidError](err)
	if verify || authority || hostname || invalid {
		return "check --host (the name must be one the server's certificate is for); behind a proxy that inspects TLS, add its CA certificate to the system's trust store or name it in SSL_CERT_FILE"
	}
	return ""
}

// notSentError is an error of an inner layer that gave up before sending.
type notSentError struct{ error }

func (e notSentError) Unwrap() error { return e.error }

// limitTransport waits for a slot of the attempt's class, from the bucket
// the retrier looked up for the call, and records when it was sent.
type limitTransport struct {
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	next  http.RoundTripper
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	a := attemptOf(ctx)
	slot, err := a.limiter.wait(ctx, t.now, t.sleep)
	if err != nil {
		closeBody(req)
		return nil, notSentError{err}
	}
	if a.sent != nil {
		*a.sent = slot
	}
	return t.next.RoundTrip(req)
}

// semaphoreTransport caps the requests in flight; a slot is held until the
// reply body is closed.
type semaphoreTransport struct {
	sem  chan struct{}
	next http.RoundTripper
}

func (t *semaphoreTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case t.sem <- struct{}{}:
	case <-req.Context().Done():
		closeBody(req)
		return nil, notSentError{req.Context().Err()}
	}
	release := func() { <-t.sem }
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &onCloseBody{ReadCloser: resp.Body, onClose: release}
	return resp, nil
}

// authTransport adds credentials to a clone of the request.
type authTransport struct {
	host         string
	authenticate func(*http.Request) error
	secrets      *redactor
	next         http.RoundTripper
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	clone := req.Clone(req.Context())
	if err := t.authenticate(clone); err != nil {
		closeBody(req)
		return nil, authError{fmt.Errorf("authenticate to %s: %w", t.host, errors.New(t.secrets.redact(err.Error())))}
	}
	for _, k := range sensitiveHeaders {
		for _, v := range clone.Header.Values(k) {
			t.secrets.addAuthorization(v)
		}
	}
	return t.next.RoundTrip(clone)
}

// hookTransport runs the call's BeforeSend hooks before the first attempt
// that reaches it, after every wait of the layers above.
type hookTransport struct {
	next http.RoundTripper
}

func (t *hookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := attemptOf(req.Context()).hooks.run(); err != nil {
		closeBody(req)
		return nil, hookError{err}
	}
	return t.next.RoundTrip(req)
}

// observeTransport bounds each exchange with the request timeout and reports
// it through onRequest.
type observeTransport struct {
	host        string
	workspaceID int64
	timeout     time.Duration
	onRequest   func(RequestEvent)
	now         func() time.Time
	secrets     *redactor
	next        http.RoundTripper
}

func (t *observeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	req = req.WithContext(ctx)
	start := t.now()
	resp, err := t.next.RoundTrip(req)
	if t.onRequest != nil {
		a := attemptOf(ctx)
		ev := RequestEvent{
			Method: req.Method, Path: req.URL.Path, Host: t.host, WorkspaceID: t.workspaceID,
			Class: a.class, Attempt: a.attempt, Duration: t.now().Sub(start), Header: redactHeader(req.Header),
		}
		if err != nil {
			ev.Err = &transportError{err: err, secrets: t.secrets}
		}
		if resp != nil {
			ev.Status = resp.StatusCode
		}
		t.onRequest(ev)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &onCloseBody{ReadCloser: resp.Body, onClose: cancel}
	return resp, nil
}

// onCloseBody runs onClose once, when the body is closed.
type onCloseBody struct {
	io.ReadCloser
	onClose func()
	closed  bool
}

func (b *onCloseBody) Close() error {
	err := b.ReadCloser.Close()
	if !b.closed {
		b.closed = true
		b.onClose()
	}
	return err
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// jsonBody makes a replayable request body.
func jsonBody(b []byte) (io.ReadCloser, func() (io.ReadCloser, error)) {
	get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	body, _ := get()
	return body, get
}

// defaultRandom is the jitter source: uniform in [0, 1).
func defaultRandom() float64 { return rand.Float64() }
