package syncer

import (
	"context"
	"log/slog"
	"strings"
)

// minLevelHandler drops records below min; go-mysql logs every connection at Info.
type minLevelHandler struct {
	slog.Handler
	min slog.Level
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevelHandler{h.Handler.WithAttrs(as), h.min}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{h.Handler.WithGroup(name), h.min}
}

// quiet returns a logger that only passes warnings and errors.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(minLevelHandler{l.Handler(), slog.LevelWarn})
}

// errText renders an error without the stack traces pingcap/errors (used by go-mysql)
// embeds in its message: the first and the last line.
func errText(err error) string {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) <= 1 {
		return lines[0]
	}
	first, last := lines[0], strings.TrimSpace(lines[len(lines)-1])
	if last == "" || last == first || strings.Contains(last, ".go:") {
		return first
	}
	return first + ": " + last
}
