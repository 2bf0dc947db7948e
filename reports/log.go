package reports

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Level is the severity of a log line.
type Level int

// Log levels, lowest first. The zero Level is LevelInfo.
const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// ErrBadLevel is matched (with errors.Is) by the error of [ParseLevel].
var ErrBadLevel = errors.New("invalid log level")

// String returns the name printed in log lines: DEBUG, INFO, WARN or ERROR.
func (l Level) String() string {
	switch {
	case l <= LevelDebug:
		return "DEBUG"
	case l < LevelWarn:
		return "INFO"
	case l < LevelError:
		return "WARN"
	default:
		return "ERROR"
	}
}

// ParseLevel parses a --log-level value: debug, info, warn (or warning) or
// error, in any case. The error names the value and the valid ones and
// matches [ErrBadLevel].
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return LevelDebug, nil
	case "info", "":
		return LevelInfo, nil
	case "warn", "warning":
		return LevelWarn, nil
	case "error":
		return LevelError, nil
	}
	return LevelInfo, fmt.Errorf("%w %q: use one of debug, info, warn, error", ErrBadLevel, s)
}

// LoggerOptions configure a [Logger].
type LoggerOptions struct {
	// Level is the lowest level written; the zero value is LevelInfo.
	Level Level
	// Now is the clock for timestamps; nil means time.Now.
	Now func() time.Time
}

// Logger writes leveled, greppable lines, one per call, in the form
//
//	2026-11-24T21:14:33Z INFO export workspace=123 name="prod" users=150 took=1.2s
//
// The timestamp is UTC with second precision. After the level comes the
// message, then key=value pairs in the order given (pairs from [Logger.With]
// first). Strings, errors and other text are quoted Go-style; numbers,
// booleans, durations and times are bare. Every message and value passes
// through [Redact], and an http.Header value through [RedactHeaders], so a
// line never carries a credential.
//
// A Logger is safe for concurrent use; lines are never interleaved. A nil
// *Logger discards everything.
type Logger struct {
	sink  *logSink
	attrs []byte // pre-formatted " k=v" pairs from With
}

// logSink is the state a Logger shares with the loggers derived from it:
// the output, the level and the clock. It serialises writes. While a
// Progress draws bars, lines are handed to it so that they are printed
// above the bars.
type logSink struct {
	level atomic.Int64
	now   func() time.Time

	mu    sync.Mutex
	w     io.Writer
	above func([]byte) // set by Progress on a terminal
}

func (s *logSink) write(line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.above != nil {
		s.above(line)
		return
	}
	_, _ = s.w.Write(line) // stderr: nowhere to report a failure
}

// setAbove installs (or with nil removes) the hook that prints lines above
// progress bars. It reports false if another hook is installed.
func (s *logSink) setAbove(f func([]byte)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f != nil && s.above != nil {
		return false
	}
	s.above = f
	return true
}

// NewLogger returns a Logger writing to w (normally Streams.Err).
func NewLogger(w io.Writer, opts LoggerOptions) *Logger {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	sink := &logSink{w: w, now: now}
	sink.level.Store(int64(opts.Level))
	return &Logger{sink: sink}
}

// With returns a Logger that adds the key/value pairs kv to every line,
// before the pairs of the call. It shares l's output, level and clock.
func (l *Logger) With(kv ...any) *Logger {
	if l == nil {
		return nil
	}
	return &Logger{sink: l.sink, attrs: appendPairs(append([]byte(nil), l.attrs...), kv)}
}

// SetLevel sets the lowest level written by l and by every Logger that
// shares its output (derived with With, or derived from the same parent).
func (l *Logger) SetLevel(level Level) {
	if l != nil {
		l.sink.level.Store(int64(level))
	}
}

// Level returns the lowest level written.
func (l *Logger) Level() Level {
	if l == nil {
		return LevelError + 1
	}
	return Level(l.sink.level.Load())
}

// Enabled reports whether lines at level are written.
func (l *Logger) Enabled(level Level) bool { return l != nil && level >= l.Level() }

// Debug logs at LevelDebug.
func (l *Logger) Debug(msg string, kv ...any) { l.Log(LevelDebug, msg, kv...) }

// Info logs at LevelInfo.
func (l *Logger) Info(msg string, kv ...any) { l.Log(LevelInfo, msg, kv...) }

// Warn logs at LevelWarn.
func (l *Logger) Warn(msg string, kv ...any) { l.Log(LevelWarn, msg, kv...) }

// Error logs at LevelError.
func (l *Logger) Error(msg string, kv ...any) { l.Log(LevelError, msg, kv...) }

// Log writes one line at level with msg and the key/value pairs kv (keys
// are strings; a missing value is printed as !MISSING, a non-string key as
// !BADKEY).
func (l *Logger) Log(level Level, msg string, kv ...any) {
	if !l.Enabled(level) {
		return
	}
	b := make([]byte, 0, 128)
	b = l.sink.now().UTC().AppendFormat(b, time.RFC3339)
	b = append(b, ' ')
	b = append(b, level.String()...)
	b = append(b, ' ')
	b = appendMessage(b, msg)
	b = append(b, l.attrs...)
	b = appendPairs(b, kv)
	b = append(b, '\n')
	l.sink.write(b)
}

// appendMessage appends msg on a single line, redacted.
func appendMessage(b []byte, msg string) []byte {
	msg = Redact(msg)
	if strings.ContainsAny(msg, "\n\r") {
		msg = strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(msg)
	}
	return append(b, msg...)
}

// appendPairs appends " key=value" for each pair in kv.
func appendPairs(b []byte, kv []any) []byte {
	for i := 0; i < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok {
			b = append(b, " !BADKEY="...)
			b = appendValue(b, kv[i])
			i-- // the next element is a key again
			continue
		}
		b = append(b, ' ')
		b = appendKey(b, key)
		b = append(b, '=')
		if i+1 >= len(kv) {
			b = append(b, "!MISSING"...)
			break
		}
		b = appendValue(b, kv[i+1])
	}
	return b
}

// appendKey appends key with anything that would break logfmt parsing
// (space, '=', '"', control characters) replaced by '_'.
func appendKey(b []byte, key string) []byte {
	if key == "" {
		return append(b, '_')
	}
	for _, r := range key {
		if r <= ' ' || r == '=' || r == '"' || r == utf8.RuneError || r == 0x7f {
			r = '_'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

// appendValue appends the logfmt form of v.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return strconv.AppendQuote(b, Redact(v))
	case bool:
		return strconv.AppendBool(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int8:
		return strconv.AppendInt(b, int64(v), 10)
	case int16:
		return strconv.AppendInt(b, int64(v), 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case float32:
		return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case time.Duration:
		return append(b, roundDuration(v).String()...)
	case time.Time:
		return v.UTC().AppendFormat(b, time.RFC3339Nano)
	case http.Header:
		return strconv.AppendQuote(b, fmt.Sprint(RedactHeaders(v)))
	default:
		// errors and Stringers included; fmt survives nil receivers.
		return strconv.AppendQuote(b, Redact(fmt.Sprint(v)))
	}
}

// roundDuration rounds d for humans: to the millisecond below a second, to
// 100ms below a minute, to the second above.
func roundDuration(d time.Duration) time.Duration {
	a := d
	if a < 0 {
		a = -a
	}
	switch {
	case a < time.Millisecond:
		return d
	case a < time.Second:
		return d.Round(time.Millisecond)
	case a < time.Minute:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Second)
	}
}
