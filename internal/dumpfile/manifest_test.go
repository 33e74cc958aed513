package dumpfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A redo by the same owner removes its listed files and dump files an earlier attempt
// wrote without a durable manifest line, and nothing else; another owner is refused.
func TestClaimRedo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	m, err := Claim(dir, "task a")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Add(MetadataName); err != nil {
		t.Fatal(err)
	}
	write(MetadataName)
	write(DataName("s", "t", 0, 0))          // unlisted: its manifest line was lost
	write(DataName("s", "t", 0, 1) + ".tmp") // unlisted temporary file
	write("notes.txt")                       // someone else's
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Claim(dir, "task b"); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Claim by another owner = %v, want ErrNotOwned", err)
	}
	m, err = Claim(dir, "task a")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{ManifestName, "notes.txt"}) {
		t.Fatalf("after the redo claim the directory holds %v", names)
	}
}
