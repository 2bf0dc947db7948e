package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/databricks/databricks-sdk-go/config"
)

// Settings are the global connection flags. The zero value of every numeric
// field means its default.
type Settings struct {
	// Profile, ConfigFile, Host and AccountID map to the SDK config fields of
	// the same name; anything left empty is resolved by the SDK from the
	// DATABRICKS_* environment and ~/.databrickscfg unless Hermetic is set.
	Profile, ConfigFile, Host, AccountID string
	// Token is set only by --sandbox (never a flag): a personal access token
	// used with auth type "pat". Otherwise the SDK resolves credentials.
	Token string
	// Hermetic ignores environment variables and ~/.databrickscfg and skips
	// host metadata discovery: only the fields above are used (ConfigFile is
	// still read when set). For the sandbox and tests.
	Hermetic bool
	// Parallel is how many workspaces feature packages process at once;
	// 0 means 4.
	Parallel int
	// RPS caps the rate of every class, per workspace, in requests per
	// second; 0 keeps the per-class rates.
	RPS float64
	// Rates overrides the rate of classes by name (see Classes), in requests
	// per second; +Inf lifts the limit.
	Rates map[string]float64
	// Concurrency caps in-flight requests per workspace (and for the
	// account); 0 means 4.
	Concurrency int
	// MaxAttempts bounds the attempts of one call; 0 means 8.
	MaxAttempts int
	// RetryBudget bounds the time one call spends retrying; 0 means 5 minutes.
	RetryBudget time.Duration
	// RequestTimeout bounds one attempt, reply body included; 0 means 60 s.
	RequestTimeout time.Duration
	// OnRetry, if set, is called before each retry wait. OnRequest, if set, is
	// called after each HTTP exchange. They are the package's only output;
	// both are called from many goroutines and must be quick.
	OnRetry   func(RetryEvent)
	OnRequest func(RequestEvent)
	// HTTPClient, if set, provides the base RoundTripper (its Transport; nil
	// means http.DefaultTransport). Its other fields are not used: redirects
	// are never followed and timeouts come from RequestTimeout.
	HTTPClient *http.Client
	// Sleep, if set, replaces the timer used for retry backoff and rate-limit
	// waits. Tests inject one that records waits and returns at once; it must
	// return ctx.Err() when ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error
}

// ConnectFunc opens a Session. Feature commands receive one so that --help and
// flag errors never touch credentials or the network.
type ConnectFunc func(ctx context.Context) (*Session, error)

// Session holds the resolved credentials and the limiter registry shared by
// every client made from it. It is safe for concurrent use.
type Session struct {
	settings  Settings
	cfg       *config.Config
	host      string // canonical scheme://host[:port]
	accountID string
	base      http.RoundTripper
	registry  *registry
	secrets   *redactor
	cred      Credential
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	random    func() float64

	// pat is set when the credentials are a personal access token (see
	// TokenScopeError).
	pat bool

	mu         sync.Mutex
	hostConfig map[string]*config.Config // per workspace host
}

// Connect resolves credentials through the SDK config and checks them before
// any work, so a bad profile, file or host fails at once with a one-line
// *ConfigError naming the input and the fix. It makes no API call, but the
// SDK may fetch host metadata or an OAuth token (not when Hermetic with a
// token).
func Connect(ctx context.Context, s Settings) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rates, err := resolveRates(s.Rates, s.RPS)
	if err != nil {
		return nil, err
	}
	if s.Concurrency < 0 || s.MaxAttempts < 0 || s.RetryBudget < 0 || s.RequestTimeout < 0 || s.Parallel < 0 {
		return nil, &ConfigError{Op: "check settings", Problem: "negative concurrency, parallelism, attempts or timeout", Fix: "pass 0 for the default or a positive value"}
	}
	sess := &Session{
		settings:   s,
		base:       http.DefaultTransport,
		secrets:    newRedactor(),
		now:        time.Now,
		sleep:      sleepCtx,
		random:     defaultRandom,
		hostConfig: map[string]*config.Config{},
	}
	if s.HTTPClient != nil && s.HTTPClient.Transport != nil {
		sess.base = s.HTTPClient.Transport
	}
	if s.Sleep != nil {
		sess.sleep = s.Sleep
	}
	if sess.settings.Concurrency == 0 {
		sess.settings.Concurrency = 4
	}
	if sess.settings.MaxAttempts == 0 {
		sess.settings.MaxAttempts = defaultMaxAttempts
	}
	if sess.settings.RetryBudget == 0 {
		sess.settings.RetryBudget = defaultRetryBudget
	}
	if sess.settings.RequestTimeout == 0 {
		sess.settings.RequestTimeout = defaultRequestTimeout
	}
	if sess.settings.Parallel == 0 {
		sess.settings.Parallel = 4
	}
	sess.registry = newRegistry(rates, sess.settings.Concurrency)
	if sess.base == http.DefaultTransport {
		sess.base = pooledTransport(sess.settings.Parallel, sess.settings.Concurrency)
	}

	cfg, err := resolveConfig(ctx, s, sess.base, sess.secrets)
	if err != nil {
		return nil, err
	}
	sess.cfg = cfg
	// Read once: the SDK rewrites AuthType while it authenticates requests.
	sess.cred = credentialOf(cfg, s.Token)
	sess.pat = sess.cred.AuthType == "pat"
	sess.host = strings.TrimRight(cfg.Host, "/")
	sess.accountID = s.AccountID
	if sess.accountID == "" {
		sess.accountID = cfg.AccountID
	}
	sess.hostConfig[sess.host] = cfg
	return sess, nil
}

// noopLoader loads nothing: with it, the SDK reads no environment variable.
type noopLoader struct{}

func (noopLoader) Name() string                   { return "dbiam-hermetic" }
func (noopLoader) Configure(*config.Config) error { return nil }

func noHostMetadata(context.Context, string) (*config.HostMetadata, error) { return nil, nil }

// workspaceMetadataWithoutAccount drops the account id from the metadata of
// a single workspace's host (one with a workspace_id). The SDK would
// otherwise back-fill Config.AccountID from it, and a --host workspace given
// without --account-id would turn into an account session that lists the
// account's workspaces on a workspace host. An account id configured by the
// user (flag, profile, environment) is unaffected: the SDK never overrides it.
func workspaceMetadataWithoutAccount(meta *config.HostMetadata, err error) (*config.HostMetadata, error) {
	if err != nil || meta == nil || meta.WorkspaceID == "" || strings.Contains(meta.OIDCEndpoint, "{account_id}") {
		return meta, err
	}
	cp := *meta
	cp.AccountID = ""
	return &cp, nil
}

// resolveConfig builds and eagerly resolves the SDK config for s. The host
// metadata discovery request is made by probeHostMetadata under ctx, so it
// is bounded and cancellable; an unreachable host fails here, at once, with
// a ConfigError naming it.
func resolveConfig(ctx context.Context, s Settings, base http.RoundTripper, secrets *redactor) (*config.Config, error) {
	cfg := &config.Config{
		Profile:       s.Profile,
		ConfigFile:    s.ConfigFile,
		Host:          s.Host,
		AccountID:     s.AccountID,
		HTTPTransport: base,
	}
	if s.Token != "" {
		cfg.Token = s.Token
		cfg.AuthType = "pat"
		secrets.add(s.Token)
	}
	if s.Hermetic {
		cfg.Loaders = []config.Loader{noopLoader{}}
		if s.ConfigFile != "" {
			cfg.Loaders = []config.Loader{config.ConfigFile}
		}
		cfg.HostMetadataResolver = noHostMetadata
	}
	var probeErr error
	if !s.Hermetic {
		cfg.HostMetadataResolver = func(_ context.Context, host string) (*config.HostMetadata, error) {
			// The SDK calls this without the caller's context and would
			// retry an unreachable host for minutes; probe once instead.
			meta, err := probeHostMetadata(ctx, base, host)
			probeErr = err
			return workspaceMetadataWithoutAccount(meta, err)
		}
	}
	if err := checkProfile(s); err != nil {
		return nil, err
	}
	fix := "check --profile, --host and the DATABRICKS_* environment variables"
	if s.Hermetic {
		fix = "check --profile and --host (environment variables are ignored)"
	}
	err := cfg.EnsureResolved()
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	if unreachable(probeErr) {
		return nil, &ConfigError{Op: "connect", Problem: fmt.Sprintf("host %s cannot be reached: %v", cfg.Host, rootCause(probeErr)),
			Fix: "check --host (or the profile's host, or DATABRICKS_HOST) and the network"}
	}
	if fix := tlsProblem(probeErr); fix != "" {
		return nil, &ConfigError{Op: "connect", Problem: fmt.Sprintf("host %s: %v", cfg.Host, rootCause(probeErr)), Fix: fix}
	}
	if err != nil {
		registerSecrets(cfg, secrets)
		if ce := explainResolveError(ctx, cfg, err, secrets); ce != nil {
			return nil, ce
		}
		return nil, &ConfigError{Op: "resolve credentials", Problem: sdkProblem(err, s.Hermetic, secrets), Fix: fix}
	}
	registerSecrets(cfg, secrets)
	if cfg.Host == "" {
		return nil, &ConfigError{Op: "resolve credentials", Problem: "no host configured", Fix: "pass --host, or --profile with a host"}
	}
	req, err := http.NewRequest(http.MethodGet, cfg.Host, nil)
	if err != nil {
		return nil, &ConfigError{Op: "resolve credentials", Problem: fmt.Sprintf("host %q is not a URL", cfg.Host), Fix: "pass --host as https://<name>"}
	}
	if err := cfg.Authenticate(req); err != nil {
		registerSecrets(cfg, secrets)
		if ce := explainResolveError(ctx, cfg, err, secrets); ce != nil {
			return nil, ce
		}
		return nil, &ConfigError{Op: "resolve credentials", Problem: fmt.Sprintf("authenticate to %s: %s", cfg.Host, sdkProblem(err, s.Hermetic, secrets)), Fix: fix}
	}
	for _, v := range req.Header.Values("Authorization") {
		secrets.addAuthorization(v)
	}
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, &ConfigError{Op: "resolve credentials", Problem: fmt.Sprintf("host %q is not an http(s) URL", cfg.Host), Fix: "pass --host as https://<name>"}
	}
	return cfg, nil
}

// sdkEnvSuffix is the SDK's list of DATABRICKS_* variables present in the
// environment, which a hermetic session did not read.
var sdkEnvSuffix = regexp.MustCompile(`\. Env: [A-Za-z0-9_, ]+$`)

// sdkProblem turns an SDK resolution error into one redacted line.
func sdkProblem(err error, hermetic bool, secrets *redactor) string {
	msg := oneLine(err.Error())
	if hermetic {
		msg = sdkEnvSuffix.ReplaceAllString(msg, "")
	}
	return secrets.redact(msg)
}

// checkProfile reports a missing config file or profile with a friendly
// error; the SDK ignores a missing file silently.
func checkProfile(s Settings) error {
	path := s.ConfigFile
	if path == "" && !s.Hermetic {
		path = os.Getenv("DATABRICKS_CONFIG_FILE")
	}
	shown := path
	if path == "" {
		shown = "~/.databrickscfg"
	}
	if s.ConfigFile != "" {
		if _, err := os.Stat(s.ConfigFile); err != nil {
			return &ConfigError{Op: "resolve credentials", Problem: fmt.Sprintf("config file %q: %s", s.ConfigFile, statProblem(err)), Fix: "pass --config-file with an existing file"}
		}
	}
	if s.Profile == "" {
		return nil
	}
	if s.Hermetic && s.ConfigFile == "" {
		return &ConfigError{Op: "resolve credentials", Problem: fmt.Sprintf("profile %q given without a config file in hermetic mode", s.Profile), Fix: "pass --config-file too"}
	}
	f, err := config.LoadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &ConfigError{Op: "resolve credentials", Problem: fmt.Sprintf("profile %q: %s does not exist", s.Profile, shown), Fix: "run 'databricks auth login' or pass --config-file"}
		}
		return &ConfigError{Op: "resolve credentials", Problem: fmt.Sprintf("read %s: %s", shown, oneLine(err.Error())), Fix: "fix the file's INI syntax"}
	}
	if !f.HasSection(s.Profile) {
		return &ConfigError{Op: "resolve credentials", Problem: fmt.Sprintf("profile %q not found in %s", s.Profile, shown), Fix: "pass --profile with an existing profile"}
	}
	return nil
}

func statProblem(err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return "does not exist"
	}
	if errors.Is(err, os.ErrPermission) {
		return "permission denied"
	}
	return "cannot be read"
}

// registerSecrets adds cfg's credential attributes to the redactor.
func registerSecrets(cfg *config.Config, secrets *redactor) {
	for _, v := range []string{cfg.Token, cfg.Password, cfg.ClientSecret, cfg.AzureClientSecret, cfg.GoogleCredentials, cfg.ActionsIDTokenRequestToken} {
		secrets.add(v)
	}
}

// Host returns the resolved host URL (scheme://host[:port]).
func (s *Session) Host() string { return s.host }

// Credential describes the credential the session authenticates with
// (never its secret).
func (s *Session) Credential() Credential { return s.cred }

// AccountID returns the account id from Settings or the profile, or "".
func (s *Session) AccountID() string { return s.accountID }

// Parallel returns how many workspaces to process at once (Settings.Parallel,
// default 4).
func (s *Session) Parallel() int { return s.settings.Parallel }

// Account returns a client for the account APIs on the session host. It
// returns an error wrapping ErrNoAccountID when no account id is configured.
func (s *Session) Account() (*AccountClient, error) {
	if s.accountID == "" {
		return nil, &accountError{}
	}
	c := s.newClient(s.host, 0, "account", false, s.cfg)
	c.account = true
	return newAccountClient(c, s.accountID), nil
}

type accountError struct{}

func (*accountError) Error() string {
	return "account client: no account id: pass --account-id or set account_id in the profile"
}

func (*accountError) Is(target error) bool { return target == ErrNoAccountID }

// Workspace returns a client for workspace ws. Calls go to ws.URL; when that
// is the session host (a unified host or the sandbox) or ws.RouteByHeader is
// set, they carry X-Databricks-Workspace-Id. For another host the session's
// credentials are re-resolved for that host (same auth attributes): this
// works for OAuth (M2M, U2M, Azure); an account-level PAT is normally not
// valid on workspaces.
func (s *Session) Workspace(ws WorkspaceInfo) (*WorkspaceClient, error) {
	if ws.URL == "" {
		// Workspaces leaves the URL empty when the account lists no
		// deployment name to derive it from.
		return nil, fmt.Errorf("workspace %d: no URL (the account lists no deployment name to derive it from %s): pass --workspaces-file with its URL", ws.ID, s.host)
	}
	u, err := url.Parse(strings.TrimRight(ws.URL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("workspace %d: bad URL %q: use https://<workspace host>", ws.ID, ws.URL)
	}
	host := u.Scheme + "://" + u.Host
	cfg, err := s.configFor(host)
	if err != nil {
		return nil, fmt.Errorf("workspace %d: %w", ws.ID, err)
	}
	route := ws.RouteByHeader || sameHost(host, s.host)
	label := ws.Name
	switch {
	case label == "" && ws.ID != 0:
		label = strconv.FormatInt(ws.ID, 10)
	case label == "":
		label = u.Host
	}
	return newWorkspaceClient(s.newClient(host, ws.ID, label, route, cfg), host), nil
}

func sameHost(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}

// configFor returns the SDK config for host, deriving and resolving it on
// first use.
func (s *Session) configFor(host string) (*config.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, cfg := range s.hostConfig {
		if sameHost(h, host) {
			return cfg, nil
		}
	}
	cfg, err := s.cfg.NewWithWorkspaceHost(host)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %s", host, s.secrets.redact(oneLine(err.Error())))
	}
	// NewWithWorkspaceHost shares the strategy object, which the SDK mutates
	// while configuring; give each config its own. AuthType, copied from the
	// resolved session config, makes it pick the same method.
	cfg.Credentials = nil
	if err := cfg.EnsureResolved(); err != nil {
		return nil, fmt.Errorf("credentials for %s: %s", host, s.secrets.redact(oneLine(err.Error())))
	}
	s.hostConfig[host] = cfg
	return cfg, nil
}

// newClient builds a client and its transport stack for (host, workspaceID).
func (s *Session) newClient(host string, workspaceID int64, label string, routeHeader bool, cfg *config.Config) *client {
	rt := newTransport(stackConfig{
		host:           host,
		workspaceID:    workspaceID,
		label:          label,
		base:           s.base,
		authenticate:   cfg.Authenticate,
		registry:       s.registry,
		secrets:        s.secrets,
		maxAttempts:    s.settings.MaxAttempts,
		budget:         s.settings.RetryBudget,
		requestTimeout: s.settings.RequestTimeout,
		backoff:        backoff{base: defaultBackoffBase, cap: defaultBackoffCap},
		now:            s.now,
		sleep:          s.sleep,
		random:         s.random,
		onRetry:        s.settings.OnRetry,
		onRequest:      s.settings.OnRequest,
	})
	return &client{host: host, workspaceID: workspaceID, routeHeader: routeHeader, rt: rt, pat: s.pat, cred: s.cred}
}

// pooledTransport is http.DefaultTransport keeping enough idle connections
// per host for every request the session may have in flight to it (the
// account host serves the account and, routed by header, every workspace).
// The default keeps 2: the other replies close their connections, and the
// churn of new connections costs CPU and, when a loopback listener's
// backlog overflows, a one-second SYN retransmit.
func pooledTransport(parallel, concurrency int) http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = (parallel + 1) * concurrency
	t.MaxIdleConns = max(t.MaxIdleConns, t.MaxIdleConnsPerHost)
	return t
}

// hostMetadataTimeout bounds the host metadata discovery request.
const hostMetadataTimeout = 10 * time.Second

// probeHostMetadata fetches GET {host}/.well-known/databricks-config once,
// without credentials, within hostMetadataTimeout and ctx. A reply other
// than 200 with a JSON document means "no metadata" (nil, nil): the SDK then
// relies on the user's configuration. A transport error is returned.
func probeHostMetadata(ctx context.Context, base http.RoundTripper, host string) (*config.HostMetadata, error) {
	ctx, cancel := context.WithTimeout(ctx, hostMetadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(host, "/")+"/.well-known/databricks-config", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Transport: base, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil
	}
	var meta config.HostMetadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta); err != nil {
		return nil, nil
	}
	return &meta, nil
}

// unreachable reports whether err says the host could not be reached at
// all: no DNS name, connection refused, no route, or a timeout.
func unreachable(err error) bool {
	return err != nil && (dialFailed(err) || errors.Is(err, context.DeadlineExceeded))
}

// rootCause returns the innermost error of a chain, for a short message.
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
