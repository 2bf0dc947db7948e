package scim

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/common/environment"
	"github.com/databricks/databricks-sdk-go/config"
)

// WorkspaceInfo describes a workspace to work on.
type WorkspaceInfo struct {
	ID             int64
	Name           string
	DeploymentName string
	Cloud          string
	Status         string // workspace_status, e.g. RUNNING; empty if unknown
	URL            string // base URL of the workspace's API
	// RouteByHeader is true when URL is the account host and calls carry
	// X-Databricks-Workspace-Id (unified hosts, the sandbox).
	RouteByHeader bool
}

// Workspaces lists the workspaces to work on. With an account id it lists
// the account's workspaces (all statuses; callers skip those not RUNNING)
// and derives each URL from the account host (§C, see placeWorkspaces); an
// account host whose workspaces cannot be placed fails with a *ConfigError
// before any request. Without an account id it returns the single --host
// workspace, its id read from Me's X-Databricks-Org-Id.
func (s *Session) Workspaces(ctx context.Context) ([]WorkspaceInfo, error) {
	if s.accountID == "" {
		if isAccountHost(s.cfg, s.host) {
			return nil, &ConfigError{Op: "list workspaces",
				Problem: fmt.Sprintf("host %s is an account console but no account id is set", s.host),
				Fix:     "pass --account-id (or set account_id in the profile), or pass --host with a workspace URL"}
		}
		w, err := s.Workspace(WorkspaceInfo{URL: s.host})
		if err != nil {
			return nil, err
		}
		_, id, err := w.Me(ctx)
		if err != nil {
			return nil, fmt.Errorf("identify workspace %s: %w", s.host, err)
		}
		u, _ := url.Parse(s.host)
		return []WorkspaceInfo{{ID: id, Name: u.Hostname(), URL: s.host}}, nil
	}
	place, err := placeWorkspaces(s.cfg, s.host)
	if err != nil {
		return nil, err
	}
	a, err := s.Account()
	if err != nil {
		return nil, err
	}
	list, err := a.ListWorkspaces(ctx)
	if err != nil {
		if errors.Is(err, ErrPermissionDenied) {
			return nil, &AccountAdminError{AccountID: s.accountID, Err: err}
		}
		return nil, fmt.Errorf("list workspaces of account %s: %w", s.accountID, err)
	}
	out := make([]WorkspaceInfo, 0, len(list))
	for _, w := range list {
		out = append(out, WorkspaceInfo{
			ID:             w.WorkspaceID,
			Name:           w.WorkspaceName,
			DeploymentName: w.DeploymentName,
			Cloud:          w.Cloud,
			Status:         w.WorkspaceStatus,
			URL:            place.url(s.host, w.DeploymentName),
			RouteByHeader:  place.byHeader,
		})
	}
	return out, nil
}

// isAccountHost reports whether host is an account console: the SDK's host
// type (from host metadata or the URL), or a host name starting with
// accounts. or accounts-dod. in any case.
func isAccountHost(cfg *config.Config, host string) bool {
	if cfg != nil && cfg.HostType() == config.AccountHost {
		return true
	}
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.HasPrefix(h, "accounts.") || strings.HasPrefix(h, "accounts-dod.")
}

// placement says where the workspaces of an account host are served: on
// hosts https://<deployment_name><zone>, or on the account host itself,
// routed by the X-Databricks-Workspace-Id header.
type placement struct {
	zone     string
	byHeader bool
}

// url returns the URL of the workspace with deploymentName: "" when the
// workspace has no deployment name and lives on a host of its own (Session.
// Workspace then refuses it with the fix).
func (p placement) url(accountHost, deploymentName string) string {
	switch {
	case p.byHeader:
		return accountHost
	case deploymentName == "":
		return ""
	}
	return "https://" + deploymentName + p.zone
}

// extraZones are Databricks DNS zones the SDK v0.175.0 environment table
// (common/environment) lacks, each with its public source.
var extraZones = []string{
	// AWS GovCloud DoD, console accounts-dod.cloud.databricks.mil: the
	// Java SDK's environment table lists the zone (databricks-sdk-java
	// src/main/java/com/databricks/sdk/core/DatabricksEnvironment.java,
	// commit 50205c59, "Added support for .cloud.databricks.mil domains",
	// databricks-sdk-java#435); the Go SDK's HostType knows the console by
	// its accounts-dod. prefix but has no zone for its workspaces.
	".cloud.databricks.mil",
}

// placeWorkspaces decides where the workspaces of the account host live:
//
//   - a loopback host (the sandbox, tests) and a unified host (host metadata
//     host_type "unified") serve them itself, routed by header, as the
//     SDK's AccountClient.GetWorkspaceClient does for hosts without a zone;
//   - a host in a Databricks DNS zone, from the SDK's environment table
//     (GovCloud .cloud.databricks.us included) or extraZones (DoD
//     .cloud.databricks.mil), serves them on <deployment_name><zone>;
//   - any other host fails with a *ConfigError naming it and the fix: header
//     routing cannot work on a real console (accounts.azuredatabricks.us and
//     accounts.azuredatabricks.cn, whose workspaces are in the
//     .databricks.azure.us and .databricks.azure.cn zones, are such hosts).
func placeWorkspaces(cfg *config.Config, accountHost string) (placement, error) {
	u, err := url.Parse(accountHost)
	if err != nil || u.Hostname() == "" {
		return placement{}, &ConfigError{Op: "list workspaces", Problem: fmt.Sprintf("account host %q is not a URL", accountHost),
			Fix: "pass --host as https://<account console>"}
	}
	host := strings.ToLower(u.Hostname())
	if isLoopback(host) || (cfg != nil && cfg.HostType() == config.UnifiedHost) {
		return placement{byHeader: true}, nil
	}
	if zone := dnsZone(host); zone != "" {
		return placement{zone: zone}, nil
	}
	return placement{}, &ConfigError{Op: "list workspaces",
		Problem: fmt.Sprintf("cannot derive workspace URLs from account host %s: it is in none of the Databricks DNS zones dbiam knows (%s)", accountHost, strings.Join(knownZones(), " ")),
		Fix:     "pass --workspaces-file with one id,name,url row per workspace (export), or run once per workspace with --host <workspace URL>"}
}

// isLoopback reports whether host (a lower-case host name or address) is
// localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// knownZones lists the DNS zones dnsZone knows: the SDK's and extraZones.
func knownZones() []string {
	var out []string
	for _, env := range environment.AllEnvironments() {
		if env.DnsZone != "" && !slices.Contains(out, env.DnsZone) {
			out = append(out, env.DnsZone)
		}
	}
	for _, z := range extraZones {
		if !slices.Contains(out, z) {
			out = append(out, z)
		}
	}
	return out
}

// dnsZone returns the longest known Databricks DNS zone hostname ends with,
// or "".
func dnsZone(hostname string) string {
	best := ""
	for _, z := range knownZones() {
		if strings.HasSuffix(strings.ToLower(hostname), z) && len(z) > len(best) {
			best = z
		}
	}
	return best
}

// ReadWorkspacesFile reads workspaces from a CSV file with the columns
// id,name,url; a header row is optional, as are lines starting with #.
// The id and the url may have spaces around them; the name is data, taken
// byte for byte as its field ("1, ml ,https://..." names " ml ", as
// export's workspaces table writes it quoted). A bad row yields an error
// naming the file, the line and the fix.
func ReadWorkspacesFile(path string) ([]WorkspaceInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read workspaces file %s: %w", path, err)
	}
	defer f.Close()
	ws, err := parseWorkspaces(f)
	if err != nil {
		return nil, fmt.Errorf("read workspaces file %s: %w", path, err)
	}
	return ws, nil
}

// isHeaderID reports whether the first field of the first row names the id
// column: "id", or "workspace_id" as in dbiam's own workspaces table.
func isHeaderID(field string) bool {
	f := strings.TrimSpace(field)
	return strings.EqualFold(f, "id") || strings.EqualFold(f, "workspace_id")
}

// utf8BOM is the UTF-8 encoding of U+FEFF.
const utf8BOM = "\ufeff"

func parseWorkspaces(r io.Reader) ([]WorkspaceInfo, error) {
	// Spreadsheet programs save "CSV UTF-8" with a byte order mark; without
	// this the header (or the first id) would not be recognised.
	br := bufio.NewReader(r)
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == utf8BOM {
		br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	var out []WorkspaceInfo
	seen := map[int64]int{}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: fix the CSV quoting", err)
		}
		line, _ := cr.FieldPos(0)
		if first && isHeaderID(rec[0]) {
			continue
		}
		if len(rec) != 3 {
			return nil, fmt.Errorf("line %d: %d columns: write id,name,url", line, len(rec))
		}
		idText, name, rawURL := strings.TrimSpace(rec[0]), rec[1], strings.TrimSpace(rec[2])
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("line %d: workspace id %q is not a positive number: write the numeric workspace id first", line, idText)
		}
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return nil, fmt.Errorf("line %d: url %q is not a workspace URL: write https://<workspace host>", line, rawURL)
		}
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("line %d: workspace id %d already on line %d: remove the duplicate", line, id, prev)
		}
		seen[id] = line
		out = append(out, WorkspaceInfo{ID: id, Name: name, URL: u.Scheme + "://" + u.Host})
	}
	if len(out) == 0 {
		return nil, errors.New("no workspaces: write one id,name,url row per workspace")
	}
	return out, nil
}
