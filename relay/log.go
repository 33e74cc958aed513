package relay

import (
	"context"
	"log/slog"
	"strings"
)

// warnOnly drops records below Warn; go-mysql logs every connection at Info.
type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}
func (h warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{h.Handler.WithAttrs(as)} }
func (h warnOnly) WithGroup(n string) slog.Handler       { return warnOnly{h.Handler.WithGroup(n)} }

func quiet(l *slog.Logger) *slog.Logger { return slog.New(warnOnly{l.Handler()}) }

// errText renders an error without the stack traces pingcap/errors (used by go-mysql)
// embeds in its message.
func errText(err error) string {
	first, _, _ := strings.Cut(err.Error(), "\n")
	return first
}
