package syncer

import "testing"

// TestShardSkipped walks the event filter of held tables and of a re-sync.
func TestShardSkipped(t *testing.T) {
	p := func(pos uint32) position { return position{"bin.000002", pos} }
	held := [2]string{"db", "held"}
	resynced := [2]string{"db", "t1"}
	r := &run{}
	r.sh.blocked = map[[2]string]*blockedTable{held: {}}
	r.sh.resync = &resyncState{tables: map[[2]string]position{resynced: p(500)}, end: p(900)}
	tests := []struct {
		name  string
		table [2]string
		pos   position
		skip  bool
	}{
		{"held table, inside the re-sync", held, p(600), true},
		{"held table, after the re-sync", held, p(1000), true},
		{"re-synced table before its DDL", resynced, p(400), true},
		{"re-synced table at its DDL", resynced, p(500), true},
		{"re-synced table after its DDL", resynced, p(501), false},
		{"re-synced table at the end", resynced, p(900), false},
		{"other table inside the re-sync (applied before the rewind)", [2]string{"db", "other"}, p(700), true},
		{"other table at the end", [2]string{"db", "other"}, p(900), true},
		{"other table after the end", [2]string{"db", "other"}, p(901), false},
		{"other table in a later file", [2]string{"db", "other"}, position{"bin.000003", 4}, false},
	}
	for _, tt := range tests {
		if got := r.shardSkipped(tt.table[0], tt.table[1], tt.pos); got != tt.skip {
			t.Errorf("%s: skipped = %v, want %v", tt.name, got, tt.skip)
		}
	}
	if (&run{}).shardSkipped("db", "held", p(1)) {
		t.Error("a run without shard state skips events")
	}
}

// TestCapGlobal: a frozen point caps the global checkpoint and brings its snapshot.
func TestCapGlobal(t *testing.T) {
	frozen := Location{File: "bin.000002", Pos: 300}
	r := &run{freeze: &freezePoint{loc: frozen, snapshot: []byte("snap")}}
	tests := []struct {
		loc  Location
		want Location
		snap bool
	}{
		{Location{File: "bin.000002", Pos: 200}, Location{File: "bin.000002", Pos: 200}, false},
		{frozen, frozen, false},
		{Location{File: "bin.000002", Pos: 301}, frozen, true},
		{Location{File: "bin.000003", Pos: 4}, frozen, true},
	}
	for _, tt := range tests {
		got, snap := r.capGlobal(tt.loc)
		if got != tt.want || (snap != nil) != tt.snap {
			t.Errorf("capGlobal(%v) = %v, %q; want %v, snapshot %v", tt.loc, got, snap, tt.want, tt.snap)
		}
	}
	if got, snap := (&run{}).capGlobal(frozen); got != frozen || snap != nil {
		t.Errorf("without a freeze capGlobal = %v, %q", got, snap)
	}
}
