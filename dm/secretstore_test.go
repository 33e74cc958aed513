package dm

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, SecretKeySize) }

// fileHas reports whether the store file contains s anywhere (the `strings dm.db` check).
func fileHas(t *testing.T, dir, s string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, fileStoreName))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(data, []byte(s))
}

// TestEncryptStoreKeepsNoPasswordInClear drives a cluster on an encrypted file store:
// after creating and updating sources and a task, no password is in the file, and the
// cluster reopens with the same key and refuses another.
func TestEncryptStoreKeepsNoPasswordInClear(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	open := func(key []byte) (*Cluster, error) {
		fs, err := OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		st, err := EncryptStore(fs, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Open(ctx, Config{Store: st, Workers: []string{"w1"}, Units: (&stepUnits{}).factory})
		if err != nil {
			fs.Close()
		}
		return c, err
	}
	c, err := open(testKey(1))
	mustOK(t, err)
	src := sourceFor("enc-src", testSrc)
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: src})
	mustOK(t, err)
	upd := *src
	newPw := testSrc.Password // the server's real password, set again through an update
	upd.Password = &newPw
	_, err = c.UpdateSource(ctx, "enc-src", UpdateSourceRequest{Source: &upd})
	mustOK(t, err)
	task := fullTask("enc-task", ModeFull, "encdb", "enc-src")
	task.TargetConfig.Password = testDst.Password
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	_, err = c.CreateTaskTemplate(ctx, &Task{Name: "enc-tpl", TaskMode: ModeFull, OnDuplicate: "replace",
		TargetConfig: task.TargetConfig, SourceConfig: task.SourceConfig, TableMigrateRule: task.TableMigrateRule})
	mustOK(t, err)
	mustOK(t, c.Close())

	for _, secret := range []string{testSrc.Password, testDst.Password, "enc-src"} {
		if fileHas(t, dir, `"`+secret+`"`) {
			t.Errorf("the store file holds %q in clear", secret)
		}
	}

	c, err = open(testKey(1))
	mustOK(t, err)
	got, err := c.GetTask(ctx, "enc-task", false)
	mustOK(t, err)
	if got.TargetConfig.Host != task.TargetConfig.Host {
		t.Fatalf("task after reopen: %+v", got.TargetConfig)
	}
	mustOK(t, c.Close())

	if _, err := open(testKey(2)); err == nil || !strings.Contains(err.Error(), "--secret-key-path") {
		t.Fatalf("another key: %v", err)
	}
}

// TestEncryptStoreMigratesPlainStore: a store written without encryption is sealed when
// an encrypting store lists it, and the file is rewritten so no clear value survives.
func TestEncryptStoreMigratesPlainStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs, err := OpenFileStore(dir)
	mustOK(t, err)
	mustOK(t, fs.Apply(ctx, PutOp("source", "s1", []byte(`{"password":"plain-secret-1"}`)), PutOp("source", "s2", []byte(`{"password":"plain-secret-2"}`))))
	// Overwrite once more so the first value sits in a freed page.
	mustOK(t, fs.Apply(ctx, PutOp("source", "s1", []byte(`{"password":"plain-secret-1b"}`))))
	mustOK(t, fs.Close())
	if !fileHas(t, dir, "plain-secret-2") {
		t.Fatal("test setup: the plain value is not in the file")
	}

	fs, err = OpenFileStore(dir)
	mustOK(t, err)
	st, err := EncryptStore(fs, testKey(7))
	mustOK(t, err)
	recs, err := st.List(ctx, "source")
	mustOK(t, err)
	if len(recs) != 2 || string(recs[0].Value) != `{"password":"plain-secret-1b"}` || string(recs[1].Value) != `{"password":"plain-secret-2"}` {
		t.Fatalf("listed %q", recs)
	}
	raw, err := fs.List(ctx, "source")
	mustOK(t, err)
	for _, r := range raw {
		if !bytes.HasPrefix(r.Value, sealedMagic) {
			t.Errorf("record %s still plain in the store", r.Key)
		}
	}
	mustOK(t, st.Close())
	for _, s := range []string{"plain-secret-1", "plain-secret-2"} {
		if fileHas(t, dir, s) {
			t.Errorf("%s survives in the file after the migration", s)
		}
	}
}

func TestLoadSecretKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadSecretKey("", dir)
	mustOK(t, err)
	st, err := os.Stat(filepath.Join(dir, "secret.key"))
	mustOK(t, err)
	if st.Mode().Perm() != 0o600 || len(k1) != SecretKeySize {
		t.Fatalf("generated key: mode %v, %d bytes", st.Mode().Perm(), len(k1))
	}
	k2, err := LoadSecretKey("", dir)
	mustOK(t, err)
	if !bytes.Equal(k1, k2) {
		t.Fatal("the generated key changed on the second load")
	}
	for name, tc := range map[string]struct {
		content string
		mode    os.FileMode
		want    string
	}{
		"short":    {"abcd\n", 0o600, "64 hex digits"},
		"not hex":  {strings.Repeat("zz", 32), 0o600, "64 hex digits"},
		"readable": {strings.Repeat("ab", 32), 0o644, "chmod 600"},
	} {
		p := filepath.Join(dir, name)
		mustOK(t, os.WriteFile(p, []byte(tc.content), tc.mode))
		mustOK(t, os.Chmod(p, tc.mode))
		if _, err := LoadSecretKey(p, dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := EncryptStore(MemoryStore(), []byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}

func TestErrorsElideLongNames(t *testing.T) {
	long := strings.Repeat("n", 100<<10)
	e := NewError(CodeTaskNotFound, "task %s has not been created", long)
	if len(e.Message) > 400 || !strings.Contains(e.Message, "(102400 bytes)") {
		t.Fatalf("message of %d bytes: %.100s", len(e.Message), e.Message)
	}
	report := strings.Repeat("line\n", 100)
	if e := NewError(CodePrecheckFailed, "check: %s", report); !strings.Contains(e.Message, report) {
		t.Fatal("a multi-line report was cut")
	}
	if e := NewError(CodeTaskNotFound, "task %s", "short"); e.Message != "task short" {
		t.Fatal(e.Message)
	}
}
