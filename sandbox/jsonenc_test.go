package sandbox

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkMarshal fails unless marshalJSON(v) returns exactly what
// json.Marshal(v) returns (or both fail).
func checkMarshal(t testing.TB, v any) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, gotErr := marshalJSON([]byte("prefix"), v)
	if (wantErr != nil) != (gotErr != nil) {
		t.Fatalf("marshalJSON(%T) error %v, json.Marshal error %v", v, gotErr, wantErr)
	}
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("marshalJSON(%T) did not append to its buffer: %q", v, got)
	}
	if wantErr != nil {
		return
	}
	if got = got[len("prefix"):]; !bytes.Equal(got, want) {
		t.Fatalf("marshalJSON(%T)\n got %s\nwant %s", v, got, want)
	}
}

// nastyStrings exercise every escaping rule of encoding/json.
var nastyStrings = []string{
	"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>",
	"\x00\x01\x07\b\t\n\v\f\r\x1b\x1f\x7f", "é ü 日本 🎉", "\u2028 line \u2029 para",
	"bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 too large", "trailing \xe2\x82",
	"\ufffd replacement", "$ref", "a\u0000b", strings.Repeat("long ", 50) + "<end>",
}

// specialFloats sit on encoding/json's formatting boundaries.
var specialFloats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, 1.5, 100, 1e20, 1e21, 9.999999999999999e20, -1e21,
	1e-6, 9.99999e-7, -1e-7, 1e-9, 5e-324, math.MaxFloat64, math.SmallestNonzeroFloat64,
	123456789012345678, 1<<53 + 1, 3.141592653589793, 1e100, 1.7e-300,
	math.Inf(1), math.Inf(-1), math.NaN(),
}

type taggedStruct struct {
	A string  `json:"a"`
	B int     `json:"b,omitempty"`
	C []any   `json:"c"`
	D *string `json:"d,omitempty"`
	E float32
	f int
}

// randomValue returns a random JSON-ish value tree of at most depth levels,
// mixing the types the encoder handles itself with ones it hands to
// json.Marshal.
func randomValue(r *rand.Rand, depth int) any {
	n := 20
	if depth <= 0 {
		n = 14 // scalars only
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return nastyStrings[r.IntN(len(nastyStrings))]
	case 2:
		return randomString(r)
	case 3:
		return r.IntN(2) == 0
	case 4:
		return r.Int() - r.Int()
	case 5:
		return int64(r.Uint64())
	case 6:
		return int32(r.Uint32())
	case 7:
		return r.Uint64()
	case 8:
		return specialFloats[r.IntN(len(specialFloats))]
	case 9:
		return math.Float64frombits(r.Uint64())
	case 10:
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
	case 11:
		return float64(r.IntN(1000))
	case 12:
		// Types left to json.Marshal.
		switch r.IntN(8) {
		case 0:
			return float32(r.NormFloat64())
		case 1:
			return uint8(r.Uint32())
		case 2:
			return json.Number(strconv.Itoa(r.IntN(100)))
		case 3:
			return []byte(randomString(r))
		case 4:
			return time.Unix(r.Int64N(1<<32), 0).UTC()
		case 5:
			s := randomString(r)
			return &s
		case 6:
			return json.RawMessage(`{"z": 1, "a" : [ true ]}`)
		default:
			return map[string]int{randomString(r): 1, "b": 2}
		}
	case 13:
		return []string{randomString(r), nastyStrings[r.IntN(len(nastyStrings))]}
	case 14, 15, 16:
		m := map[string]any{}
		if r.IntN(10) == 0 {
			m = nil
		}
		for range r.IntN(8) {
			if m == nil {
				break
			}
			m[randomKey(r)] = randomValue(r, depth-1)
		}
		return m
	case 17, 18:
		l := []any{}
		if r.IntN(10) == 0 {
			l = nil
		}
		for range r.IntN(6) {
			l = append(l, randomValue(r, depth-1))
		}
		return l
	default:
		switch r.IntN(6) {
		case 0:
			l := []map[string]any{}
			if r.IntN(4) == 0 {
				l = nil
			}
			for range r.IntN(4) {
				m, _ := randomValue(r, 0).(map[string]any)
				l = append(l, m)
			}
			return l
		case 1:
			return map[string]string{randomKey(r): randomString(r), randomKey(r): randomString(r)}
		case 2:
			var l []string
			return l
		case 3:
			return listResponse{Schemas: []string{schemaListResponse}, TotalResults: r.IntN(5000) - 10,
				StartIndex: r.IntN(100), ItemsPerPage: r.IntN(100), Resources: randomResources(r, depth-1)}
		case 4:
			return scimBody{Schemas: []string{schemaError}, Detail: randomString(r), Status: strconv.Itoa(r.IntN(600)),
				SCIMType: []string{"", "invalidFilter", randomString(r)}[r.IntN(3)]}
		default:
			return taggedStruct{A: randomString(r), B: r.IntN(3), C: []any{randomValue(r, 0)}}
		}
	}
}

func randomResources(r *rand.Rand, depth int) []map[string]any {
	switch r.IntN(5) {
	case 0:
		return nil
	case 1:
		return []map[string]any{}
	}
	var l []map[string]any
	for range 1 + r.IntN(4) {
		m, _ := randomValue(r, depth).(map[string]any)
		l = append(l, m)
	}
	return l
}

// randomKey returns a map key; similar keys make the sort order matter.
func randomKey(r *rand.Rand) string {
	keys := []string{"id", "Id", "ID", "id ", "i", "", "schemas", "Resources", "resources", "$ref", "a<b", "é", "Z", "z"}
	if r.IntN(3) == 0 {
		return randomString(r)
	}
	return keys[r.IntN(len(keys))]
}

// randomString returns a short string of bytes drawn from ASCII, escapes,
// multi-byte runes and invalid UTF-8.
func randomString(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", `"`, `\`, "/", "<", ">", "&", "\n", "\t", "\x00", "\x1f", "\x7f",
		"é", "日", "🎉", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\ufffd"}
	var b strings.Builder
	for range r.IntN(12) {
		if r.IntN(4) == 0 {
			b.WriteByte(byte(r.IntN(256)))
			continue
		}
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func TestMarshalJSONRandomTrees(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		checkMarshal(t, randomValue(r, 5))
	}
}

func TestMarshalJSONScalars(t *testing.T) {
	for _, s := range nastyStrings {
		checkMarshal(t, s)
		checkMarshal(t, map[string]any{s: s})
		checkMarshal(t, map[string]string{s: s})
	}
	for _, f := range specialFloats {
		checkMarshal(t, f)
		checkMarshal(t, []any{f, -f})
	}
	for _, v := range []any{nil, true, false, 0, -1, math.MaxInt64, math.MinInt64, int64(math.MinInt64),
		int32(math.MinInt32), uint64(math.MaxUint64), []any(nil), []any{}, map[string]any(nil), map[string]any{},
		[]map[string]any(nil), []map[string]any{nil, {}}, []string(nil), []string{}, map[string]string(nil),
		listResponse{}, scimBody{}, restBody{}, struct{}{}, &listResponse{}, taggedStruct{}, make(chan int)} {
		checkMarshal(t, v)
	}
}

// TestMarshalJSONDeep checks values nested past the encoder's depth limit,
// including a cycle (an error for both).
func TestMarshalJSONDeep(t *testing.T) {
	var v any = "leaf"
	for i := range maxEncodeDepth + 10 {
		if i%2 == 0 {
			v = map[string]any{"k": v}
		} else {
			v = []any{v}
		}
	}
	checkMarshal(t, v)
	cyc := map[string]any{}
	cyc["self"] = cyc
	checkMarshal(t, cyc)
}

// TestMarshalJSONRenderedResources compares the encodings of every
// principal of the default seed and of a synthetic account, rendered in
// every view (account, each workspace; GET, list and light), singly and as
// list replies.
func TestMarshalJSONRenderedResources(t *testing.T) {
	synth, err := Synthetic("workspaces=2,users=50,groups=10,members=5,sps=5,seed=1")
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []*Seed{DefaultSeed(), synth, smallSeed(t)} {
		s, err := New(Options{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		scopes := append([]*workspace{nil}, s.st.workspaces...)
		n := 0
		for _, w := range scopes {
			for _, v := range []view{{ws: w, now: now}, {ws: w, now: now, list: true}, {ws: w, now: now, list: true, omit: allHeavy}} {
				var page []map[string]any
				for _, p := range s.st.order {
					if !s.st.inScope(w, p) {
						continue
					}
					m := s.st.render(p, v)
					checkMarshal(t, m)
					page = append(page, m)
					n++
				}
				checkMarshal(t, listResponse{Schemas: []string{schemaListResponse}, TotalResults: len(page),
					StartIndex: 1, ItemsPerPage: len(page), Resources: page})
			}
		}
		if n == 0 {
			t.Fatal("no principal rendered")
		}
	}
}

// FuzzMarshalJSON compares the encodings of values decoded from arbitrary
// JSON and of arbitrary strings used as keys and values.
func FuzzMarshalJSON(f *testing.F) {
	f.Add(`{"a":[1,2.5,-0,1e21,1e-7,"x<y"],"b":{"c":null,"d":true}}`, "k")
	f.Add(`[{"\u2028":"\ud800"}]`, "\xff<")
	f.Add(`"plain"`, "")
	f.Fuzz(func(t *testing.T, doc, s string) {
		checkMarshal(t, s)
		checkMarshal(t, map[string]any{s: []any{s, map[string]any{s: s}}})
		var v any
		if json.Unmarshal([]byte(doc), &v) == nil {
			checkMarshal(t, v)
			checkMarshal(t, map[string]any{s: v})
		}
	})
}

// BenchmarkMarshalList compares the encoder with json.Marshal on a list
// reply of 100 rendered users of a federated workspace.
func BenchmarkMarshalList(b *testing.B) {
	seed, err := Synthetic("workspaces=2,users=200,groups=40,members=10,sps=5,seed=1")
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{Seed: seed})
	if err != nil {
		b.Fatal(err)
	}
	w := s.st.workspaces[0]
	var page []map[string]any
	for _, p := range s.st.order {
		if p.kind == kindUser && s.st.inScope(w, p) && len(page) < 100 {
			page = append(page, s.st.render(p, view{ws: w, list: true, now: time.Now()}))
		}
	}
	reply := listResponse{Schemas: []string{schemaListResponse}, TotalResults: len(page), StartIndex: 1,
		ItemsPerPage: len(page), Resources: page}
	b.Run("encoder", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = marshalJSON(buf[:0], reply); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = json.Marshal(reply); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
}
