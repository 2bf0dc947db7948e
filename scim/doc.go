// Package scim is dbiam's client for the Databricks identity APIs: workspace
// and account SCIM (Users, Groups, ServicePrincipals, Me), account workspaces,
// workspace permission assignments, and any other JSON REST call the feature
// packages need (Do, ListPages). It owns everything HTTP and never prints.
//
// # Connecting
//
// Connect turns Settings (the global flags) into a Session. Credentials are
// resolved eagerly by the SDK's config package (profile, config file,
// DATABRICKS_* variables, OAuth, Azure, ...); Hermetic ignores the
// environment and ~/.databrickscfg and skips host discovery. A bad profile,
// file or host fails before any work with a one-line *ConfigError. The
// Session hands out an AccountClient and one WorkspaceClient per workspace;
// all share the Session's rate limiters and concurrency caps.
//
// # Transport
//
// Every call goes through one stack, built in newTransport, outermost first:
//
//	retry loop -> rate limiter (per class) -> concurrency cap (per workspace)
//	  -> auth (config.Config.Authenticate on a clone) -> request timeout and
//	  RequestEvent -> base http.RoundTripper
//
// The limiter and the cap are keyed by (host, workspace id, class) and
// (host, workspace id): workspaces behind one unified host or the sandbox
// get separate buckets. Every attempt, retries included, waits for a token.
//
// # Classes and default rates
//
// Each call is charged to one class. Defaults, in requests per second per
// workspace (or for the account), are conservative because the published
// limits are unverified and other clients share them:
//
//	scim-read            4.25  workspace SCIM GET (255/min)
//	scim-write           0.58  workspace SCIM POST, PUT, DELETE (35/min)
//	scim-patch           0.5   workspace SCIM PATCH (30/min)
//	account-scim-read    4     account SCIM GET (240/min)
//	account-scim-write   5     account SCIM POST, PUT, DELETE
//	account-scim-patch   2     account SCIM PATCH
//	assignments          5     permission assignment reads, account and workspace
//	assignments-write    5     permission assignment PUT, DELETE
//	permissions-read     20    permissions API GET
//	permissions-write    5     permissions API PUT, PATCH
//	rest-write           10    other REST writes (ownership, secret ACLs)
//	default              10    everything else (workspaces list, REST reads)
//
// The read classes (scim-read, account-scim-read, permissions-read,
// assignments, default) probe; writes never do: a write (any method but
// GET and HEAD) named with a read class is charged to its write class
// (default: rest-write), so no write is ever sent above a rate that does
// not probe.
//
// A probing class is paced as one (see pacing in limiter.go): one of its
// buckets, the leader (the first to send, replaced when idle for 2 s),
// starts at the default and, while replies succeed, adds the default rate
// per success up to a ceiling of eight times the default
// (permissions-read: its published 100/s); the class's other buckets (the
// other workspaces) follow at the lowest rate the leader sent its latest
// three successful requests at, so their server buckets drain slower than
// the leader's and the leader draws a refusal first. A throttled reply at
// rate x halves the rate (once per round of requests sent at the old rate,
// and not above what the server delivered in the round that ended), sends
// the followers back to the default, and sets a learned ceiling of x/1.25:
// the rate creeps back up by default/40 per success but never above it,
// and never below the default there (a throttle at or below the default
// proves it too fast and halves that mark). Waiters holding slots laid out
// at an older rate are woken to take new ones when the rate rises by a
// quarter or falls. Settings.Rates sets classes by name: an overridden
// class starts at its rate and never goes above it.
// Settings.RPS caps every class, ceilings included, and Settings.Concurrency
// (default 4, the SCIM concurrency limit servers report) caps requests in
// flight per workspace.
//
// # Retries
//
// A call is retried, with exponential backoff and full jitter (0.5 s
// doubling to 30 s, never less than Retry-After), when:
//
//   - the server throttled it: HTTP 429, or REQUEST_LIMIT_EXCEEDED or
//     RESOURCE_EXHAUSTED in the error code or message whatever the status
//     (SCIM throttling arrives as HTTP 500). The request was not executed,
//     so it is retried for every method, and the class's rate halves (down
//     to 0.5/s) once per round of attempts sent at the old rate, recovering
//     by a small step after each success;
//   - the request never reached the server (dial failure);
//   - the call is idempotent (GET, HEAD, PUT, DELETE, or a call made with
//     Idempotent) and failed with a transport error or a 5xx, 503 included.
//     A 503 on a POST is not retried: a proxy may send it after the write
//     went through.
//
// Nothing is retried once the context is done; waits on the limiter and on
// backoff end as soon as it is. A call gives up after Settings.MaxAttempts
// attempts (default 8) or when the next wait would exceed
// Settings.RetryBudget (default 5 minutes), returning the last error wrapped
// (errors.Is(err, ErrThrottled) still holds). Settings.OnRetry and
// Settings.OnRequest observe attempts; credentials appear in neither.
//
// # POST is not idempotent
//
// A POST (and a PATCH not marked Idempotent) whose reply is lost — a
// transport error after sending, or a 5xx that is not throttling — is not
// retried: the server may have applied it. The error wraps
// ErrOutcomeUnknown; read the live state before trying again.
// Endpoint.CreateOnce does that for creates: it looks the resource up by
// its unique name (userName, displayName, applicationId) and returns it if
// the lost write created it.
//
// # Lists
//
// Endpoint.List pages SCIM lists with startIndex and count (default 100):
// the next startIndex is the echoed one plus the number of resources
// returned, and the list ends on an empty page. It survives servers that cap
// pages, de-duplicates by id, falls back to its own counter when startIndex
// is not echoed, and stops with ErrPageLimit rather than loop forever.
//
// # Errors
//
// Server errors are *APIError values (REST error_code/message, SCIM
// detail/status/scimType, plain "CODE: message", HTML and empty bodies are
// all understood); test them with errors.Is against ErrNotFound,
// ErrConflict, ErrThrottled and friends, or errors.As for the details.
// No error or event contains a credential: the package redacts every
// credential it sends from server messages and transport errors.
//
// # Workspaces on other hosts
//
// Session.Workspaces derives each workspace's URL from the account host
// (https://<deployment_name><zone>); on a unified host or the sandbox the
// account host is used and calls carry X-Databricks-Workspace-Id. A
// workspace on its own host gets the session's auth attributes re-resolved
// for that host: this works for OAuth (M2M, U2M, Azure), but an
// account-level personal access token is normally not valid on workspaces.
package scim
