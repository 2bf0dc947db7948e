package reports

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// The spool holds the rows of an XLSX table on disk until Commit streams
// them into their sheet (excelize writes one sheet at a time, in row order,
// while tables are filled concurrently). Each value is a tag byte and a
// payload; a row is one value per column.
const (
	spoolNil    = 0
	spoolString = 1 // uvarint length, bytes
	spoolInt    = 2 // varint
	spoolFloat  = 3 // 8 bytes, little-endian IEEE 754
	spoolFalse  = 4
	spoolTrue   = 5
	spoolTime   = 6 // varint Unix seconds, uvarint nanoseconds (UTC)
)

// appendSpoolValue appends a normalised value in spool encoding.
func appendSpoolValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, spoolNil)
	case string:
		b = append(b, spoolString)
		b = binary.AppendUvarint(b, uint64(len(v)))
		return append(b, v...)
	case int64:
		return binary.AppendVarint(append(b, spoolInt), v)
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, spoolFloat), math.Float64bits(v))
	case bool:
		if v {
			return append(b, spoolTrue)
		}
		return append(b, spoolFalse)
	case time.Time:
		b = binary.AppendVarint(append(b, spoolTime), v.Unix())
		return binary.AppendUvarint(b, uint64(v.Nanosecond()))
	}
	panic(fmt.Sprintf("reports: unnormalised value %T", v))
}

// errSpoolCorrupt reports a spool file that does not decode.
var errSpoolCorrupt = errors.New("corrupt spool file")

// readSpoolValue reads one value; buf is reused for strings.
func readSpoolValue(r *bufio.Reader, buf *[]byte) (any, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	switch tag {
	case spoolNil:
		return nil, nil
	case spoolString:
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, corrupt(err)
		}
		if n > math.MaxInt32 {
			return nil, errSpoolCorrupt
		}
		if uint64(cap(*buf)) < n {
			*buf = make([]byte, n)
		}
		b := (*buf)[:n]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, corrupt(err)
		}
		return string(b), nil
	case spoolInt:
		v, err := binary.ReadVarint(r)
		if err != nil {
			return nil, corrupt(err)
		}
		return v, nil
	case spoolFloat:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, corrupt(err)
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b[:])), nil
	case spoolFalse:
		return false, nil
	case spoolTrue:
		return true, nil
	case spoolTime:
		sec, err := binary.ReadVarint(r)
		if err != nil {
			return nil, corrupt(err)
		}
		nsec, err := binary.ReadUvarint(r)
		if err != nil || nsec >= 1e9 {
			return nil, corrupt(err)
		}
		return time.Unix(sec, int64(nsec)).UTC(), nil
	}
	return nil, fmt.Errorf("%w: tag %d", errSpoolCorrupt, tag)
}

func corrupt(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", errSpoolCorrupt, err)
}
