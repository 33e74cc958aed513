package verify

import (
	"math/big"
	"testing"
)

func TestValueExpr(t *testing.T) {
	tests := []struct {
		col  column
		want string
	}{
		{column{name: "i", dataType: "int"}, "CAST(`i` AS BINARY)"},
		{column{name: "f", dataType: "float"}, "CAST(`f`*1E0 AS BINARY)"},
		{column{name: "s", dataType: "varchar", charset: "latin1"}, "CAST(CONVERT(`s` USING utf8mb4) AS BINARY)"},
		{column{name: "b", dataType: "blob"}, "CAST(`b` AS BINARY)"},
		{column{name: "j", dataType: "json"}, "CAST(`j` AS BINARY)"},
		{column{name: "a`b", dataType: "int"}, "CAST(`a``b` AS BINARY)"},
	}
	for _, tt := range tests {
		if got := valueExpr(tt.col); got != tt.want {
			t.Errorf("valueExpr(%+v) = %s, want %s", tt.col, got, tt.want)
		}
	}
}

func TestRowExpr(t *testing.T) {
	got := rowExpr([]column{{name: "a", dataType: "int"}, {name: "b", dataType: "blob"},
		{name: "s", dataType: "varchar", charset: "latin1"}, {name: "f", dataType: "float"}})
	want := "CONCAT_WS('#', ISNULL(`a`), ISNULL(`b`), ISNULL(`s`), ISNULL(`f`), " +
		"LENGTH(`a`), LENGTH(`b`), CHAR_LENGTH(`s`), LENGTH(CAST(`f`*1E0 AS BINARY)), " +
		"CAST(`a` AS BINARY), CAST(`b` AS BINARY), CAST(CONVERT(`s` USING utf8mb4) AS BINARY), CAST(`f`*1E0 AS BINARY))"
	if got != want {
		t.Errorf("rowExpr = %s\nwant %s", got, want)
	}
}

func TestSplitRange(t *testing.T) {
	b := func(n int64) *big.Int { return big.NewInt(n) }
	tests := []struct {
		name   string
		lo, hi *big.Int
		n      int64
		want   string // the ranges' WHERE clauses, joined by |
	}{
		{"one chunk", b(1), b(100), 1, ""},
		{"four", b(1), b(100), 4, "k < 26|k >= 26 AND k < 51|k >= 51 AND k < 76|k >= 76"},
		{"more chunks than keys", b(5), b(7), 10, "k < 6|k >= 6 AND k < 7|k >= 7"},
		{"single key", b(5), b(5), 3, ""},
		{"negative", b(-10), b(9), 2, "k < 0|k >= 0"},
	}
	for _, tt := range tests {
		var got string
		for i, r := range splitRange(tt.lo, tt.hi, tt.n) {
			if i > 0 {
				got += "|"
			}
			got += r.where("k")
		}
		if got != tt.want {
			t.Errorf("%s: splitRange = %q, want %q", tt.name, got, tt.want)
		}
	}
	huge, _ := new(big.Int).SetString("18446744073709551615", 10)
	if rs := splitRange(big.NewInt(0), huge, 3); len(rs) != 3 || rs[0].lo != nil || rs[2].hi != nil {
		t.Errorf("unsigned span: %v", rs)
	}
}

func TestEncodeRowInjective(t *testing.T) {
	s := func(v string) *string { return &v }
	rows := []Row{
		{nil, s("ab")},
		{s("ab"), nil},
		{s(""), s("ab")},
		{s("a"), s("b")},
		{s("ab"), s("")},
		{s("a#"), s("b")},
		{s("a"), s("#b")},
		{s("1:a"), nil},
		{s("V1:a"), nil},
		{nil, nil},
		{s(""), s("")},
	}
	seen := map[string]int{}
	for i, r := range rows {
		k := encodeRow(r)
		if j, ok := seen[k]; ok {
			t.Errorf("rows %d and %d encode alike: %q", j, i, k)
		}
		seen[k] = i
	}
}
