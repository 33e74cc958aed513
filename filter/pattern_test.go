package filter

import "testing"

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern       string
		caseSensitive bool
		name          string
		want          bool
	}{
		{"shop", true, "shop", true},
		{"shop", true, "shop1", false},
		{"shop", true, "Shop", false},
		{"shop", false, "SHOP", true},
		{"SHOP", false, "shop", true},
		{"shop*", true, "shop", true},
		{"shop*", true, "shop_01", true},
		{"shop*", true, "sho", false},
		{"*", true, "", true},
		{"*", true, "anything", true},
		{"", true, "", true},
		{"", true, "x", false},
		{"t?", true, "t1", true},
		{"t?", true, "t", false},
		{"t?", true, "t12", false},
		{"t??*", true, "t12", true},
		{"t??*", true, "t1", false},
		{"?", true, "é", true}, // `?` is one character, not one byte
		{"t_[0-9]", true, "t_7", true},
		{"t_[0-9]", true, "t_a", false},
		{"t_[!0-9]", true, "t_a", true},
		{"t_[!0-9]", true, "t_7", false},
		{"t_[abc]x", true, "t_bx", true},
		{"t_[abc]x", true, "t_dx", false},
		{"t_[a-]", true, "t_-", true},
		{"t_[!]", true, "t_!", true},
		{"t_[[]", true, "t_[", true}, // a literal `[` is a class
		{"[A-Z]*", false, "abc", true},
		{"~^order_\\d+$", true, "order_12", true},
		{"~^order_\\d+$", true, "order_x", false},
		{"~^ORDER_\\d+$", false, "order_1", true},
		{"~^ORDER_\\d+$", true, "order_1", false},
		{"~order", true, "my_order_tbl", true}, // unanchored, like DM
	}
	for _, tt := range tests {
		p, err := CompilePattern(tt.pattern, tt.caseSensitive)
		if err != nil {
			t.Fatalf("CompilePattern(%q): %v", tt.pattern, err)
		}
		if got := p.Match(tt.name); got != tt.want {
			t.Errorf("pattern %q (caseSensitive=%v) Match(%q) = %v, want %v", tt.pattern, tt.caseSensitive, tt.name, got, tt.want)
		}
	}
}

func TestCompilePatternErrors(t *testing.T) {
	for _, p := range []string{"a*b", "**", "*x", "~(unclosed", "[", "t_[", "t_[0-9", "[]"} {
		if _, err := CompilePattern(p, false); err == nil {
			t.Errorf("CompilePattern(%q) succeeded, want an error", p)
		}
	}
}

func TestPatternKey(t *testing.T) {
	if PatternKey("Shop*", false) != PatternKey("shop*", false) {
		t.Error("case-insensitive keys of Shop* and shop* differ")
	}
	if PatternKey("Shop*", true) == PatternKey("shop*", true) {
		t.Error("case-sensitive keys of Shop* and shop* are equal")
	}
	if PatternKey("~\\D", false) == PatternKey("~\\d", false) {
		t.Error("regexp keys must not be case-folded")
	}
}
