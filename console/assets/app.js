// dmkit console: polls the OpenAPI and renders sources and tasks. No framework, no CDN.
"use strict";

const API = "/api/v1";
const POLL_MS = 2000;
// history of progress samples per subtask, for the rate and ETA: key -> [{t, done, total}]
const samples = new Map();

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(API + path, opts);
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = { error_msg: text }; }
  }
  if (!resp.ok) {
    const err = new Error((data && data.error_msg) || resp.statusText);
    err.code = data && data.error_code;
    err.status = resp.status;
    throw err;
  }
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "width") e.style.width = v; // CSSOM: allowed by the page's CSP, unlike a style attribute
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function fill(tbody, rows, cols, emptyText) {
  tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { class: "empty", colspan: cols }, emptyText))]));
}

function pct(s) {
  const f = parseFloat(String(s || "").replace("%", ""));
  return isNaN(f) ? 0 : f;
}

// progress is {done, total, unit, text} of a subtask's current unit.
function progress(st) {
  if (st.unit === "Dump" && st.dump_status) {
    const d = st.dump_status;
    return { done: d.finished_rows, total: d.estimate_total_rows, label: `dump ${d.progress}`, share: pct(d.progress) };
  }
  if (st.unit === "Load" && st.load_status) {
    const l = st.load_status;
    return { done: l.finished_bytes, total: l.total_bytes, label: `load ${l.progress}`, share: pct(l.progress) };
  }
  if (st.sync_status) {
    return { label: st.sync_status.synced ? "synced" : "syncing", share: st.sync_status.synced ? 100 : null };
  }
  return { label: "-", share: null };
}

function fmtSecs(secs) {
  if (secs < 90) return `${secs}s`;
  if (secs < 5400) return `${Math.round(secs / 60)}m`;
  return `${(secs / 3600).toFixed(1)}h`;
}

// eta prefers the server's (status.progress, a dmkit addition); without it, it estimates
// from this page's own samples.
function eta(key, p, st) {
  if (st.progress && st.progress.eta_seconds !== undefined) {
    return st.progress.eta_seconds === 0 ? "done" : fmtSecs(st.progress.eta_seconds);
  }
  if (p.total === undefined || !(p.total > 0)) return "-";
  const now = Date.now() / 1000;
  const hist = (samples.get(key) || []).filter((s) => now - s.t < 60 && s.label === p.label.split(" ")[0]);
  hist.push({ t: now, done: p.done, label: p.label.split(" ")[0] });
  samples.set(key, hist);
  if (p.done >= p.total) return "done";
  const first = hist[0];
  const rate = (p.done - first.done) / (now - first.t);
  if (!(rate > 0)) return "…";
  return fmtSecs(Math.round((p.total - p.done) / rate));
}

function errorCell(msg) {
  if (!msg) return el("td", {});
  // dmkit's errors name the fix after a semicolon; show it on its own line.
  const i = msg.indexOf("; ");
  if (i < 0) return el("td", { class: "error" }, msg);
  return el("td", { class: "error" }, msg.slice(0, i), el("span", { class: "fix" }, "fix: " + msg.slice(i + 2)));
}

async function operate(task, op) {
  const result = document.getElementById("task-result");
  try {
    await api("POST", `/tasks/${encodeURIComponent(task)}/${op}`, {});
    result.className = "result ok";
    result.textContent = `task ${task}: ${op === "start" ? "started" : "stopped"}`;
  } catch (e) {
    result.className = "result failed";
    result.textContent = `task ${task}: ${e.message} (code ${e.code})`;
  }
  refresh();
}

function renderSources(list) {
  const rows = list.map((s) => {
    const st = s.status_list || [];
    const relay = st.map((x) => x.relay_status && x.relay_status.stage).filter(Boolean).join(",") || "off";
    const errs = st.map((x) => x.error_msg).filter(Boolean).join("; ");
    return el("tr", { "data-source": s.source_name },
      el("td", {}, s.source_name), el("td", {}, `${s.host}:${s.port}`),
      el("td", {}, s.enable === false ? "no" : "yes"),
      el("td", {}, st.map((x) => x.worker_name).join(",") || "-"),
      el("td", {}, relay), el("td", {}, (s.task_name_list || []).join(", ") || "-"), errorCell(errs));
  });
  fill(document.querySelector("#sources tbody"), rows, 7, "no sources yet: POST /api/v1/sources or dmctl operate-source create");
}

function renderTasks(list) {
  const rows = [];
  for (const t of list) {
    const sts = t.status_list && t.status_list.length ? t.status_list : [{ source_name: "-", stage: "-", unit: "-" }];
    sts.forEach((st, i) => {
      const p = progress(st);
      const key = `${t.name}/${st.source_name}`;
      const bar = p.share === null ? "" : el("span", { class: "bar" }, el("span", { width: `${Math.min(100, p.share)}%` }));
      const lag = st.sync_status ? `${st.sync_status.seconds_behind_master}s` : "-";
      const buttons = i > 0 ? el("td", {}) : el("td", {},
        el("button", { type: "button", class: "start", onclick: () => operate(t.name, "start") }, "Start"), " ",
        el("button", { type: "button", class: "stop", onclick: () => operate(t.name, "stop") }, "Stop"));
      rows.push(el("tr", { "data-task": t.name, "data-source": st.source_name },
        el("td", {}, i === 0 ? t.name : ""), el("td", {}, i === 0 ? t.task_mode : ""),
        el("td", {}, st.source_name), el("td", { class: "stage stage-" + st.stage }, st.stage),
        el("td", { class: "unit" }, st.unit || "-"), el("td", { class: "progress" }, bar, p.label),
        el("td", { class: "eta" }, eta(key, p, st)), el("td", { class: "lag" }, lag), errorCell(st.error_msg), buttons));
    });
  }
  fill(document.querySelector("#tasks tbody"), rows, 10, "no tasks yet: paste a task file below");
}

async function refresh() {
  try {
    const [sources, tasks] = await Promise.all([
      api("GET", "/sources?with_status=true"),
      api("GET", "/tasks?with_status=true"),
    ]);
    document.getElementById("cluster").textContent = (sources.total || 0) + " sources, " + (tasks.total || 0) + " tasks";
    renderSources(sources.data || []);
    renderTasks(tasks.data || []);
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("updated").textContent = "cannot reach dm-server: " + e.message;
  }
}

// readTask turns the textarea into an OpenAPI task: JSON as it is, YAML through the
// server's converter (the server and dmctl read task files the same way).
async function readTask() {
  const text = document.getElementById("task-file").value.trim();
  if (!text) throw new Error("paste a task file first");
  if (text.startsWith("{")) {
    const obj = JSON.parse(text);
    return obj.task || obj;
  }
  const conv = await api("POST", "/tasks/converters", { task_config_file: text });
  return conv.task;
}

async function submitTask(check) {
  const result = document.getElementById("task-result");
  result.className = "result";
  result.textContent = check ? "checking…" : "creating…";
  try {
    const task = await readTask();
    const resp = await api("POST", check ? "/tasks/check" : "/tasks", { task });
    let msg = `task ${task.name}: ${check ? "check passed" : "created"}`;
    if (resp && resp.check_result) msg += "\n" + resp.check_result;
    if (!check && document.getElementById("start-after").checked) {
      await api("POST", `/tasks/${encodeURIComponent(task.name)}/start`, {});
      msg += "\nstarted";
    }
    result.className = "result ok";
    result.textContent = msg;
  } catch (e) {
    result.className = "result failed";
    result.textContent = e.code ? `${e.message} (code ${e.code})` : e.message;
  }
  refresh();
}

document.getElementById("check-task").addEventListener("click", () => submitTask(true));
document.getElementById("create-task").addEventListener("click", () => submitTask(false));
refresh();
setInterval(refresh, POLL_MS);
