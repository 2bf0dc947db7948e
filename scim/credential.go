package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/config"
)

// Credential describes the credential a session authenticates with, for
// messages: how (the SDK's auth type) and where it came from. It never
// holds a secret.
type Credential struct {
	// AuthType is the SDK's name of the method: "pat", "oauth-m2m",
	// "databricks-cli", "azure-client-secret", ...
	AuthType string
	// Source says where the credential was configured: `profile "prod" in
	// /home/me/.databrickscfg`, "DATABRICKS_TOKEN", "the embedded sandbox".
	Source string
	// ClientID is the OAuth client (service principal application id) of
	// oauth-m2m, which is not a secret; empty otherwise.
	ClientID string
}

// String reads like "personal access token from DATABRICKS_TOKEN" or
// "OAuth M2M client 7a1b… from profile "prod" in ~/.databrickscfg".
func (c Credential) String() string {
	var b strings.Builder
	switch c.AuthType {
	case "pat":
		b.WriteString("personal access token")
	case "oauth-m2m":
		b.WriteString("OAuth M2M client")
		if c.ClientID != "" {
			b.WriteString(" " + c.ClientID)
		}
	case "":
		b.WriteString("credentials")
	default:
		b.WriteString(c.AuthType + " credentials")
	}
	if c.Source != "" {
		b.WriteString(" from " + c.Source)
	}
	return b.String()
}

// check says what to verify when the service refuses the credential.
func (c Credential) check() string {
	switch c.AuthType {
	case "pat":
		return "check that the token is not expired or revoked and was issued by this host (a personal access token is valid only in the workspace that issued it)"
	case "oauth-m2m":
		return "check that the service principal exists and is active, and that its OAuth secret is valid and belongs to it"
	case "databricks-cli":
		return "run 'databricks auth login --host <host>' again"
	}
	return "check the credentials of " + orDefault(c.Source, "the session")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// credentialOf describes the credential of a resolved config. token is
// Settings.Token (the embedded sandbox's).
func credentialOf(cfg *config.Config, token string) Credential {
	c := Credential{AuthType: cfg.AuthType}
	if token != "" && cfg.Token == token {
		c.Source = "the embedded sandbox"
		return c
	}
	if c.AuthType == "oauth-m2m" {
		c.ClientID = cfg.ClientID
	}
	c.Source = credentialSource(cfg)
	return c
}

// credentialSource names where cfg's credential attributes for its auth
// type were set: the environment variables by name, or the profile and
// file.
func credentialSource(cfg *config.Config) string {
	details := cfg.GetAuthDetails()
	var envs []string
	file := ""
	for _, a := range config.ConfigAttributes {
		if !a.HasAuthAttribute() || a.IsZero(cfg) {
			continue
		}
		if cfg.AuthType != "" && len(a.AuthTypes) > 0 && !slices.Contains(a.AuthTypes, cfg.AuthType) {
			continue
		}
		if cfg.AuthType == "pat" && a.Name != "token" {
			continue
		}
		d, ok := details.Configuration[a.Name]
		if !ok {
			continue
		}
		switch d.Source.Type {
		case config.SourceEnv:
			if !slices.Contains(envs, d.Source.Name) {
				envs = append(envs, d.Source.Name)
			}
		case config.SourceFile:
			file = d.Source.Name
		}
	}
	switch {
	case file != "":
		profile := cfg.Profile
		if profile == "" {
			profile = "DEFAULT"
		}
		return fmt.Sprintf("profile %q in %s", profile, file)
	case len(envs) > 0:
		return strings.Join(envs, " and ")
	}
	return ""
}

// hasCredentialAttributes reports whether any attribute that some auth
// method uses is set (a token, a client id, a password, Azure or Google
// credentials, ...).
func hasCredentialAttributes(cfg *config.Config) bool {
	for _, a := range config.ConfigAttributes {
		if a.HasAuthAttribute() && !a.IsZero(cfg) {
			return true
		}
	}
	return false
}

// noCredentialsFix names the three ways to give dbiam credentials.
const noCredentialsFix = "pass --profile NAME (a profile in ~/.databrickscfg), or set DATABRICKS_CLIENT_ID and " +
	"DATABRICKS_CLIENT_SECRET (OAuth M2M, recommended) or DATABRICKS_TOKEN (a personal access token)"

// explainResolveError turns the SDK's "cannot configure default
// credentials" into a one-line *ConfigError that says what was wrong: no
// credentials at all, or an OAuth M2M client that the token endpoint
// refused (the SDK swallows that reply). It returns nil for other errors.
func explainResolveError(ctx context.Context, cfg *config.Config, err error, secrets *redactor) *ConfigError {
	if !errors.Is(err, config.ErrCannotConfigureDefault) {
		return nil
	}
	if !hasCredentialAttributes(cfg) {
		return &ConfigError{Op: "resolve credentials", Problem: "no credentials for " + cfg.Host, Fix: noCredentialsFix}
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil
	}
	// Ask for the M2M token again, alone, to read the endpoint's reply.
	probe := &config.Config{Host: cfg.Host, AccountID: cfg.AccountID, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		AuthType: "oauth-m2m", HTTPTransport: cfg.HTTPTransport, HostMetadataResolver: cfg.HostMetadataResolver,
		Loaders: []config.Loader{noopLoader{}}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host, nil)
	perr := probe.Authenticate(req)
	status := 0
	for code, sentinel := range map[int]error{400: apierr.ErrBadRequest, 401: apierr.ErrUnauthenticated, 403: apierr.ErrPermissionDenied} {
		if errors.Is(perr, sentinel) {
			status = code
		}
	}
	if perr == nil || status == 0 {
		return nil
	}
	endpoint := "the token endpoint"
	reply := ""
	var ue *url.Error
	if errors.As(perr, &ue) {
		endpoint += " " + ue.URL
		reply = ue.Err.Error()
	}
	// The SDK's error carries the endpoint's OAuth error body (RFC 6749 §5.2).
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	what := strconv.Itoa(status)
	if json.Unmarshal([]byte(reply), &body) == nil && body.Error != "" {
		what += " " + body.Error
		if body.Description != "" {
			what += " (" + oneLine(body.Description) + ")"
		}
	} else if reply != "" {
		what += ": " + oneLine(reply)
	}
	cred := Credential{AuthType: "oauth-m2m", ClientID: cfg.ClientID, Source: credentialSource(cfg)}
	fix := "check the OAuth secret (client_secret in the profile, or DATABRICKS_CLIENT_SECRET): it may be wrong, expired or deleted; an account admin can create a new one for the service principal"
	if body.Error != "" && body.Error != "invalid_client" {
		fix = "check the client id and secret, and that the service principal may use OAuth"
	}
	return &ConfigError{Op: "resolve credentials", Problem: secrets.redact(fmt.Sprintf("%s refused the %s: %s", endpoint, cred, what)), Fix: fix}
}

// AuthError is a reply refusing the session's credential (HTTP 401): it is
// wrong, expired or revoked, or not valid on that host. It names the
// credential, never its secret; Hint says what to check. Err is the
// *APIError of the reply (errors.Is with ErrUnauthenticated matches).
type AuthError struct {
	Host       string
	Credential Credential
	Err        error
}

// Error says who refused which credential.
func (e *AuthError) Error() string {
	return fmt.Sprintf("%s refused the %s: %v", e.Host, e.Credential, e.Err)
}

// Unwrap returns the reply's error.
func (e *AuthError) Unwrap() error { return e.Err }

// Hint says what to check.
func (e *AuthError) Hint() string { return e.Credential.check() }

// AccountAdminError is a 403 reply to listing the account's workspaces:
// only account admins may list them. Err is the *APIError of the reply.
type AccountAdminError struct {
	AccountID string
	Err       error
}

// Error says that the caller is not an account admin.
func (e *AccountAdminError) Error() string {
	return fmt.Sprintf("list workspaces of account %s: you are not an account admin (%v)", e.AccountID, e.Err)
}

// Unwrap returns the reply's error.
func (e *AccountAdminError) Unwrap() error { return e.Err }

// Hint says how to work without account admin rights, true for every
// command: migrate and handover change account-level state and need an
// account admin; export and audit can read just the workspaces the caller
// administers.
func (e *AccountAdminError) Hint() string {
	return "migrate and handover need an account admin's credentials (e.g. OAuth M2M for a service principal with the account admin role); export and audit can instead use --workspaces-file with the workspaces you administer (one id,name,url row each), or --host one workspace URL at a time"
}
