package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// TestExportNonAdminToken (#11): the token of a user who is neither an
// account nor a workspace admin (the sandbox's dapi-sandbox-user, a member
// of acme-prod). On the account host the run fails at once with the 403
// and says why, and writes nothing. With --workspaces-file it exports what
// a member may read (the identity tables) and says that the assignments
// were not read, instead of an empty assignments table that looks like
// "nobody is assigned".
func TestExportNonAdminToken(t *testing.T) {
	var token string
	userToken := func(s *scim.Settings) { s.Token = token }
	e := newEnv(t, sandbox.Options{}, userToken)
	token = e.srv.UserToken()
	if token == "" {
		t.Fatal("the default seed has no user token")
	}
	e = newEnv(t, sandbox.Options{}, userToken)

	path := e.path("out")
	err := Run(context.Background(), Options{Format: "csv", Out: path}, e.deps)
	if !errors.Is(err, scim.ErrPermissionDenied) || !strings.Contains(err.Error(), "you are not an account admin") ||
		strings.Contains(err.Error(), "\n") {
		t.Fatalf("Run on the account host = %v, want one line with the 403 and that the caller is not an account admin", err)
	}
	var pe *PartialError
	if errors.As(err, &pe) {
		t.Errorf("Run = %v: a refused account is not a partial export", err)
	}
	if _, serr := os.Stat(path); !os.IsNotExist(serr) {
		t.Errorf("output written: %v", serr)
	}

	e = newEnv(t, sandbox.Options{}, func(s *scim.Settings) { s.Token = token; s.AccountID = "" })
	file := e.path("ws.csv")
	if err := os.WriteFile(file, []byte(fmt.Sprintf("id,name,url\n%s,acme-prod,%s\n", wsProd, e.srv.URL())), 0o600); err != nil {
		t.Fatal(err)
	}
	path = e.path("out")
	if err := Run(context.Background(), Options{WorkspacesFile: file, Format: "csv", Out: path}, e.deps); err != nil {
		t.Fatalf("Run with --workspaces-file = %v, want success: a member reads the workspace's identities", err)
	}
	out := readOutput(t, "csv", path)
	row := out[TableWorkspaces].one(t, "workspace_id", wsProd)
	if row["export_status"] != statusOK || row["users"] == "" || row["users"] == "0" || row["assignments"] != "" ||
		!strings.HasPrefix(row["error"], "assignments not read (not failed): list assignments: ") || !strings.Contains(row["error"], "403") {
		t.Errorf("workspace row = %v", row)
	}
	if n := len(out[TableUsers].where(t, "workspace_id", wsProd)); fmt.Sprint(n) != row["users"] {
		t.Errorf("%d user rows, workspace row says %s", n, row["users"])
	}
	if strings.Contains(e.stderr.String(), token) {
		t.Error("stderr shows the token")
	}
}
