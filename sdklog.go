package main

import (
	"context"
	"fmt"

	sdklogger "github.com/databricks/databricks-sdk-go/logger"

	"github.com/dbiam/dbiam/reports"
)

// sdkLog routes the Databricks SDK's log lines (credential resolution,
// discovery) through dbiam's logger, at debug level: they are internal
// detail, and dbiam reports what matters itself. The logger redacts every
// line. It is safe for concurrent use.
type sdkLog struct{ io *reports.Streams }

var _ sdklogger.Logger = sdkLog{}

func (l sdkLog) Enabled(_ context.Context, level sdklogger.Level) bool {
	return level >= sdklogger.LevelDebug && l.io.Logger().Enabled(reports.LevelDebug)
}

func (l sdkLog) log(format string, v ...any) {
	if l.io.Logger().Enabled(reports.LevelDebug) {
		l.io.Logger().Debug("sdk", "msg", fmt.Sprintf(format, v...))
	}
}

func (l sdkLog) Tracef(context.Context, string, ...any)       {}
func (l sdkLog) Debugf(_ context.Context, f string, v ...any) { l.log(f, v...) }
func (l sdkLog) Infof(_ context.Context, f string, v ...any)  { l.log(f, v...) }
func (l sdkLog) Warnf(_ context.Context, f string, v ...any)  { l.log(f, v...) }
func (l sdkLog) Errorf(_ context.Context, f string, v ...any) { l.log(f, v...) }
