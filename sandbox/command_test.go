package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{Name: "dbiam", Writer: stdout, ErrWriter: stderr, Commands: []*cli.Command{Command()},
		ExitErrHandler: func(*cli.Context, error) {}}
}

func TestServeCommand(t *testing.T) {
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	app := newApp(pw, &stderr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, []string{"dbiam", "sandbox", "serve", "--seed", "../testdata/sandbox/small.json",
			"--page-cap", "3", "--rate", "scim-patch=2", "--throttle-style", "scim500", "--consistency", "1s"})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("first stdout line: %v (%v)", err, <-done)
	}
	var info ServeInfo
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		t.Fatalf("first line %q: %v", line, err)
	}
	if !strings.HasPrefix(info.Host, "http://127.0.0.1:") || info.AccountID != smallAcc || info.Token != "dapi-small-admin" ||
		info.UserToken != "dapi-small-user" || len(info.Workspaces) != 2 || info.Workspaces[0].WorkspaceID != 1001 ||
		info.Workspaces[0].WorkspaceName != "fed" {
		t.Errorf("serve info %+v", info)
	}
	// The server behind it serves the seed with the flags applied.
	c := tc{t: t, base: info.Host, token: info.Token, ws: wsFed}
	if got := len(c.list(usersPath, nil).resources(t)); got != 3 {
		t.Errorf("page of %d users, want the --page-cap 3", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve returned %v after cancellation", err)
	}
	if !strings.Contains(stderr.String(), "serving account "+smallAcc) {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestServeCommandFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "0.0.0.0:0"}, "--allow-remote"},
		{[]string{"--addr", ":8080"}, "--allow-remote"},
		{[]string{"--addr", "nonsense"}, "--addr"},
		{[]string{"--rate", "scim-reed=5"}, `--rate "scim-reed=5"`},
		{[]string{"--rate", "scim-read"}, "--rate"},
		{[]string{"--rate", "scim-read=-1"}, "--rate"},
		{[]string{"--throttle-style", "418"}, "--throttle-style"},
		{[]string{"--fault-rate", "1.5"}, "--fault-rate"},
		{[]string{"--page-cap", "-1"}, "--page-cap"},
		{[]string{"--max-concurrent", "-2"}, "--max-concurrent"},
		{[]string{"--filter-dialect", "rfc"}, `--filter-dialect "rfc": want strict or lenient`},
		{[]string{"--seed", "../testdata/sandbox/unknown-field.json"}, `--seed: load seed ../testdata/sandbox/unknown-field.json: parse seed: users[0]: unknown field "emial"`},
		{[]string{"--synthetic", "users=many"}, "--synthetic: synthetic spec: users"},
		{[]string{"--seed", "x.json", "--synthetic", "users=1"}, "--seed and --synthetic"},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		err := newApp(&out, io.Discard).RunContext(context.Background(), append([]string{"dbiam", "sandbox", "serve"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to contain %q", tc.args, err, tc.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: multi-line error %q", tc.args, err)
		}
		if out.Len() > 0 {
			t.Errorf("%v: stdout %q on error", tc.args, out.String())
		}
	}
}
