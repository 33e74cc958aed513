package dumper

import (
	"math/big"
	"slices"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		dataType, charset string
		want              valueKind
	}{
		{"int", "", kindNumber},
		{"BIGINT", "", kindNumber},
		{"decimal", "", kindNumber},
		{"float", "", kindNumber},
		{"year", "", kindNumber},
		{"bit", "", kindHex},
		{"varbinary", "", kindHex},
		{"longblob", "", kindHex},
		{"point", "", kindHex},
		{"varchar", "utf8mb4", kindString},
		{"text", "utf8mb3", kindString},
		{"enum", "ascii", kindString},
		{"char", "binary", kindHex},
		{"varchar", "latin1", kindCharsetHex},
		{"set", "gbk", kindCharsetHex},
		{"json", "", kindUTF8String},
		{"inet6", "", kindUTF8String},
		{"uuid", "", kindUTF8String},
		{"datetime", "", kindString},
		{"timestamp", "", kindString},
		{"some_future_type", "", kindString},
	} {
		if got := classify(tc.dataType, tc.charset); got != tc.want {
			t.Errorf("classify(%q, %q) = %d, want %d", tc.dataType, tc.charset, got, tc.want)
		}
	}
}

func TestAppendValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		col  column
		v    []byte
		want string
	}{
		{"null", column{kind: kindString}, nil, "NULL"},
		{"null hex", column{kind: kindHex}, nil, "NULL"},
		{"number", column{kind: kindNumber}, []byte("-12.50"), "-12.50"},
		{"empty string", column{kind: kindString}, []byte{}, "''"},
		{"escapes", column{kind: kindString}, []byte("a'b\"c\\d\ne\rf\x00g\x1ah"), `'a\'b\"c\\d\ne\rf\0g\Zh'`},
		{"utf8", column{kind: kindString}, []byte("héllo 😀"), "'héllo 😀'"},
		{"hex", column{kind: kindHex}, []byte{0x00, 0x0a, 0x27, 0x5c, 0xff}, "0x000a275cff"},
		{"empty hex", column{kind: kindHex}, []byte{}, "''"},
		{"charset hex", column{kind: kindCharsetHex, charset: "latin1"}, []byte{0xe9}, "_latin1 0xe9"},
		{"empty charset hex", column{kind: kindCharsetHex, charset: "latin1"}, []byte{}, "_latin1''"},
		{"utf8 string", column{kind: kindUTF8String}, []byte(`{"a":"x\ny"}`), `_utf8mb4'{\"a\":\"x\\ny\"}'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendValue([]byte("prefix:"), &tc.col, tc.v))
			if got != "prefix:"+tc.want {
				t.Errorf("appendValue = %q, want %q", got, "prefix:"+tc.want)
			}
			if strings.ContainsAny(got, "\n\r") {
				t.Errorf("appendValue = %q holds a raw line break", got)
			}
		})
	}
}

func TestSplitRange(t *testing.T) {
	b := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 10)
		if !ok {
			t.Fatalf("bad number %s", s)
		}
		return v
	}
	for _, tc := range []struct {
		lo, hi string
		n      int64
		want   []string
	}{
		{"1", "100", 1, nil},
		{"1", "100", 4, []string{"26", "51", "76"}},
		{"-10", "9", 2, []string{"0"}},
		{"5", "7", 10, []string{"6", "7"}}, // no more chunks than values
		{"7", "7", 3, nil},
		{"0", "18446744073709551615", 2, []string{"9223372036854775808"}},
		{"-9223372036854775808", "9223372036854775807", 4,
			[]string{"-4611686018427387904", "0", "4611686018427387904"}},
	} {
		var got []string
		for _, v := range splitRange(b(tc.lo), b(tc.hi), tc.n) {
			got = append(got, v.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("splitRange(%s, %s, %d) = %q, want %q", tc.lo, tc.hi, tc.n, got, tc.want)
		}
	}
}

func TestChunkQueries(t *testing.T) {
	tbl := &tableInfo{schema: "d-b", name: "t`x", selectList: "`a`,`b`*1E0"}
	key := splitKey{column: "a", index: "PRIMARY"}
	whole := chunkQueries(tbl, key, nil)
	if want := []string{"SELECT `a`,`b`*1E0 FROM `d-b`.`t``x`"}; !slices.Equal(whole, want) {
		t.Errorf("one chunk = %q, want %q", whole, want)
	}
	got := chunkQueries(tbl, key, []*big.Int{big.NewInt(10), big.NewInt(20)})
	base := "SELECT `a`,`b`*1E0 FROM `d-b`.`t``x` FORCE INDEX (`PRIMARY`) WHERE "
	want := []string{base + "`a` < 10", base + "`a` >= 10 AND `a` < 20", base + "`a` >= 20"}
	if !slices.Equal(got, want) {
		t.Errorf("chunks = %q, want %q", got, want)
	}
}
