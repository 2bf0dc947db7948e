package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/dbiam/dbiam/reports"
)

// Journal format versions (see the package doc).
const (
	// Version is the version new journals are written in: sequence numbers
	// and a hash chain.
	Version = 2
	// Version1 is the format "dbiam migrate" wrote before this package:
	// sequence numbers, no hash chain. It is read and appended to, never
	// created.
	Version1 = 1
)

// File names inside a journal directory.
const (
	FileName        = "journal.jsonl"
	CorruptFileName = "journal.corrupt"
	LockFileName    = "lock"
	PlanFileName    = "plan.json"
)

// ErrMismatch is matched (errors.Is) when a journal was written for
// another plan or by another command.
var ErrMismatch = errors.New("journal belongs to another plan")

// ErrNoJournal is matched (errors.Is) when a directory holds no journal.
var ErrNoJournal = errors.New("no journal")

// ErrCorrupt is matched (errors.Is) when a journal is damaged before its
// last line, or its sequence numbers or hash chain are broken.
var ErrCorrupt = errors.New("journal is damaged")

// CorruptError is a damaged journal: the line where it breaks and what is
// wrong there. It matches [ErrCorrupt]. A command with a repair path of
// its own names it instead of the default advice (errors.As, then
// [CorruptError.Describe]).
type CorruptError struct {
	Path    string // the journal file
	Line    int    // 1-based line number
	Problem string // e.g. "repeats sequence number 2 (expected 3): a record was duplicated or moved"
}

// Error names the file and the line, and says to move the directory
// aside or pass another one.
func (e *CorruptError) Error() string {
	return e.Describe("move the directory aside or pass another journal directory")
}

// Describe is the error's text with fix as the advice.
func (e *CorruptError) Describe(fix string) string {
	return fmt.Sprintf("read journal %s: %v: line %d %s; %s", e.Path, ErrCorrupt, e.Line, e.Problem, fix)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Header is the first line of a journal.
type Header struct {
	Version int `json:"journal_version"`
	// Kind names the command that owns the journal ("handover"); empty in
	// version 1.
	Kind string `json:"kind,omitempty"`
	// PlanSHA256 binds the journal to the exact bytes of one plan file.
	PlanSHA256  string `json:"plan_sha256"`
	Lineage     string `json:"lineage"`
	ToolVersion string `json:"tool_version"`
}

// State is the state a record moves its step to. A step with no record is
// pending ("").
type State string

// Step states.
const (
	Started State = "started"
	Done    State = "done"
	Failed  State = "failed"
	Skipped State = "skipped"
)

// Record is one journal line: the envelope (sequence number, hash of the
// previous line, time, step, state, error) and the command's payload P,
// whose JSON fields are written inline on the same line. P must marshal to
// a JSON object whose field names differ from the envelope's (seq, prev,
// time, step, state, error).
type Record[P any] struct {
	Seq   int64
	Prev  string
	Time  time.Time
	Step  string
	State State
	Error string
	Data  P
}

// envelope is the JSON shape of a record's own fields.
type envelope struct {
	Seq   int64     `json:"seq"`
	Prev  string    `json:"prev,omitempty"`
	Time  time.Time `json:"time"`
	Step  string    `json:"step"`
	State State     `json:"state"`
	Error string    `json:"error,omitempty"`
}

var envelopeKeys = []string{"seq", "prev", "time", "step", "state", "error"}

// encodeRecord returns r as one JSON line without the newline.
func encodeRecord[P any](r Record[P]) ([]byte, error) {
	env, err := json.Marshal(envelope{Seq: r.Seq, Prev: r.Prev, Time: r.Time, Step: r.Step, State: r.State, Error: r.Error})
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(r.Data)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	if len(data) < 2 || data[0] != '{' || data[len(data)-1] != '}' {
		return nil, fmt.Errorf("journal payload %T does not encode as a JSON object", r.Data)
	}
	if string(data) == "{}" {
		return env, nil
	}
	out := make([]byte, 0, len(env)+len(data))
	out = append(out, env[:len(env)-1]...)
	out = append(out, ',')
	return append(out, data[1:]...), nil
}

// decodeRecord parses one record line strictly: every field must belong to
// the envelope or to P.
func decodeRecord[P any](line []byte) (Record[P], error) {
	var fields map[string]json.RawMessage
	if err := strictUnmarshal(line, &fields); err != nil {
		return Record[P]{}, err
	}
	var env envelope
	payload := map[string]json.RawMessage{}
	envFields := map[string]json.RawMessage{}
	for k, v := range fields {
		if slices.Contains(envelopeKeys, k) {
			envFields[k] = v
		} else {
			payload[k] = v
		}
	}
	b, _ := json.Marshal(envFields)
	if err := strictUnmarshal(b, &env); err != nil {
		return Record[P]{}, err
	}
	r := Record[P]{Seq: env.Seq, Prev: env.Prev, Time: env.Time, Step: env.Step, State: env.State, Error: env.Error}
	if len(payload) > 0 {
		b, _ := json.Marshal(payload)
		if err := strictUnmarshal(b, &r.Data); err != nil {
			return Record[P]{}, err
		}
	}
	if r.Step == "" || r.State == "" {
		return Record[P]{}, errors.New("missing step or state")
	}
	return r, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// lineHash is the chain hash of one line's bytes (without its newline).
func lineHash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// Path returns the journal file inside dir.
func Path(dir string) string { return filepath.Join(dir, FileName) }

// DefaultDir returns the journal directory used when none is given:
// "<plan>.journal" next to the plan file.
func DefaultDir(planPath string) string { return planPath + ".journal" }

// parsed is a journal's decoded content.
type parsed[P any] struct {
	hdr      *Header
	recs     []Record[P]
	good     int64  // length of the prefix made of complete, valid lines
	lastHash string // hash of the last good line
}

// parse decodes a journal's bytes and checks its sequence numbers and, in
// version 2, its hash chain. Only the last line may be invalid (torn); a
// damaged line before it, or a broken chain anywhere, is an error naming
// the line.
func parse[P any](path string, data []byte) (parsed[P], error) {
	var (
		p    parsed[P]
		line int
	)
	fail := func(n int, format string, args ...any) (parsed[P], error) {
		return parsed[P]{}, &CorruptError{Path: path, Line: n, Problem: fmt.Sprintf(format, args...)}
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break // no newline: torn
		}
		raw := data[:i]
		line++
		last := i+1 == len(data)
		if p.hdr == nil {
			var h Header
			if err := strictUnmarshal(raw, &h); err != nil || h.Version == 0 {
				if last {
					break
				}
				return fail(1, "is not a journal header")
			}
			p.hdr = &h
		} else {
			r, err := decodeRecord[P](raw)
			if err != nil {
				if last {
					break
				}
				return fail(line, "is corrupt (%v) and is not the last line", err)
			}
			want := int64(len(p.recs)) + 1
			switch {
			case r.Seq < want:
				return fail(line, "repeats sequence number %d (expected %d): a record was duplicated or moved", r.Seq, want)
			case r.Seq > want:
				return fail(line, "has sequence number %d where %d was expected: a record was deleted or moved", r.Seq, want)
			}
			if p.hdr.Version >= Version && r.Prev != p.lastHash {
				return fail(line, "does not follow line %d (its prev hash differs): a record was changed, deleted or moved", line-1)
			}
			if p.hdr.Version < Version && r.Prev != "" {
				return fail(line, "carries a prev hash in a version %d journal", p.hdr.Version)
			}
			p.recs = append(p.recs, r)
		}
		p.lastHash = lineHash(raw)
		p.good += int64(i + 1)
		data = data[i+1:]
	}
	return p, nil
}

func checkVersion(path string, h *Header) error {
	if h.Version != Version && h.Version != Version1 {
		return fmt.Errorf("open journal %s: journal version %d is not supported (this dbiam reads versions %d and %d); use a new journal directory",
			path, h.Version, Version1, Version)
	}
	return nil
}

// Read reads the journal in dir without changing it: a torn last line is
// ignored, not cut, and no lock is taken (status commands use it). The
// chain is checked as by [Open]. A directory without a journal gives an
// error matching [ErrNoJournal].
func Read[P any](dir string) (Header, []Record[P], error) {
	path := Path(dir)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Header{}, nil, fmt.Errorf("read journal %s: %w: pass the journal directory apply used", path, ErrNoJournal)
	}
	if err != nil {
		return Header{}, nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	p, err := parse[P](path, data)
	if err != nil {
		return Header{}, nil, err
	}
	if p.hdr == nil {
		return Header{}, nil, fmt.Errorf("read journal %s: %w: the file has no header", path, ErrNoJournal)
	}
	if err := checkVersion(path, p.hdr); err != nil {
		return Header{}, nil, err
	}
	return *p.hdr, p.recs, nil
}

// CheckHeader reports whether a journal with header got belongs to the
// plan and command of want: the same plan_sha256, and the same kind when
// both name one. The error matches [ErrMismatch].
func CheckHeader(path string, got, want Header) error {
	if got.Kind != "" && want.Kind != "" && got.Kind != want.Kind {
		return fmt.Errorf("open journal %s: %w: it was written by dbiam %s, not dbiam %s; pass another journal directory",
			path, ErrMismatch, got.Kind, want.Kind)
	}
	if got.PlanSHA256 != want.PlanSHA256 {
		return fmt.Errorf("open journal %s: %w: it was written for plan sha256 %s, this plan is %s; pass the plan it was made for, or a new journal directory",
			path, ErrMismatch, Short(got.PlanSHA256), Short(want.PlanSHA256))
	}
	return nil
}

// Short abbreviates a hex digest to 12 characters for messages.
func Short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// Journal is an open journal, appended to by one run. It is safe for
// concurrent use.
type Journal[P any] struct {
	dir     string
	path    string
	now     func() time.Time
	before  func(seq int64)
	sync    func(*os.File) error
	syncDir func(dir string) error

	mu       sync.Mutex // guards everything below except synced
	f        *os.File
	header   Header
	seq      int64
	lastHash string
	records  []Record[P]
	closed   bool
	err      error // a failed write or sync: every later append fails

	syncMu sync.Mutex // serialises fsyncs (group commit)
	synced int64      // highest seq known durable; guarded by syncMu
}

// Options configure [Open]. The zero value is usable.
type Options struct {
	// Now stamps records; nil means time.Now.
	Now func() time.Time
	// BeforeAppend, if set, runs before the record with sequence number
	// seq is written (tests use it to stop a run at an exact point).
	BeforeAppend func(seq int64)
	// Sync and SyncDir make a file's content and a directory's entries
	// durable; nil means fsync(2). Tests count and order them.
	Sync    func(*os.File) error
	SyncDir func(dir string) error
}

// Open opens the journal in dir for appending, creating dir and the
// journal (with header want, version [Version] unless set) when missing.
// An existing journal is replayed and checked: a torn last line is cut off
// and kept in journal.corrupt; a damaged line or a broken chain is an error
// matching [ErrCorrupt] and the file is left as it was; a journal of
// another plan or command is refused ([ErrMismatch], see [CheckHeader]).
// An existing journal keeps its version.
func Open[P any](dir string, want Header, opts Options) (*Journal[P], error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if want.Version == 0 {
		want.Version = Version
	}
	if opts.Sync == nil {
		opts.Sync = (*os.File).Sync
	}
	if opts.SyncDir == nil {
		opts.SyncDir = reports.SyncDir
	}
	if err := mkdirSynced(dir, opts.SyncDir); err != nil {
		return nil, fmt.Errorf("create journal directory %s: %w", dir, err)
	}
	path := Path(dir)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j := &Journal[P]{dir: dir, path: path, f: f, now: opts.Now, before: opts.BeforeAppend, sync: opts.Sync, syncDir: opts.SyncDir}
	if err := j.load(want); err != nil {
		_ = f.Close()
		return nil, err
	}
	return j, nil
}

func (j *Journal[P]) load(want Header) error {
	data, err := io.ReadAll(j.f)
	if err != nil {
		return fmt.Errorf("read journal %s: %w", j.path, err)
	}
	p, err := parse[P](j.path, data)
	if err != nil {
		return err
	}
	if p.hdr != nil {
		if err := checkVersion(j.path, p.hdr); err != nil {
			return err
		}
		if err := CheckHeader(j.path, *p.hdr, want); err != nil {
			return err
		}
	}
	if p.good < int64(len(data)) {
		if err := j.cutTorn(data[p.good:], p.good); err != nil {
			return err
		}
	}
	if p.hdr == nil {
		// A new journal, or one whose header line was torn.
		b, err := json.Marshal(want)
		if err != nil {
			return fmt.Errorf("write journal header %s: %w", j.path, err)
		}
		if err := j.writeSync(b); err != nil {
			return fmt.Errorf("write journal header %s: %w", j.path, err)
		}
		if err := j.syncDir(j.dir); err != nil {
			return fmt.Errorf("sync journal directory %s: %w", j.dir, err)
		}
		j.header = want
		j.lastHash = lineHash(b)
		return nil
	}
	j.header = *p.hdr
	j.records = p.recs
	j.seq = int64(len(p.recs))
	j.synced = j.seq
	j.lastHash = p.lastHash
	// Appends write at the offset (one write call each): put it at the end
	// of what is left after a torn tail was cut.
	if _, err := j.f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("open journal %s: %w", j.path, err)
	}
	return nil
}

// writeSync appends line and a newline with one write, then fsyncs.
func (j *Journal[P]) writeSync(line []byte) error {
	if _, err := j.f.Seek(0, io.SeekEnd); err != nil {
		return err
	}
	if _, err := j.f.Write(append(slices.Clip(line), '\n')); err != nil {
		return err
	}
	return j.sync(j.f)
}

// mkdirSynced creates dir (and missing parents, mode 0700) and makes each
// new entry durable by syncing the directory that holds it: a journal
// whose directory entry was lost in a crash would be lost with it.
func mkdirSynced(dir string, syncDir func(string) error) error {
	dir = filepath.Clean(dir)
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirSynced(parent, syncDir); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// cutTorn saves the torn tail in journal.corrupt and truncates the journal
// to its last complete line.
func (j *Journal[P]) cutTorn(tail []byte, good int64) error {
	cpath := filepath.Join(j.dir, CorruptFileName)
	c, err := os.OpenFile(cpath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("save torn journal line to %s: %w", cpath, err)
	}
	if !bytes.HasSuffix(tail, []byte("\n")) {
		tail = append(slices.Clip(tail), '\n')
	}
	_, werr := c.Write(tail)
	serr := c.Sync()
	cerr := c.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("save torn journal line to %s: %w", cpath, err)
	}
	if err := j.f.Truncate(good); err != nil {
		return fmt.Errorf("truncate torn journal line in %s: %w", j.path, err)
	}
	if err := j.sync(j.f); err != nil {
		return fmt.Errorf("sync journal %s: %w", j.path, err)
	}
	return nil
}

// Header returns the journal's header.
func (j *Journal[P]) Header() Header {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.header
}

// Dir returns the journal directory.
func (j *Journal[P]) Dir() string { return j.dir }

// Append stamps r with the next sequence number, the hash of the previous
// line (version 2) and the current time, writes it as one line and
// returns the stamped record once it is durable (fsync'ed). Appends from
// several goroutines share fsyncs. After a failed write or fsync every
// append fails.
func (j *Journal[P]) Append(r Record[P]) (Record[P], error) {
	return j.AppendUnless(r, nil)
}

// AppendUnless is Append, except that it writes nothing and returns
// stop's error when stop, called under the journal's lock right before
// the record would take its sequence number, returns one. Records are
// written one at a time, so a condition stop reads (a run's context being
// cancelled) is true of every record written after it turned: a step's
// intent is never recorded after the run was stopped, however many steps
// waited on the lock when it was.
func (j *Journal[P]) AppendUnless(r Record[P], stop func() error) (Record[P], error) {
	j.mu.Lock()
	if stop != nil {
		if err := stop(); err != nil {
			j.mu.Unlock()
			return r, err
		}
	}
	if j.closed {
		j.mu.Unlock()
		return r, fmt.Errorf("append to journal %s: journal is closed", j.path)
	}
	if j.err != nil {
		j.mu.Unlock()
		return r, fmt.Errorf("append to journal %s: an earlier write failed: %w", j.path, j.err)
	}
	r.Seq = j.seq + 1
	if j.before != nil {
		j.before(r.Seq)
	}
	r.Time = j.now().UTC()
	r.Prev = ""
	if j.header.Version >= Version {
		r.Prev = j.lastHash
	}
	line, err := encodeRecord(r)
	if err != nil {
		j.mu.Unlock()
		return r, fmt.Errorf("append to journal %s: %w", j.path, err)
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		j.err = err
		j.mu.Unlock()
		return r, fmt.Errorf("append to journal %s: %w", j.path, err)
	}
	j.seq = r.Seq
	j.lastHash = lineHash(line)
	j.records = append(j.records, r)
	j.mu.Unlock()
	if err := j.syncTo(r.Seq); err != nil {
		return r, fmt.Errorf("append to journal %s: %w", j.path, err)
	}
	return r, nil
}

// syncTo returns once every record up to seq is durable. One fsync covers
// every line written before it starts.
func (j *Journal[P]) syncTo(seq int64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= seq {
		return nil
	}
	j.mu.Lock()
	if j.err != nil {
		err := j.err
		j.mu.Unlock()
		return err
	}
	upto := j.seq
	f := j.f
	j.mu.Unlock()
	if err := j.sync(f); err != nil {
		j.mu.Lock()
		j.err = err
		j.mu.Unlock()
		return err
	}
	j.synced = upto
	return nil
}

// Records returns a copy of every record, oldest first.
func (j *Journal[P]) Records() []Record[P] {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.records)
}

// Len returns the number of records.
func (j *Journal[P]) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.records)
}

// Close closes the journal file. Appending after Close is an error.
func (j *Journal[P]) Close() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	return j.f.Close()
}

// SavePlan keeps a copy of the plan's bytes in the journal directory
// (plan.json, written atomically, mode 0600), so that status and rollback
// need only the directory. An identical copy is left alone.
func SavePlan(dir string, raw []byte) error {
	path := filepath.Join(dir, PlanFileName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, raw) {
		return nil
	}
	err := reports.WriteFile(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(raw)
		return err
	}, reports.Force(true))
	if err != nil {
		return fmt.Errorf("save plan copy in %s: %w", dir, err)
	}
	return nil
}

// PlanPath returns the plan copy inside a journal directory.
func PlanPath(dir string) string { return filepath.Join(dir, PlanFileName) }

// SHA256 returns the hex sha256 of b (a plan file's bytes, for
// Header.PlanSHA256).
func SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
