package reports_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dbiam/dbiam/reports"
)

func ExampleNewTables() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "export")

	tables, err := reports.NewTables(reports.FormatCSV, out, reports.TablesOptions{Force: false})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tables.Abort() // no-op after a successful Commit

	users, _ := tables.Table("users", []reports.Column{
		{Name: "workspace_id", Type: reports.TypeInt},
		{Name: "user_name"},
		{Name: "active", Type: reports.TypeBool},
	})
	_ = users.WriteRow(123, "alice@example.test", true)
	_ = users.WriteRow(123, "bob@example.test", false)
	if err := tables.Commit(); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(out, "users.csv"))
	fmt.Print(string(b))

	_, err = reports.NewTables(reports.FormatCSV, out, reports.TablesOptions{})
	fmt.Println(err != nil && err.Error() == "output "+out+" exists: pass --force to overwrite")
	// Output:
	// workspace_id,user_name,active
	// 123,alice@example.test,true
	// 123,bob@example.test,false
	// true
}

func ExampleLogger() {
	log := reports.NewLogger(os.Stdout, reports.LoggerOptions{
		Now: func() time.Time { return time.Date(2026, 11, 24, 21, 14, 33, 0, time.UTC) },
	})
	log.With("workspace", 123).Info("export", "name", "prod", "users", 150, "took", 1200*time.Millisecond)
	log.Debug("not shown at the default level")
	log.Warn("retrying", "header", "Authorization: Bearer dapi0123456789abcdef")
	// Output:
	// 2026-11-24T21:14:33Z INFO export workspace=123 name="prod" users=150 took=1.2s
	// 2026-11-24T21:14:33Z WARN retrying header="Authorization: Bearer [REDACTED]"
}

func ExampleProgress() {
	s, _, stderr := reports.Test() // not a terminal: plain lines, no bars
	s.SetLogger(reports.NewLogger(s.Err, reports.LoggerOptions{
		Now: func() time.Time { return time.Date(2026, 11, 24, 21, 14, 33, 0, time.UTC) },
	}))
	clock := time.Date(2026, 11, 24, 21, 14, 0, 0, time.UTC)
	p := reports.NewProgress(s, reports.ProgressOptions{
		Label: "export", Unit: "users", Tasks: 2, StatusInterval: -1,
		Now: func() time.Time { return clock },
	})
	task := p.Task("prod", 0)
	task.SetTotal(150)
	task.Add(150)
	task.Done("150 users, 12 groups")
	p.Close()
	fmt.Print(stderr.String())
	// Output:
	// 2026-11-24T21:14:33Z INFO export done task="prod" users=150 took=0s summary="150 users, 12 groups"
}
