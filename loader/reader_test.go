package loader

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readAll returns every piece of text as "kind|sql|start-end|last" strings.
func readAll(t *testing.T, text string, off int64, limit int) ([]string, error) {
	t.Helper()
	r := newStmtReader(strings.NewReader(text[off:]), off, []byte("REPLACE INTO `d`.`t`"), limit)
	var out []string
	for {
		p, err := r.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		kind := "data"
		if p.kind == pieceOther {
			kind = "other"
		}
		last := ""
		if p.last {
			last = "|last"
		}
		out = append(out, kind+"|"+string(p.sql)+"|"+itoa(p.start)+"-"+itoa(p.end)+last)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

const dmFile = "/*!40101 SET NAMES binary*/;\n" + // 0-29
	"/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n" + // 29-66
	"INSERT INTO `t` (`a`,`b`) VALUES\n" + // 66-99
	"(1,'x;'),\n" + // 99-109
	"(2,'y\\n'),\n" + // 109-120
	"(3,NULL);\n" + // 120-130
	"INSERT INTO `t` (`a`,`b`) VALUES\n" + // 130-163
	"(4,'z');\n" // 163-172

func TestStmtReader(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		off   int64
		limit int
		want  []string
		err   string
	}{
		{name: "dm format", text: dmFile, want: []string{
			"other|/*!40101 SET NAMES binary*/|0-29|last",
			"other|/*!40014 SET FOREIGN_KEY_CHECKS=0*/|29-66|last",
			"data|REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,'x;'),\n(2,'y\\n'),\n(3,NULL)|66-130|last",
			"data|REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(4,'z')|130-172|last",
		}},
		{name: "resume at a statement", text: dmFile, off: 130, want: []string{
			"data|REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(4,'z')|130-172|last",
		}},
		{name: "split at the limit", text: dmFile, limit: 50, want: []string{
			"other|/*!40101 SET NAMES binary*/|0-29|last",
			"other|/*!40014 SET FOREIGN_KEY_CHECKS=0*/|29-66|last",
			"data|REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,'x;')|66-109",
			"data|REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(2,'y\\n')|66-120",
			"data|REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(3,NULL)|66-130|last",
			"data|REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(4,'z')|130-172|last",
		}},
		{name: "single-line inserts, no trailing newline, comments and blank lines",
			text: "-- dump\n\nINSERT INTO t VALUES (1),(2);\n# x\nINSERT IGNORE INTO `t` VALUES (3);", limit: 10, want: []string{
				"data|REPLACE INTO `d`.`t` VALUES (1),(2)|9-39|last",
				"data|REPLACE INTO `d`.`t` VALUES (3)|43-77|last",
			}},
		{name: "multi-line header, CRLF", text: "INSERT INTO `t`\r\n(`a`)\r\nVALUES\r\n(1),\r\n(2);\r\n", want: []string{
			"data|REPLACE INTO `d`.`t`\r\n(`a`)\r\nVALUES\r\n(1),\r\n(2)|0-44|last",
		}},
		{name: "truncated", text: "INSERT INTO `t` (`a`) VALUES\n(1),\n", err: "no terminating ';'"},
		{name: "bad header", text: "INSERT INTO (1);\n", err: "statement at byte 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.text, tt.off, tt.limit)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pieces (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStmtReaderLongLines(t *testing.T) {
	big := strings.Repeat("a", 3*readerBufSize)
	text := "INSERT INTO `t` (`a`) VALUES\n('" + big + "'),\n('b');\n"
	got, err := readAll(t, text, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"data|REPLACE INTO `d`.`t` (`a`) VALUES\n('" + big + "'),\n('b')|0-" + itoa(int64(len(text))) + "|last"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pieces differ (-want +got), first 200 bytes:\n%.200s", diff)
	}
}
