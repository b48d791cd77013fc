// meshlb dashboard: renders the frames /dashboard/events streams. Every
// value goes into the page as text (never as HTML), so names and NACK
// messages cannot inject markup. Rows carry data-* attributes (cluster,
// address, health, type) for tests and for scripting.
"use strict";

const $ = (id) => document.getElementById(id);
let frames = 0;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

const num = (v, d = 0) => (v === undefined || v === null ? "–" : Number(v).toFixed(d));
const ms = (v) => (v ? num(v, v < 10 ? 2 : 1) + " ms" : "–");
const pct = (v) => num(100 * (v || 0), 1) + "%";
const ago = (t) => {
  if (!t) return "never";
  const s = Math.max(0, (Date.now() - Date.parse(t)) / 1000);
  return s < 60 ? s.toFixed(0) + " s ago" : s < 3600 ? (s / 60).toFixed(0) + " min ago" : new Date(t).toLocaleString();
};
const dur = (s) => (s < 120 ? s + " s" : s < 7200 ? Math.floor(s / 60) + " min" : Math.floor(s / 3600) + " h");

function badge(id, text, cls) {
  const b = $(id);
  b.textContent = text;
  b.className = "badge " + (cls || "");
}

function renderHeader(f) {
  $("node").textContent = f.node || "";
  badge("state", f.state, f.state === "LIVE" ? "ok" : "warn");
  if (f.control_plane) {
    const cp = f.control_plane;
    badge("cp", "control plane " + (cp.address || "–") + (cp.connected ? " connected" : " disconnected"), cp.connected ? "ok" : "bad");
    $("cp").dataset.connected = cp.connected;
  } else {
    badge("cp", "static config", "");
  }
  $("uptime").textContent = dur(f.uptime_s);
  $("updated").textContent = new Date(f.time).toLocaleTimeString();
  $("window").textContent = f.window_s ? f.window_s.toFixed(1) + " s" : "–";
}

function renderXDS(rows) {
  const body = $("xds").tBodies[0];
  $("xds-none").hidden = !!(rows && rows.length);
  body.replaceChildren(...(rows || []).map((x) => {
    const cls = x.nack_time ? (x.nack_current ? "nack" : "nack-old") : "";
    return el("tr", { class: cls, "data-type": x.type },
      el("td", {}, x.type),
      el("td", { class: "version" }, x.version || "–"),
      el("td", {}, ago(x.ack_time)),
      el("td", {}, x.nack_time ? (x.nack_version || "–") + ", " + ago(x.nack_time) : "never"),
      el("td", { class: "nack-error" }, x.nack_error || ""));
  }));
}

function kv(label, value, cls) {
  return el("span", { class: "kv" }, label + " ", el("b", { class: cls || "" }, value));
}

function renderCluster(c) {
  const healthCls = c.healthy < c.total ? "err" : "";
  const head = el("div", { class: "head" },
    el("span", { class: "name" }, c.name),
    kv("healthy", c.healthy + "/" + c.total, healthCls),
    kv("ejected", c.ejected, c.ejected ? "err" : ""),
    kv("in flight", c.inflight),
    kv("rq/s", num(c.rps, 1)),
    kv("5xx", pct(c.error_rate), c.error_rate > 0 ? "err" : ""),
    kv("p50", ms(c.p50_ms)), kv("p90", ms(c.p90_ms)), kv("p99", ms(c.p99_ms)),
    kv("requests", c.requests));
  const rows = c.endpoints.map((e) => el("tr",
    { class: e.usable ? "" : "unhealthy", "data-cluster": c.name, "data-address": e.address, "data-health": e.health },
    el("td", {}, e.address),
    el("td", { class: "health" + (e.usable ? " ok" : "") }, e.health),
    el("td", { class: "num" + (e.eds_weight ? " overridden" : ""), title: e.eds_weight ? "set by an operator; EDS says " + e.eds_weight : "" },
      e.weight + (e.eds_weight ? " (EDS " + e.eds_weight + ")" : "")),
    el("td", { class: "num" }, e.priority),
    el("td", { class: "num" }, e.inflight),
    el("td", { class: "num" }, e.requests),
    el("td", { class: "num" }, num(e.rps, 1))));
  if (c.endpoints_total > c.endpoints.length) {
    rows.push(el("tr", {}, el("td", { colSpan: 7, class: "note" }, (c.endpoints_total - c.endpoints.length) + " more endpoints: see /clusters")));
  }
  const table = el("table", {},
    el("thead", {}, el("tr", {}, ...["endpoint", "health", "weight", "priority", "in flight", "requests", "rq/s"]
      .map((h, i) => el("th", { class: i > 1 ? "num" : "" }, h)))),
    el("tbody", {}, ...rows));
  return el("div", { class: "cluster", "data-cluster": c.name, "data-rps": c.rps, "data-error-rate": c.error_rate }, head, table);
}

function renderClusters(f) {
  $("clusters").replaceChildren(...f.clusters.map(renderCluster));
  const more = f.clusters_total - f.clusters.length;
  $("clusters-count").textContent = f.clusters_total + " total" + (more > 0 ? ", " + more + " not shown (see /clusters)" : "");
}

function renderListeners(rows) {
  $("listeners").tBodies[0].replaceChildren(...rows.map((l) => el("tr", { "data-listener": l.name },
    el("td", {}, l.name), el("td", {}, l.address), el("td", {}, l.protocol),
    el("td", { class: "num" }, l.cx_active), el("td", { class: "num" }, l.cx_total))));
}

function renderAccessLog(lines) {
  const pre = $("accesslog");
  if (lines === null || lines === undefined) {
    pre.textContent = "access-log lines are not available in this sidecar";
    return;
  }
  pre.textContent = lines.length ? lines.join("\n") : "no access-log lines yet (a listener's access_log writes them)";
}

function render(f) {
  if (f.error) {
    badge("stream", f.error, "bad");
    return;
  }
  renderHeader(f);
  renderXDS(f.xds);
  renderClusters(f);
  renderListeners(f.listeners);
  renderAccessLog(f.access_log);
  frames++;
  document.body.dataset.frames = frames;
}

// connect opens the event stream. EventSource reconnects by itself after
// a dropped connection; after a refusal (too many clients, a draining
// sidecar) it gives up, so connect tries again a little later.
function connect() {
  const es = new EventSource("/dashboard/events");
  es.addEventListener("open", () => badge("stream", "live", "ok"));
  es.addEventListener("frame", (ev) => render(JSON.parse(ev.data)));
  es.addEventListener("bye", () => {
    es.close();
    badge("state", "DRAINING", "warn");
    badge("stream", "sidecar draining", "warn");
    setTimeout(connect, 3000);
  });
  es.addEventListener("error", () => {
    badge("stream", "reconnecting", "bad");
    if (es.readyState === EventSource.CLOSED) {
      setTimeout(connect, 3000);
    }
  });
}

connect();
