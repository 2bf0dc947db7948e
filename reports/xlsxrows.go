package reports

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	kflate "github.com/klauspost/compress/flate"
	"github.com/xuri/excelize/v2"
)

// rowEncoder writes the data rows of a streamed sheet as excelize's
// StreamWriter.SetRow would, byte for byte, for the rows it can: excelize
// spends most of a large workbook's time in SetRow's per-cell allocations
// (a cell reference, an escaped copy and a cell struct per value), which
// this encoder appends to one reused buffer. It takes rows whose values
// are all nil, int64, bool, or strings of at most 32,767 bytes (see
// fastRow); excelize writes any other row, and every row after it, so rows
// stay in order (see xlsxSink.setRow). TestRowEncoderMatchesExcelize holds
// it to excelize's output, except for texts holding "_xHHHH_" sequences,
// which excelize escapes wrongly in two cases (see appendText).
//
// Its rows go to a temporary file, compressed as they come (so that the
// rows of every sheet are compressed in parallel, while later rows are
// still being read, instead of one sheet after another when the workbook
// is written): one raw deflate segment, ended by a sync flush, that is
// spliced into the sheet's entry after its header row (see splicedSheet).
type rowEncoder struct {
	letters []string // column letters, A, B, ...
	buf     []byte
	file    *os.File
	w       *bufio.Writer
	zw      *kflate.Writer
	crc     uint32 // CRC-32 of the rows written, uncompressed
	size    int64  // bytes of the rows written, uncompressed
	rows    int    // rows written
}

func newRowEncoder(cols int) *rowEncoder {
	e := &rowEncoder{letters: make([]string, cols)}
	for i := range e.letters {
		e.letters[i], _ = excelize.ColumnNumberToName(i + 1)
	}
	return e
}

// maxFastString is the longest string fastRow takes, in bytes: a string of
// at most 32,767 bytes has at most 32,767 UTF-16 units, so excelize does
// not cut it.
const maxFastString = excelize.TotalCellChars

// fastRow reports whether the encoder writes row as excelize would.
func fastRow(row []any) bool {
	for _, v := range row {
		switch v := v.(type) {
		case nil, int64, bool:
		case string:
			if len(v) > maxFastString {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// escapeSequenceAt reports whether s[i:] starts with "_x", four
// hexadecimal digits and "_": an ST_Xstring escape of a character, which a
// reader decodes unless its "_" is itself escaped.
func escapeSequenceAt(s string, i int) bool {
	return i+7 <= len(s) && s[i] == '_' && s[i+1] == 'x' && s[i+6] == '_' &&
		isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// write appends row number n (fastRow must hold) to the encoder's file,
// created in dir on the first row.
func (e *rowEncoder) write(dir string, n int, row []any) error {
	if e.file == nil {
		f, err := os.CreateTemp(dir, "rows-")
		if err != nil {
			return err
		}
		e.file, e.w = f, bufio.NewWriterSize(f, 256<<10)
		if e.zw, err = kflate.NewWriter(e.w, kflate.DefaultCompression); err != nil {
			return err
		}
	}
	e.buf = e.appendRow(e.buf[:0], n, row)
	e.rows++
	e.crc = crc32.Update(e.crc, crc32.IEEETable, e.buf)
	e.size += int64(len(e.buf))
	_, err := e.zw.Write(e.buf)
	return err
}

// appendRow appends row number n as SpreadsheetML, as excelize's SetRow
// writes it: an inline string cell per string, a number or boolean cell
// per int64 or bool, nothing for nil.
func (e *rowEncoder) appendRow(b []byte, n int, row []any) []byte {
	num := strconv.Itoa(n)
	b = append(b, `<row r="`...)
	b = append(b, num...)
	b = append(b, `">`...)
	for i, v := range row {
		if v == nil {
			continue
		}
		b = append(b, `<c r="`...)
		b = append(b, e.letters[i]...)
		b = append(b, num...)
		switch v := v.(type) {
		case string:
			b = append(b, `" t="inlineStr"><is><t`...)
			if v != "" && (isSpace(v[0]) || isSpace(v[len(v)-1])) {
				b = append(b, ` xml:space="preserve"`...)
			}
			b = append(b, '>')
			b = appendText(b, v)
			b = append(b, `</t></is></c>`...)
		case int64:
			b = append(b, `"><v>`...)
			b = strconv.AppendInt(b, v, 10)
			b = append(b, `</v></c>`...)
		case bool:
			b = append(b, `" t="b"><v>`...)
			if v {
				b = append(b, '1')
			} else {
				b = append(b, '0')
			}
			b = append(b, `</v></c>`...)
		}
	}
	return append(b, `</row>`...)
}

// isSpace reports whether c is a character at the edge of a value that
// makes excelize declare xml:space="preserve" (tab, newline, return,
// space).
func isSpace(c byte) bool { return c == 9 || c == 10 || c == 13 || c == 32 }

// appendText appends s escaped as excelize escapes an inline string:
// encoding/xml's EscapeText, with newlines left as they are, characters
// XML cannot hold (and invalid UTF-8) as U+FFFD, and the "_" that starts
// an "_xHHHH_" sequence as "_x005F_" (so that a reader gives back the
// sequence as it was, not the character it names). excelize's own escape
// of those sequences loses text in two cases, which this one does not: a
// sequence naming a surrogate ("_xD800_": excelize drops it) and a
// sequence starting at the last "_" of another ("_x0041_x0042_": excelize
// escapes only the first, and "_x0042_" reads back as "B").
func appendText(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		i += width
		var esc string
		switch r {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			continue
		case '\r':
			esc = "&#xD;"
		case '_':
			if !escapeSequenceAt(s, i-1) {
				continue
			}
			esc = "_x005F_"
		default:
			if !inXMLCharRange(r) || (r == utf8.RuneError && width == 1) {
				esc = "\uFFFD"
				break
			}
			continue
		}
		b = append(b, s[last:i-width]...)
		b = append(b, esc...)
		last = i
	}
	return append(b, s[last:]...)
}

// inXMLCharRange reports whether XML 1.0 allows r (encoding/xml's rule).
func inXMLCharRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// encodedRows are the rows a rowEncoder wrote: a raw deflate segment
// ended by a sync flush (not final), the CRC-32 and the size of the rows
// it holds.
type encodedRows struct {
	deflated *io.SectionReader
	crc      uint32
	size     int64
}

// segment ends the rows' deflate segment and returns it (nil: no rows).
// No row may be written after.
func (e *rowEncoder) segment() (*encodedRows, error) {
	if e.file == nil {
		return nil, nil
	}
	if err := e.zw.Flush(); err != nil {
		return nil, fmt.Errorf("flush rows: %w", err)
	}
	if err := e.w.Flush(); err != nil {
		return nil, fmt.Errorf("flush rows: %w", err)
	}
	fi, err := e.file.Stat()
	if err != nil {
		return nil, err
	}
	return &encodedRows{deflated: io.NewSectionReader(e.file, 0, fi.Size()), crc: e.crc, size: e.size}, nil
}

// crc32Combine returns the CRC-32 (IEEE) of A followed by B from the CRC
// of A, the CRC of B and the length of B (zlib's crc32_combine).
func crc32Combine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	return multModP(x2nModP(lenB, 3), crcA) ^ crcB
}

// crcPoly is the IEEE polynomial, reversed.
const crcPoly = 0xedb88320

// multModP returns a times b modulo the CRC polynomial (bit-reversed).
func multModP(a, b uint32) uint32 {
	m := uint32(1) << 31
	var p uint32
	for {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		m >>= 1
		if b&1 != 0 {
			b = b>>1 ^ crcPoly
		} else {
			b >>= 1
		}
	}
	return p
}

// x2nTable[k] is x^(2^k) modulo the CRC polynomial.
var x2nTable = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	for k := range t {
		t[k] = p
		p = multModP(p, p)
	}
	return t
}()

// x2nModP returns x^(n*2^k) modulo the CRC polynomial.
func x2nModP(n int64, k uint) uint32 {
	p := uint32(1) << 31 // x^0
	for n != 0 {
		if n&1 != 0 {
			p = multModP(x2nTable[k&31], p)
		}
		n >>= 1
		k++
	}
	return p
}

// close closes the encoder's file (the spool directory holding it is
// removed with the workbook's).
func (e *rowEncoder) close() {
	if e.file != nil {
		_ = e.file.Close()
		e.file = nil
	}
}
