package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// screenshotEnv names a directory the console test writes its screenshots to (the
// README's pictures are made this way: DMKIT_SCREENSHOT_DIR=docs go test ./cmd/dm-server
// -run TestConsole).
const screenshotEnv = "DMKIT_SCREENSHOT_DIR"

// browser starts headless Chromium; a missing Chromium fails the test with the fix.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found; run scripts/install-deps.sh (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

func run1(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v\npage: %s", what, err, body)
	}
}

// waitText polls the text of sel until it contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var got string
	for time.Now().Before(deadline) {
		// Read through JavaScript: a query for a missing node would wait, not fail.
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
			`(() => { const n = document.querySelector(%q); return n ? n.innerText : ""; })()`, sel)))
		if err == nil {
			got = text
			if strings.Contains(got, want) {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	body, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
	t.Fatalf("%s never showed %q (last %q)\npage: %s", sel, want, got, body)
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv(screenshotEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil || len(png) == 0 {
		t.Fatalf("screenshot: %v (%d bytes)", err, len(png))
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConsole drives a real migration from the web console in headless Chromium: the
// source listed, a task checked, created and started from DM's task file, its progress to
// Sync with the target identical, a stop, and a failing subtask's error with its fix.
func TestConsole(t *testing.T) {
	e2eSrc.Exec(t, "DROP DATABASE IF EXISTS condb")
	e2eSrc.Exec(t, "CREATE DATABASE condb")
	e2eSrc.Exec(t, "CREATE TABLE condb.t (id INT PRIMARY KEY, v VARCHAR(40))")
	e2eSrc.Exec(t, "INSERT INTO condb.t SELECT seq, CONCAT('v', seq) FROM condb.seq_1_to_300")
	for _, db := range []string{"condb", "conbad"} {
		e2eDst.Exec(t, "DROP DATABASE IF EXISTS "+db)
	}
	// conbad.t already holds a row with a key the copy brings: with on_duplicate error
	// that subtask pauses with an error the console must show.
	e2eDst.Exec(t, "CREATE DATABASE conbad")
	e2eDst.Exec(t, "CREATE TABLE conbad.t (id INT PRIMARY KEY, v VARCHAR(40))")
	e2eDst.Exec(t, "INSERT INTO conbad.t VALUES (7, 'already here')")

	c := startChild(t, "--data-dir", t.TempDir())
	root := strings.TrimSuffix(c.base, "/api/v1")
	c.expect(t, "POST", "/sources", fmt.Sprintf(`{"source_name": "con-src", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q, "enable_gtid": true}`,
		e2eSrc.Port, e2eSrc.User, e2eSrc.Password), 201, nil)

	ctx := browser(t)
	run1(t, ctx, "open the console", chromedp.Navigate(root+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#sources")))
	waitText(t, ctx, `#sources tr[data-source="con-src"]`, "con-src")
	waitText(t, ctx, `#tasks tbody`, "no tasks yet")

	taskFile := func(name, mode, target, onDup string) string {
		return fmt.Sprintf(`name: %s
task-mode: %s
target-database: {host: 127.0.0.1, port: %d, user: %s, password: %s}
mysql-instances:
  - source-id: con-src
    block-allow-list: ba
    route-rules: [r]
    loader-config-name: l
loaders:
  l: {on-duplicate-logical: %s}
block-allow-list:
  ba: {do-dbs: [condb]}
routes:
  r: {schema-pattern: condb, target-schema: %s}
`, name, mode, e2eDst.Port, e2eDst.User, e2eDst.Password, onDup, target)
	}
	paste := func(doc string) chromedp.Action[chromedp.Void] {
		return chromedp.SetValue(chromedp.CSS("#task-file"), doc)
	}

	// A broken file is refused with the server's message.
	run1(t, ctx, "check a broken file", paste("name: x\ntask-mode: bogus\n"), chromedp.Click(chromedp.CSS("#check-task")))
	waitText(t, ctx, "#task-result", "code")

	run1(t, ctx, "check the task", paste(taskFile("con", "all", "condb", "replace")), chromedp.Click(chromedp.CSS("#check-task")))
	waitText(t, ctx, "#task-result", "task con: check passed")
	run1(t, ctx, "create and start the task", chromedp.Click(chromedp.CSS("#create-task")))
	waitText(t, ctx, "#task-result", "started")
	waitText(t, ctx, `#tasks tr[data-task="con"] td.unit`, "Sync")
	waitText(t, ctx, `#tasks tr[data-task="con"] td.stage`, "Running")
	waitText(t, ctx, `#tasks tr[data-task="con"] td.progress`, "synced")

	e2eSrc.Exec(t, "UPDATE condb.t SET v = 'changed' WHERE id <= 10")
	if err := mysqltest.WaitEqual(t.Context(), e2eSrc.DB(t), "condb", "t", e2eDst.DB(t), "condb", "t", time.Minute); err != nil {
		t.Fatal(err)
	}

	// The failing task: its error and the suggested fix are on the page.
	run1(t, ctx, "create the failing task", paste(taskFile("con-bad", "full", "conbad", "error")), chromedp.Click(chromedp.CSS("#create-task")))
	waitText(t, ctx, `#tasks tr[data-task="con-bad"] td.stage`, "Paused")
	waitText(t, ctx, `#tasks tr[data-task="con-bad"] td.error`, "Duplicate")
	screenshot(t, ctx, "console.png")

	run1(t, ctx, "stop the task", chromedp.Click(chromedp.CSS(`#tasks tr[data-task="con"] button.stop`)))
	waitText(t, ctx, "#task-result", "task con: stopped")
	waitText(t, ctx, `#tasks tr[data-task="con"] td.stage`, "Paused")
	run1(t, ctx, "start it again", chromedp.Click(chromedp.CSS(`#tasks tr[data-task="con"] button.start`)))
	waitText(t, ctx, `#tasks tr[data-task="con"] td.stage`, "Running")
}
