#!/usr/bin/env python3
"""Reads a dm-server task status answer (GET /api/v1/tasks/{name}/status) on stdin and
prints one tab-separated line for scripts/bench.sh:

  stage unit synced syncer_file syncer_pos master_file master_pos total_events
  seconds_behind_master error_msg

Missing fields print as "-" so the shell can always split the line into ten words.
"""
import json
import re
import sys


def position(text):
    """Splits DM's "(file, pos)" into (file, pos); ("-", "0") when absent."""
    m = re.match(r"\(\s*([^,]+?)\s*,\s*(\d+)\s*\)", text or "")
    return (m.group(1), m.group(2)) if m else ("-", "0")


def main():
    raw = sys.stdin.read()
    try:
        doc = json.loads(raw)
    except ValueError:
        print("\t".join(["-"] * 9 + ["unparsable status: " + raw.strip()[:200].replace("\t", " ")]))
        return
    data = doc.get("data") or []
    if not data:
        print("\t".join(["-"] * 9 + ["no subtask status: " + raw.strip()[:200].replace("\n", " ")]))
        return
    st = data[0]
    sync = st.get("sync_status") or {}
    sf, sp = position(sync.get("syncer_binlog"))
    mf, mp = position(sync.get("master_binlog"))
    err = (st.get("error_msg") or "-").replace("\t", " ").replace("\n", " ")
    print("\t".join([
        st.get("stage") or "-",
        st.get("unit") or "-",
        "true" if sync.get("synced") else "false",
        sf, sp, mf, mp,
        str(sync.get("total_events", 0)),
        str(sync.get("seconds_behind_master", 0)),
        err,
    ]))


if __name__ == "__main__":
    main()
