package sandbox

import (
	"net/http"
	"strings"
)

func init() {
	registerFamily(family{name: "public", routes: registerPublic})
}

func registerPublic(s *Server) {
	pub := func(method, pattern string, write bool, h func(*call) error) route {
		return route{method: method, pattern: pattern, scope: scopePublic, write: write, handle: h}
	}
	s.handle(pub("GET", "/.well-known/databricks-config", false, s.hostMetadata))
	s.handle(pub("GET", "/oidc/.well-known/oauth-authorization-server", false, s.oauthMetadata))
	s.handle(pub("POST", "/oidc/v1/token", false, s.oauthToken))
	s.handle(pub("POST", "/oidc/accounts/{account_id}/v1/token", false, s.oauthToken))
	s.handle(pub("GET", "/sandbox/stats", false, func(c *call) error { return c.reply(http.StatusOK, s.Stats()) }))
	s.handle(pub("POST", "/sandbox/stats/reset", false, func(c *call) error { s.ResetStats(); return c.noContent() }))
	s.handle(pub("GET", "/sandbox/state", false, func(c *call) error { return c.reply(http.StatusOK, s.snapshot()) }))
}

// baseURL is the scheme and host the client used to reach the server.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// hostMetadata answers the SDK's host discovery. host_type "workspace"
// keeps both WorkspaceClient and AccountClient working (account calls do not
// depend on the host type for PAT auth); account_id lets clients that only
// know the host find the account. No workspace_id is sent, so clients that
// do not set one reach the first workspace.
func (s *Server) hostMetadata(c *call) error {
	return c.reply(http.StatusOK, map[string]any{
		"host_type":     "workspace",
		"oidc_endpoint": baseURL(c.r) + "/oidc",
		"account_id":    s.st.accountID,
	})
}

func (s *Server) oauthMetadata(c *call) error {
	base := baseURL(c.r) + "/oidc"
	return c.reply(http.StatusOK, map[string]any{
		"issuer":                 base,
		"authorization_endpoint": base + "/v1/authorize",
		"token_endpoint":         base + "/v1/token",
	})
}

// oauthToken implements the OAuth client-credentials grant (M2M): the client
// id is a service principal's application id and the client secret is one
// of its seeded tokens; the access token returned is that token.
func (s *Server) oauthToken(c *call) error {
	if err := c.r.ParseForm(); err != nil {
		return c.reply(http.StatusBadRequest, map[string]string{"error": "invalid_request"})
	}
	if g := c.r.PostForm.Get("grant_type"); g != "client_credentials" {
		return c.reply(http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
	}
	id, secret, ok := c.r.BasicAuth()
	if !ok {
		id, secret = c.r.PostForm.Get("client_id"), c.r.PostForm.Get("client_secret")
	}
	if t := s.st.tokens[secret]; t != nil {
		if p := s.st.get(t.principal); p != nil && p.kind == kindSP && strings.EqualFold(p.applicationID, id) {
			return c.reply(http.StatusOK, map[string]any{
				"access_token": t.value, "token_type": "Bearer", "expires_in": 3600, "scope": "all-apis",
			})
		}
	}
	return c.reply(http.StatusUnauthorized, map[string]string{"error": "invalid_client",
		"error_description": "Client authentication failed."})
}
