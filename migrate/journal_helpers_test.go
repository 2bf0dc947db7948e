package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"
)

// prevField is the hash chain field of a version 2 journal line.
var prevField = regexp.MustCompile(`"prev":"[0-9a-f]*"`)

// rechain recomputes the hash chain of a version 2 journal's bytes after a
// test edited a line, as someone editing a journal on purpose can: the
// chain tells an accident (a line deleted, duplicated, moved or changed)
// from a consistent file, not an edit from a forgery.
func rechain(t *testing.T, data []byte) []byte {
	t.Helper()
	lines := bytes.SplitAfter(data, []byte("\n"))
	var prev string
	var out bytes.Buffer
	for i, l := range lines {
		body := bytes.TrimSuffix(l, []byte("\n"))
		if i > 0 && len(body) > 0 {
			if !prevField.Match(body) {
				t.Fatalf("rechain: line %d has no prev hash: %s", i+1, body)
			}
			body = prevField.ReplaceAll(body, []byte(`"prev":"`+prev+`"`))
		}
		sum := sha256.Sum256(body)
		prev = hex.EncodeToString(sum[:])
		out.Write(body)
		if bytes.HasSuffix(l, []byte("\n")) {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}
