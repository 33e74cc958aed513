package sqlq

import "testing"

func TestQuoteName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"t", "`t`"},
		{"", "``"},
		{"db-name", "`db-name`"},
		{"a`b", "`a``b`"},
		{"``", "``````"},
		{"a.b", "`a.b`"},
		{"名字", "`名字`"},
	}
	for _, tt := range tests {
		if got := QuoteName(tt.in); got != tt.want {
			t.Errorf("QuoteName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestQuoteTable(t *testing.T) {
	tests := []struct{ schema, table, want string }{
		{"db", "t", "`db`.`t`"},
		{"db-name", "t`x", "`db-name`.`t``x`"},
		{"", "t", "`t`"},
	}
	for _, tt := range tests {
		if got := QuoteTable(tt.schema, tt.table); got != tt.want {
			t.Errorf("QuoteTable(%q, %q) = %q, want %q", tt.schema, tt.table, got, tt.want)
		}
	}
}
