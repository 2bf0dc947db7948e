// Package scim is dbiam's client for the Databricks identity APIs: workspace
// and account SCIM (Users, Groups, ServicePrincipals, Me), account workspaces,
// workspace permission assignments, and the few REST reads the feature
// packages need.
//
// Every call goes through one transport stack, built in one place
// (see newTransport): per-host, per-endpoint-class token buckets, a cap on
// concurrent requests per workspace, retries with exponential backoff and
// jitter for throttling and transient failures, and authentication through the
// Databricks SDK's config package. The package never prints; callers observe
// retries through Options.OnRetry.
//
// Errors returned by the server are *APIError values; test them with
// errors.Is against ErrNotFound, ErrConflict, ErrThrottled and friends, or
// errors.As for the details. No error ever contains a credential.
package scim
