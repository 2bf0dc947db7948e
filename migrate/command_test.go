package migrate

import (
	"context"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

func runCLI(args ...string) error {
	io, _, _ := reports.Test()
	connect := func(context.Context) (*scim.Session, error) { panic("flag errors must not connect") }
	app := &cli.App{Name: "dbiam", Writer: io.Err, ErrWriter: io.Err, ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{Command(io, connect)}}
	return app.Run(append([]string{"dbiam", "migrate"}, args...))
}

func TestCommandFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"apply"}, "migrate apply takes one argument, the plan file"},
		{[]string{"apply", "a.json", "b.json"}, "takes one argument"},
		{[]string{"apply", "--member-batch", "101", "missing.json"}, "member batch 101 is out of range: use 1 to 100"},
		{[]string{"apply", "missing.json"}, "read plan missing.json"},
		{[]string{"apply", "plan.json", "--force-unlock"}, "flags go before the plan file: dbiam migrate apply --force-unlock plan.json"},
		{[]string{"apply", "my plan.json", "--journal", "j", "--dry-run"}, `flags go before the plan file: dbiam migrate apply --journal j --dry-run "my plan.json"`},
		{[]string{"verify"}, "migrate verify takes one argument"},
		{[]string{"verify", "plan.json", "-j", "dir"}, "flags go before the plan file: dbiam migrate verify -j dir plan.json"},
		{[]string{"status"}, "migrate status: flag --journal is required: the journal directory apply used"},
		{[]string{"status", "PLAN.journal"}, "migrate status takes the journal directory as --journal, not as an argument: dbiam migrate status --journal PLAN.journal"},
		{[]string{"finalize", "my plan.journal"}, `migrate finalize takes the journal directory as --journal, not as an argument: dbiam migrate finalize --journal "my plan.journal"`},
		{[]string{"rollback", "PLAN.journal"}, "migrate rollback takes the journal directory as --journal, not as an argument: dbiam migrate rollback --journal PLAN.journal"},
		{[]string{"status", "--journal", "j", "extra"}, "migrate status takes no arguments"},
		{[]string{"rollback"}, "migrate rollback: flag --journal is required"},
		{[]string{"rollback", "--force", "--journal", "j", "x"}, "migrate rollback takes no arguments"},
		{[]string{"finalize", "--journal", "j", "x"}, "migrate finalize takes no arguments"},
		{[]string{"adopt", "plan.json"}, `adopt: flag --journal is required: a new directory for the rebuilt journal`},
		{[]string{"adopt", "--journal", "j"}, "migrate adopt takes one argument, the plan file"},
		{[]string{"adopt", "--journal", "j", "missing.json"}, "read plan missing.json"},
		{[]string{"adopt", "--wait", "-1s", "--journal", "j", "missing.json"}, "adopt: --wait -1s: must not be negative"},
	} {
		err := runCLI(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("migrate %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
