// The shoplab console: one EventSource for the env's snapshots, fetch for
// the chaos control API. No framework: the page is small enough that a few
// render functions that rebuild their tables are clearer than one.

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};

const CHAOS = "/ops/v1/chaos";
let targets = null; // GET /ops/v1/chaos/targets
let last = null; // the latest snapshot

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) {
    const e = data && data.error ? data.error : { message: r.statusText };
    throw new Error(e.field ? `${e.field}: ${e.message}` : e.message);
  }
  return data;
}

function say(msg, cls = "ok") {
  const o = $("#f-msg");
  o.textContent = msg;
  o.className = cls;
}

const ms = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " ms";

// ---- units ---------------------------------------------------------------

function killFault(unit) {
  return (last?.faults || []).find((f) => f.fault.type === "kill" && f.fault.target === unit);
}

async function unitAction(unit, action) {
  try {
    if (action === "start") {
      const f = killFault(unit);
      if (f) await api("DELETE", `${CHAOS}/faults/${encodeURIComponent(f.id)}`);
    } else {
      await api("POST", `${CHAOS}/faults`, { name: `console-${action}-${unit}`, type: action, target: unit });
    }
    say(`${action} ${unit}: done`);
  } catch (e) {
    say(`${action} ${unit}: ${e.message}`, "bad");
  }
}

function renderUnits(units) {
  const tb = $("#units tbody");
  tb.replaceChildren();
  for (const u of units || []) {
    const killed = !!killFault(u.name);
    const state = u.ready ? el("span", { class: "ok" }, "ready") : el("span", { class: "bad" }, u.running ? `not ready: ${u.error || ""}` : "down");
    const addr = u.http_addr ? `HTTP ${u.http_addr}` : u.grpc_addr ? `gRPC ${u.grpc_addr}` : "consumer";
    tb.append(
      el("tr", { "data-unit": u.name, "data-ready": String(!!u.ready) },
        el("td", {}, u.name), el("td", { "data-field": "state" }, state), el("td", {}, addr), el("td", { class: "muted" }, u.ops_addr || ""),
        el("td", {},
          el("button", { class: "danger", "data-action": "kill", disabled: killed || !u.running, onclick: () => unitAction(u.name, "kill") }, "Kill"), " ",
          el("button", { class: "secondary", "data-action": "start", disabled: !killed, onclick: () => unitAction(u.name, "start") }, "Start"), " ",
          el("button", { class: "secondary", "data-action": "restart", disabled: killed, onclick: () => unitAction(u.name, "restart") }, "Restart"))));
  }
}

// ---- traffic and pipeline ----------------------------------------------

function renderEndpoints(eps, win) {
  $("#window").textContent = win ? `(last ${Math.round(win)} s)` : "";
  const tb = $("#endpoints tbody");
  const live = (eps || []).filter((e) => e.total > 0);
  if (!live.length) return;
  tb.replaceChildren();
  for (const e of live) {
    const errCls = e.error_rate > 0.01 ? "num bad" : "num";
    tb.append(
      el("tr", { "data-endpoint": e.method, "data-unit": e.unit },
        el("td", {}, e.method), el("td", { class: "muted" }, `${e.unit} ${e.transport}`),
        el("td", { class: "num", "data-field": "rps" }, e.rps.toFixed(1)),
        el("td", { class: errCls, "data-field": "errors" }, (100 * e.error_rate).toFixed(1) + "%"),
        el("td", { class: "num", "data-field": "p50", "data-value": e.p50_ms }, ms(e.p50_ms)),
        el("td", { class: "num", "data-field": "p95", "data-value": e.p95_ms }, ms(e.p95_ms)),
        el("td", { class: "num", "data-field": "p99", "data-value": e.p99_ms }, ms(e.p99_ms)),
        el("td", { class: "num muted" }, Math.round(e.total))));
  }
}

function renderJourneys(js) {
  if (!js || !js.length) return;
  $("#journeys tbody").replaceChildren(...js.map((j) =>
    el("tr", { "data-journey": j.name },
      el("td", {}, j.name),
      el("td", { class: "num", "data-field": "rps" }, j.iterations_per_second.toFixed(1)),
      el("td", { class: j.failure_rate > 0.01 ? "num bad" : "num" }, (100 * j.failure_rate).toFixed(1) + "%"),
      el("td", { class: j.dropped > 0 ? "num bad" : "num" }, j.dropped),
      el("td", { class: "num" }, ms(j.p50_ms)),
      el("td", { class: "num", "data-field": "p95", "data-value": j.p95_ms }, ms(j.p95_ms)),
      el("td", { class: "num" }, ms(j.p99_ms)))));
}

const GAUGES = [
  ["outbox_backlog", "outbox backlog", "rows"], ["notification_lag", "notification lag", "records"],
  ["analytics_watermark_lag_seconds", "watermark lag", "s"], ["analytics_open_windows", "open windows", ""],
  ["emails_sent", "emails sent", ""], ["windows_closed", "windows closed", ""],
  ["dlq_records", "dead-lettered", ""], ["kafka_produce_errors", "produce errors", ""],
];

function renderGauges(g) {
  const box = $("#gauges");
  box.replaceChildren();
  for (const [k, label, unit] of GAUGES) {
    if (!(k in (g || {}))) continue;
    const v = g[k];
    const bad = (k === "dlq_records" || k === "kafka_produce_errors") && v > 0;
    box.append(el("div", { class: "gauge", "data-gauge": k }, el("b", { class: bad ? "bad" : "" }, Number.isInteger(v) ? v : v.toFixed(1)), `${label} ${unit}`));
  }
}

// ---- HPA twin ------------------------------------------------------------

function renderHPA(h) {
  const tb = $("#hpa tbody");
  if (!h || h.unavailable !== undefined) {
    $("#hpa-form").hidden = true;
    $("#hpa-about").textContent = "";
    tb.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "muted" }, `no suggestion on this env: ${h?.unavailable || "no twin"}`)));
    return;
  }
  $("#hpa-about").textContent = `(overlay ${h.overlay}, ${h.profile_source} costs, ${h.seconds} s of traffic replayed)`;
  if (document.activeElement !== $("#hpa-scale")) $("#hpa-scale").value = h.traffic_scale;
  const calls = Object.entries(h.calls || {}).filter(([, r]) => r > 0).map(([u, r]) => `${u} ${r.toFixed(1)}`);
  $("#hpa-mix").textContent = calls.length ? `calls/s the cluster would serve: ${calls.join(", ")}` : "no calls yet";
  if (h.error) {
    tb.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "bad" }, h.error)));
    return;
  }
  tb.replaceChildren(...h.units.map((u) => {
    const hpa = u.targets?.length ? `${u.targets.join(", ")} · ${u.min_replicas}–${u.max_replicas}` : `fixed ${u.min_replicas}`;
    const cls = u.replicas > u.min_replicas ? "num warn" : "num";
    return el("tr", { "data-deployment": u.name },
      el("td", {}, u.name), el("td", { class: "muted" }, hpa),
      el("td", { class: cls, "data-field": "replicas", "data-value": u.replicas }, u.replicas),
      el("td", { class: "num muted" }, u.desired ?? ""),
      el("td", { class: "num" }, `${u.cpu_utilization.toFixed(0)}%`),
      el("td", { class: "num" }, u.rps.toFixed(1)),
      el("td", { class: "num", "data-field": "settles", "data-value": u.settles_to }, u.peak > u.settles_to ? `${u.settles_to} (peak ${u.peak})` : u.settles_to),
      el("td", { class: u.saturated ? "bad" : "muted" }, u.saturated ? "saturated" : (u.reason || "")));
  }));
}

async function setScale(ev) {
  ev.preventDefault();
  const f = Number($("#hpa-scale").value);
  try {
    await api("PUT", "/ops/v1/console/hpa/traffic-scale", { traffic_scale: f });
    $("#hpa-msg").textContent = `×${f}`;
    $("#hpa-msg").className = "ok";
  } catch (e) {
    $("#hpa-msg").textContent = e.message;
    $("#hpa-msg").className = "bad";
  }
}

// ---- faults --------------------------------------------------------------

function settings(f) {
  const a = Object.entries(f.attributes || {}).map(([k, v]) => `${k}=${v}`);
  if (f.toxicity && f.toxicity !== 1) a.push(`toxicity=${f.toxicity}`);
  return a.join(" ");
}

function renderFaults(faults) {
  const tb = $("#faults tbody");
  tb.replaceChildren();
  if (!faults || !faults.length) {
    tb.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "no active faults")));
    return;
  }
  const now = Date.now();
  for (const f of faults) {
    let ends = "until removed";
    if (f.ends_at) ends = Math.max(0, (Date.parse(f.ends_at) - now) / 1000).toFixed(0) + " s";
    tb.append(
      el("tr", { "data-fault": f.id, "data-type": f.fault.type, "data-target": f.fault.target },
        el("td", {}, `${f.fault.type}${f.fault.name ? " · " + f.fault.name : ""}`), el("td", {}, f.fault.target),
        el("td", { class: "muted" }, settings(f.fault)), el("td", { "data-field": "ends" }, ends),
        el("td", {}, el("button", { class: "secondary", "data-action": "remove", onclick: () => removeFault(f.id) }, "Remove"))));
  }
}

async function removeFault(id) {
  try {
    await api("DELETE", `${CHAOS}/faults/${encodeURIComponent(id)}`);
    say(`removed ${id}`);
  } catch (e) {
    say(e.message, "bad");
  }
}

function targetsFor(type) {
  if (!targets) return [];
  switch (type.kind) {
    case "network": return targets.edges.map((e) => e.name);
    case "process": return targets.units;
    case "storage": return targets.stores;
  }
  if (type.name === "grpc_error") return targets.grpc;
  if (type.name === "http_error") return targets.http;
  return [];
}

function fillForm() {
  const type = targets.types.find((t) => t.name === $("#f-type").value);
  if (!type) return;
  $("#f-doc").textContent = type.doc;
  $("#f-target").replaceChildren(...targetsFor(type).map((t) => el("option", { value: t }, t)));
  const attrs = $("#f-attrs");
  attrs.replaceChildren();
  for (const a of type.attributes || []) {
    const id = `f-attr-${a.name}`;
    const input = a.values
      ? el("select", { id, "data-attr": a.name }, ...a.values.map((v) => el("option", { value: v, selected: v === a.default }, v)))
      : el("input", { id, "data-attr": a.name, "data-kind": a.kind, size: 10, placeholder: a.default !== undefined ? String(a.default) : a.kind, required: a.required });
    attrs.append(el("label", { title: a.doc }, a.name, " ", input), " ");
  }
  $("#f-toxicity-l").hidden = !type.toxicity;
}

function attrValue(input) {
  const v = input.value.trim();
  if (v === "") return undefined;
  const kind = input.dataset.kind;
  if (kind === "int" || kind === "rate" || kind === "http_status") return Number(v);
  return v;
}

async function addFault(ev) {
  ev.preventDefault();
  const type = targets.types.find((t) => t.name === $("#f-type").value);
  const body = { type: type.name, target: $("#f-target").value, attributes: {} };
  for (const input of document.querySelectorAll("#f-attrs [data-attr]")) {
    const v = attrValue(input);
    if (v !== undefined) body.attributes[input.dataset.attr] = v;
  }
  if (type.toxicity) body.toxicity = Number($("#f-toxicity").value || 1);
  const d = $("#f-duration").value.trim();
  if (d) body.duration = d;
  try {
    const af = await api("POST", `${CHAOS}/faults`, body);
    say(`added ${af.fault.type} on ${af.fault.target} (${af.id})`);
  } catch (e) {
    say(e.message, "bad");
  }
}

async function loadTargets() {
  targets = await api("GET", `${CHAOS}/targets`);
  $("#f-type").replaceChildren(...targets.types.map((t) => el("option", { value: t.name, selected: t.name === "latency" }, `${t.name} (${t.kind})`)));
  fillForm();
}

// ---- emails and windows ------------------------------------------------

function renderLists(emails, windows) {
  $("#emails").replaceChildren(...(emails || []).map((m) => el("li", { title: m.subject }, `${m.sent_at?.slice(11, 19) || ""} ${m.to}: ${m.subject}`)));
  $("#windows").replaceChildren(...(windows || []).map((w) => el("li", {},
    `${w.window_start.slice(11, 19)}–${w.window_end.slice(11, 19)} · ${w.order_count} orders · ${(w.revenue_cents / 100).toFixed(2)} · ${w.items_sold} items · ${w.distinct_users} users · late ${w.late_events}`)));
}

// ---- the stream ----------------------------------------------------------

function render(s) {
  last = s;
  $("#clock").textContent = new Date(s.at).toLocaleTimeString();
  renderUnits(s.units);
  renderEndpoints(s.endpoints, s.window_seconds);
  renderJourneys(s.journeys);
  renderGauges(s.gauges);
  renderFaults(s.faults);
  renderLists(s.emails, s.windows);
  renderHPA(s.hpa);
  $("#errors").textContent = (s.errors || []).join("; ");
}

function connect() {
  const es = new EventSource("/ops/v1/console/events");
  es.addEventListener("open", () => { $("#conn").textContent = "live"; $("#conn").className = "pill ok"; });
  es.addEventListener("error", () => { $("#conn").textContent = "reconnecting…"; $("#conn").className = "pill warn"; });
  es.addEventListener("snapshot", (ev) => render(JSON.parse(ev.data)));
}

$("#f-type").addEventListener("change", fillForm);
$("#fault-form").addEventListener("submit", addFault);
$("#hpa-form").addEventListener("submit", setScale);
$("#f-reset").addEventListener("click", async () => {
  try {
    const r = await api("POST", `${CHAOS}/reset`);
    say(`removed ${r.removed} fault(s)`);
  } catch (e) {
    say(e.message, "bad");
  }
});
loadTargets().catch((e) => say(`chaos API: ${e.message}`, "bad"));
connect();
