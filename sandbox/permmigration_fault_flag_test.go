package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParsePermissionMigrationFault(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want PermissionMigrationFault
	}{
		{`from="team a",offset=1,after=1,times=1`, PermissionMigrationFault{From: "team a", Offset: 1, After: 1, Times: 1}},
		// A name keeps its edge spaces when quoted, byte for byte.
		{` workspace = 1001 , from = "ops " , after=2`, PermissionMigrationFault{Workspace: 1001, From: "ops ", After: 2}},
		{`from="say \"hi\", ]",times=0`, PermissionMigrationFault{From: `say "hi", ]`}},
	} {
		got, err := ParsePermissionMigrationFault(tc.spec)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePermissionMigrationFault(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ spec, want string }{
		{"", `permission-migration-fault "": give at least one key (workspace, from, offset, after, times)`},
		{"after=1,colour=red", `unknown key "colour" (want workspace, from, offset, after, times)`},
		{"after=-1", `after: "-1" is not an integer of at least 0`},
		{"times", `times needs a value (times=...)`},
		{"workspace=abc", `workspace: "abc" is not a workspace id`},
		{`from="unclosed`, `a double quote is not closed`},
		{"after=1,after=2", `after is given twice`},
	} {
		_, err := ParsePermissionMigrationFault(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePermissionMigrationFault(%q) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
}

// TestServePermissionMigrationFaultFlag: "sandbox serve
// --permission-migration-fault" installs a mid-batch fault from the command
// line: the second call for "team a" moves one grant, keeps it and answers
// the real service's 500; the next call moves the rest (two, not three:
// the one grant the failed call moved stays moved).
func TestServePermissionMigrationFaultFlag(t *testing.T) {
	seed, err := json.Marshal(grantsSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	seedFile := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	app := newApp(pw, io.Discard)
	app.DisableSliceFlagSeparator = true // as main.go: a spec holds commas
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, []string{"dbiam", "sandbox", "serve", "--seed", seedFile,
			"--permission-migration-fault", `from="team a",offset=1,after=1,times=1`})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("first stdout line: %v (%v)", err, <-done)
	}
	var info ServeInfo
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		t.Fatal(err)
	}
	c := tc{t: t, base: info.Host, token: info.Token, ws: wsFed}
	c.ok(http.StatusOK, "PUT", "/api/2.0/accounts/"+info.AccountID+"/workspaces/1001/permissionassignments/principals/"+idEng,
		map[string]any{"permissions": []string{"USER"}})
	call := func() reply {
		return c.do("POST", "/api/2.0/permissionmigration",
			map[string]any{"workspace_id": wsFed, "from_workspace_group_name": "team a", "to_account_group_name": "eng", "size": 2})
	}
	migrated := func(r reply) int {
		var v struct {
			N int `json:"permissions_migrated"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatalf("reply %s: %v", r.body, err)
		}
		return v.N
	}
	if r := call(); r.status != http.StatusOK || migrated(r) != 2 {
		t.Fatalf("first call: %d %s, want 200 with 2 moved", r.status, r.body)
	}
	if r := call(); r.status != http.StatusInternalServerError || !strings.Contains(string(r.body), "Error when updating permissions table") {
		t.Fatalf("second call: %d %s, want the 500", r.status, r.body)
	}
	rest := 0
	for range 10 {
		r := call()
		if r.status != http.StatusOK {
			t.Fatalf("call after the fault: %d %s", r.status, r.body)
		}
		n := migrated(r)
		if n == 0 {
			break
		}
		rest += n
	}
	if rest != 2 {
		t.Errorf("the calls after the fault moved %d, want 2 (the failed call kept the one it moved)", rest)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}

	// A bad spec fails before serving, naming the flag.
	app = newApp(io.Discard, io.Discard)
	app.DisableSliceFlagSeparator = true
	err = app.RunContext(context.Background(), []string{"dbiam", "sandbox", "serve", "--permission-migration-fault", "after=1,when=now"})
	if err == nil || !strings.HasPrefix(err.Error(), `--permission-migration-fault "after=1,when=now": unknown key "when"`) {
		t.Errorf("bad --permission-migration-fault: %v", err)
	}
}
