package dumpfile

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNames(t *testing.T) {
	tests := []struct {
		base string
		want Name
	}{
		{SchemaCreateName("db1"), Name{Kind: KindSchemaCreate, Schema: "db1"}},
		{SchemaCreateName("we-ird.db"), Name{Kind: KindSchemaCreate, Schema: "we-ird.db"}},
		{TableSchemaName("db", "t.1"), Name{Kind: KindTableSchema, Schema: "db", Table: "t.1"}},
		{TableSchemaName("d%b", "ta ble`x"), Name{Kind: KindTableSchema, Schema: "d%b", Table: "ta ble`x"}},
		{DataName("db", "t", 1, 2), Name{Kind: KindData, Schema: "db", Table: "t", Chunk: 1, Part: 2}},
		{DataName("日本", "表-1", 123456789, 9999), Name{Kind: KindData, Schema: "日本", Table: "表-1", Chunk: 123456789, Part: 9999}},
		{MetadataName, Name{Kind: KindMetadata}},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			got, err := Parse(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Parse(%q) (-want +got):\n%s", tt.base, diff)
			}
		})
	}
	if DataName("db", "t", 1, 2) != "db.t.0000000010002.sql" {
		t.Fatalf("data name = %s, want DM's %%09d%%04d index", DataName("db", "t", 1, 2))
	}
	for _, bad := range []string{"x.txt", "a.b.c.d.sql", "db.t.12.sql", "a-schema.sql"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	start := time.Date(2026, 8, 20, 10, 0, 0, 0, time.Local)
	tests := []Metadata{
		{Started: start, Snapshot: Location{File: "mysql-bin.000003", Pos: 1234, GTID: "0-1-100"}, Finished: start.Add(time.Minute)},
		{Started: start, Snapshot: Location{File: "mysql-bin.000003", Pos: 4}, After: &Location{File: "mysql-bin.000003", Pos: 99, GTID: "0-1-7"}},
		{Started: start},
	}
	for _, m := range tests {
		var b strings.Builder
		if err := m.Write(&b); err != nil {
			t.Fatal(err)
		}
		got, err := ParseMetadata(strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&m, got); diff != "" {
			t.Fatalf("round trip of\n%s(-want +got):\n%s", b.String(), diff)
		}
	}
}

func TestParseDMMetadata(t *testing.T) {
	// DM's layout: multi-line GTID sets, a replica block to skip.
	doc := "Started dump at: 2026-08-20 10:00:00\n" +
		"SHOW MASTER STATUS:\n\tLog: mysql-bin.000003\n\tPos: 1234\n\tGTID: 3ccc-aa:1-100,\n\t      5a7d-bb:1-7\n\n" +
		"SHOW SLAVE STATUS:\n\tHost: 10.0.0.1\n\tLog: other.000001\n\tPos: 5\n\n" +
		"Finished dump at: 2026-08-20 10:05:00\n"
	m, err := ParseMetadata(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Location{File: "mysql-bin.000003", Pos: 1234, GTID: "3ccc-aa:1-100,5a7d-bb:1-7"}
	if diff := cmp.Diff(want, m.Snapshot); diff != "" {
		t.Fatalf("snapshot (-want +got):\n%s", diff)
	}
	if m.Finished.IsZero() || m.After != nil {
		t.Fatalf("metadata = %+v", m)
	}
	if got := want.String(); got != "(mysql-bin.000003, 1234)" {
		t.Fatalf("String() = %s", got)
	}
}

func TestWriteReadFile(t *testing.T) {
	dir := t.TempDir()
	m := &Metadata{Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local), Snapshot: Location{File: "b.000001", Pos: 4}}
	if err := m.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMetadata(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if _, err := ReadMetadata(t.TempDir()); err == nil {
		t.Fatal("reading a missing metadata file succeeded")
	}
}
