package scim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// TokenScopeError is a reply refusing the session's personal access token
// where it is not valid. A personal access token is valid only in the
// workspace that issued it, and not for account APIs; to read several
// workspaces from an account host, dbiam needs a credential the account
// issues, such as OAuth M2M. Err is the *APIError of the reply (errors.Is
// with ErrUnauthenticated or ErrPermissionDenied still matches it). The
// message never contains the token.
type TokenScopeError struct {
	// Account is set when the account API refused the token; otherwise
	// WorkspaceID is the workspace that refused it (0 when not yet known).
	Account     bool
	WorkspaceID int64
	// Source says where the token was configured (see Credential.Source),
	// e.g. "DATABRICKS_TOKEN"; "" when unknown.
	Source string
	Err    error
}

// Error says where the token was refused, why, and what to use instead.
func (e *TokenScopeError) Error() string {
	token := "the personal access token"
	if e.Source != "" {
		token += " from " + e.Source
	}
	const fix = "use OAuth M2M instead: a service principal with access to every workspace, its client_id and client_secret " +
		"in the profile (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET)"
	switch {
	case e.Account:
		return fmt.Sprintf("the account API refuses %s (%v): account APIs take OAuth tokens, "+
			"a personal access token is valid only in the workspace that issued it; %s", token, e.Err, fix)
	case e.WorkspaceID != 0:
		return fmt.Sprintf("workspace %d refuses %s (%v): a personal access token is valid only "+
			"in the workspace that issued it; %s", e.WorkspaceID, token, e.Err, fix)
	}
	return fmt.Sprintf("the workspace refuses %s (%v): a personal access token is valid only "+
		"in the workspace that issued it (and until it expires or is revoked); %s", token, e.Err, fix)
}

// Unwrap returns the reply's error.
func (e *TokenScopeError) Unwrap() error { return e.Err }

// tokenScopeError wraps err in a *TokenScopeError when it is a reply that
// refuses a personal access token: 401, or 403 "Invalid access to Org" /
// "Invalid access token" (the service's replies to a token of another
// workspace). Other errors, and 403s about permissions, are returned as
// they are.
func tokenScopeError(err error, account bool, workspaceID int64, source string) error {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch {
	case apiErr.StatusCode == http.StatusUnauthorized,
		apiErr.StatusCode == http.StatusForbidden &&
			(strings.Contains(apiErr.Message, "Invalid access to Org") || strings.Contains(apiErr.Message, "Invalid access token")):
		return &TokenScopeError{Account: account, WorkspaceID: workspaceID, Source: source, Err: err}
	}
	return err
}
