// The lmforge console: playground (OpenAI API over fetch + SSE), runs (manifests), metrics
// (Prometheus text). Everything talks to the origin that served this page.
"use strict";
const $ = s => document.querySelector(s);
const h = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) k === "class" ? (e.className = v) : e.setAttribute(k, v);
  kids.flat().forEach(k => e.append(k instanceof Node ? k : String(k)));
  return e;
};
const keyInput = $("#api-key");
keyInput.value = localStorage.getItem("lmforge-key") || "";
keyInput.addEventListener("change", () => {
  localStorage.setItem("lmforge-key", keyInput.value);
  loadModels().then(resetPanels);
  if (loaders[current()]) loaders[current()]();
});
const current = () => location.hash.slice(1).split("/")[0] || "playground";
const headers = (json = false) => Object.assign(json ? { "Content-Type": "application/json" } : {},
  keyInput.value ? { Authorization: "Bearer " + keyInput.value } : {});
async function getJSON(url) {
  const r = await fetch(url, { headers: headers() });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((body.error && body.error.message) || r.statusText);
  return body;
}

// ---- tabs ----
const loaders = {};
document.querySelectorAll("nav button").forEach(b => b.addEventListener("click", () => show(b.dataset.tab)));
function show(tab) {
  document.querySelectorAll("nav button").forEach(b => b.classList.toggle("active", b.dataset.tab === tab));
  document.querySelectorAll(".tab").forEach(s => s.classList.toggle("active", s.id === tab));
  if (location.hash.slice(1).split("/")[0] !== tab) history.replaceState(null, "", "#" + tab);
  if (loaders[tab]) loaders[tab]();
}

// ---- playground ----
let models = [], panels = [], controller = null;
async function loadModels() {
  try {
    models = (await getJSON("/v1/models")).data.filter(m => !/minilm|embed/i.test(m.id));
    for (const sel of [$("#model-a"), $("#model-b")]) {
      sel.replaceChildren(...models.map(m => h("option", { value: m.id }, m.id)));
    }
    if (models.length > 1) $("#model-b").selectedIndex = 1;
    $("#play-status").textContent = models.length ? "" : "the server lists no chat model";
    setPrices();
  } catch (e) { $("#play-status").textContent = "no model server: " + e.message; }
}
function setPrices() { // a gateway may list prices per 1M tokens in /v1/models
  const m = models.find(x => x.id === $("#model-a").value);
  if (m && m.pricing) { $("#price-in").value = m.pricing.prompt ?? 0; $("#price-out").value = m.pricing.completion ?? 0; }
}
$("#model-a").addEventListener("change", setPrices);
$("#compare").addEventListener("change", () => { $("#model-b").disabled = !$("#compare").checked; resetPanels(); });
function resetPanels() {
  const names = [$("#model-a").value].concat($("#compare").checked ? [$("#model-b").value] : []);
  panels = names.map((name, i) => ({ slot: i, messages: [], box: h("div", { class: "panel", "data-slot": i }, h("h3", {}, name || "(no model)")) }));
  $("#panels").className = panels.length > 1 ? "two" : "";
  $("#panels").replaceChildren(...panels.map(p => p.box));
}
["#model-a", "#model-b"].forEach(s => $(s).addEventListener("change", resetPanels));
$("#clear").addEventListener("click", resetPanels);
$("#stop").addEventListener("click", () => controller && controller.abort());
$("#prompt").addEventListener("keydown", e => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("#chat-form").requestSubmit(); } });
$("#chat-form").addEventListener("submit", async e => {
  e.preventDefault();
  const text = $("#prompt").value.trim();
  if (!text || controller) return;
  let extra;
  try { extra = requestExtras(); } catch (err) { $("#play-status").textContent = err.message; return; }
  $("#prompt").value = "";
  controller = new AbortController();
  $("#send").disabled = true; $("#stop").disabled = false; $("#play-status").textContent = "generating…";
  const models = [$("#model-a").value, $("#model-b").value];
  await Promise.all(panels.map(p => ask(p, models[p.slot], text, extra, controller.signal)));
  controller = null; $("#send").disabled = false; $("#stop").disabled = true; $("#play-status").textContent = "";
});
function requestExtras() {
  const out = {};
  const num = (id, f = parseFloat) => { const v = f($(id).value); return isNaN(v) ? undefined : v; };
  out.temperature = num("#temperature"); out.top_p = num("#top-p"); out.max_tokens = num("#max-tokens", parseInt);
  const seed = num("#seed", parseInt); if (seed !== undefined) out.seed = seed;
  if ($("#json-mode").checked) {
    let schema; try { schema = JSON.parse($("#schema").value); } catch (e) { throw new Error("JSON schema is not valid JSON: " + e.message); }
    out.response_format = { type: "json_schema", json_schema: { name: "answer", schema, strict: true } };
  }
  if ($("#tools-on").checked) {
    try { out.tools = JSON.parse($("#tools").value); } catch (e) { throw new Error("tools are not valid JSON: " + e.message); }
    if (!Array.isArray(out.tools)) throw new Error("tools must be a JSON array");
  }
  return out;
}
async function ask(panel, model, text, extra, signal) {
  panel.messages.push({ role: "user", content: text });
  panel.box.append(h("div", { class: "msg user" }, text));
  const out = h("div", { class: "msg assistant" }), tools = h("div"), stats = h("div", { class: "stats" }, "waiting for the first token…");
  panel.box.append(out, tools, stats);
  const sys = $("#system").value.trim();
  const body = Object.assign({ model, stream: true, stream_options: { include_usage: true },
    messages: (sys ? [{ role: "system", content: sys }] : []).concat(panel.messages) }, extra);
  const t0 = performance.now();
  let ttft = null, content = "", chunks = 0, usage = null, calls = [];
  try {
    const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(true), body: JSON.stringify(body), signal });
    if (!r.ok) { const b = await r.json().catch(() => ({})); throw new Error((b.error && b.error.message) || r.status + " " + r.statusText); }
    for await (const ev of sse(r.body)) {
      if (ev.error) throw new Error(ev.error.message || JSON.stringify(ev.error));
      if (ev.usage) usage = ev.usage;
      for (const ch of ev.choices || []) {
        const d = ch.delta || {};
        if ((d.content || d.tool_calls) && ttft === null) ttft = performance.now() - t0;
        if (d.content) { content += d.content; chunks++; out.textContent = content; }
        for (const tc of d.tool_calls || []) { mergeToolCall(calls, tc); chunks++; }
        if (d.tool_calls) renderCalls(tools, calls);
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") panel.box.insertBefore(h("div", { class: "msg error" }, "error: " + e.message), stats);
  }
  const total = performance.now() - t0, n = usage ? usage.completion_tokens : chunks;
  const gen = ttft === null ? 0 : (total - ttft) / 1000;
  const cost = usage ? (usage.prompt_tokens * $("#price-in").value + usage.completion_tokens * $("#price-out").value) / 1e6 : 0;
  stats.textContent = [
    `TTFT ${ttft === null ? "–" : ttft.toFixed(0) + " ms"}`,
    `${n} tokens` + (usage ? ` (+${usage.prompt_tokens} prompt)` : ""),
    `${gen > 0 && n > 1 ? ((n - 1) / gen).toFixed(1) : "–"} tokens/s`,
    `latency ${(total / 1000).toFixed(2)} s`,
    `cost $${cost.toFixed(6)}`,
  ].join(" · ");
  stats.dataset.ttft = ttft === null ? "" : ttft.toFixed(1);
  const msg = { role: "assistant", content };
  if (calls.length) msg.tool_calls = calls;
  panel.messages.push(msg);
}
function mergeToolCall(calls, tc) { // deltas carry an index; name first, arguments in pieces
  const i = tc.index ?? calls.length;
  const c = calls[i] || (calls[i] = { id: tc.id || "", type: "function", function: { name: "", arguments: "" } });
  if (tc.id) c.id = tc.id;
  if (tc.function) { c.function.name += tc.function.name || ""; c.function.arguments += tc.function.arguments || ""; }
}
function renderCalls(box, calls) {
  box.replaceChildren(...calls.map(c => h("div", { class: "tool" }, `tool call ${c.function.name}(${c.function.arguments})`)));
}
async function* sse(stream) { // Server-Sent Events: "data: <json>" lines, blank line between events
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i).replace(/^\r?\n\r?\n/, "");
      const data = block.split(/\r?\n/).filter(l => l.startsWith("data:")).map(l => l.slice(5).trim()).join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

// ---- runs ----
let runs = [];
loaders.runs = async () => {
  try {
    const body = await getJSON("/console/api/runs");
    runs = body.runs; $("#runs-dir").textContent = `${runs.length} runs in ${body.runs_dir}`;
    renderRuns();
    const id = location.hash.split("/")[1];
    if (id) openRun(decodeURIComponent(id));
  } catch (e) { $("#runs-dir").textContent = "cannot list runs: " + e.message; }
};
$("#runs-refresh").addEventListener("click", loaders.runs);
$("#run-filter").addEventListener("input", renderRuns);
function renderRuns() {
  const q = $("#run-filter").value.toLowerCase();
  const rows = runs.filter(r => !q || [r.id, r.stage, r.status].join(" ").toLowerCase().includes(q)).map(r => {
    const tr = h("tr", { "data-run": r.id },
      h("td", {}, r.id), h("td", {}, r.stage), h("td", { class: "status-" + r.status }, r.status),
      h("td", {}, (r.started_at || "").replace("T", " ").replace("Z", "")), h("td", {}, r.seconds ?? ""),
      h("td", {}, Object.entries(r.headline).map(([k, v]) => `${k}=${typeof v === "number" ? Charts.fmt(v) : v}`).join(", ")));
    tr.addEventListener("click", () => openRun(r.id));
    return tr;
  });
  $("#runs-table tbody").replaceChildren(...rows);
}
async function openRun(id) {
  const box = $("#run-detail");
  history.replaceState(null, "", "#runs/" + encodeURIComponent(id));
  let d;
  try { d = await getJSON("/console/api/runs/" + encodeURIComponent(id)); } catch (e) { box.replaceChildren(h("p", { class: "msg error" }, e.message)); return; }
  const m = d.manifest, met = m.metrics || {};
  const parts = [h("h2", {}, `${m.stage} run ${m.id} `, h("span", { class: "status-" + m.status }, m.status)),
    h("p", { class: "muted" }, `started ${m.started_at}, ${d.summary.seconds ?? "?"} s` + (m.error ? ` — error: ${m.error}` : ""))];
  parts.push(h("h3", {}, "Lineage"), Charts.graph(d.lineage.nodes, d.lineage.edges, { current: m.id, onClick: openRun }));
  if (met.comparison) parts.push(h("h3", {}, "Comparison (paired bootstrap)"), comparison(met));
  if (met.scores) parts.push(h("h3", {}, "Evaluation scores"), Charts.intervals(Object.entries(met.scores).map(([k, s]) => ({ label: k, group: met.label || m.stage, ...s }))));
  if (met.history && met.history.length) {
    const series = {};
    for (const key of ["loss", "eval_loss"]) { const p = met.history.filter(r => key in r).map(r => [r.step, r[key]]); if (p.length) series[key] = p; }
    parts.push(h("h3", {}, "Loss"), Charts.line(series, { xlabel: "step", ylabel: "loss" }));
  }
  if (met.steps) parts.push(h("h3", {}, "Data funnel"), ...funnel(m.id, met.steps, d.has_rejected));
  if (met.levels) parts.push(h("h3", {}, "Serving"), Charts.line({ "TTFT p50 ms": met.levels.map(l => [l.tok_per_s, l.ttft_p50_ms]), "ITL p50 ms": met.levels.map(l => [l.tok_per_s, l.itl_p50_ms]) }, { xlabel: "output tokens/s", ylabel: "ms" }));
  if (met.stages) parts.push(h("h3", {}, "Stages"), table(["stage", "kind", "status", "seconds", "run"], met.stages.map(s => [s.name, s.kind, s.status, s.seconds, s.run])));
  const report = (m.outputs || []).find(o => o.role === "report");
  if (report) parts.push(h("p", {}, "HTML report: ", h("code", {}, report.path)));
  const flat = Object.entries(met).filter(([, v]) => typeof v !== "object");
  if (flat.length) parts.push(h("h3", {}, "Metrics"), table(["metric", "value"], flat));
  parts.push(h("h3", {}, "Manifest"), h("details", {}, h("summary", {}, "manifest.json"), h("pre", {}, JSON.stringify(m, null, 2))));
  box.replaceChildren(...parts);
}
function table(head, rows) {
  return h("table", {}, h("tr", {}, head.map(c => h("th", {}, c))), rows.map(r => h("tr", {}, r.map(c => h("td", {}, typeof c === "number" ? Charts.fmt(c) : c ?? "")))));
}
function comparison(met) {
  const rows = met.comparison.map(r => ({ label: `${r.task}/${r.metric}`, group: "tuned − base", value: r.delta, low: r.low, high: r.high }));
  const box = h("div", {}, Charts.intervals(rows, { xlabel: "difference (95% paired bootstrap CI)", zero: true }));
  if (met.sentence) box.prepend(h("p", {}, h("b", {}, met.sentence)));
  box.append(table(["task/metric", "base", "tuned", "delta", "95% CI", "p", "n"], met.comparison.map(r => [`${r.task}/${r.metric}`, r.a, r.b, r.delta, `[${Charts.fmt(r.low)}, ${Charts.fmt(r.high)}]`, r.p_value, r.n])));
  return box;
}
function funnel(id, steps, hasRejected) {
  const names = Object.keys(steps), samples = h("div", { id: "rejected" });
  const showReason = async reason => {
    const r = await getJSON(`/console/api/runs/${encodeURIComponent(id)}/rejected?limit=10` + (reason ? "&reason=" + encodeURIComponent(reason) : ""));
    samples.replaceChildren(h("h3", {}, "Rejected: " + (reason || "all reasons")),
      ...r.samples.map(s => h("div", { class: "sample" }, h("code", {}, `${s.step}: ${s.reason}`), " ", s.text)));
  };
  const chart = Charts.bars(names.map(n => ({ label: n, parts: [[steps[n].kept, "kept"], [Object.entries(steps[n].dropped).filter(([r]) => !r.startsWith("redacted")).reduce((a, [, c]) => a + c, 0), "dropped"]] })));
  const reasons = names.flatMap(n => Object.entries(steps[n].dropped).map(([r, c]) => [n, r, c]));
  const list = h("table", {}, h("tr", {}, h("th", {}, "step"), h("th", {}, "reason"), h("th", {}, "documents")),
    reasons.map(([n, r, c]) => {
      const a = h("a", { href: "#", "data-reason": r }, r);
      a.addEventListener("click", e => { e.preventDefault(); showReason(r); });
      return h("tr", {}, h("td", {}, n), h("td", {}, hasRejected && !r.startsWith("redacted") ? a : r), h("td", {}, c));
    }));
  return [chart, list, samples];
}

// ---- metrics ----
const scraped = {}, HISTORY = 90;
let poll = null;
loaders.metrics = () => { if (!poll) { scrape(); poll = setInterval(scrape, 2000); } };
function parseProm(text) { // -> {name: {type, value}} summed over label sets
  const out = {}, types = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("# TYPE")) { const [, , n, t] = line.split(" "); types[n] = t; continue; }
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/);
    if (!m) continue;
    const v = parseFloat(m[3]);
    if (!isFinite(v) || m[1].endsWith("_bucket") || m[1].endsWith("_created")) continue;
    const base = m[1].replace(/_(total|sum|count)$/, "");
    const type = types[m[1]] || types[base] || "untyped";
    out[m[1]] = out[m[1]] || { type, value: 0 };
    out[m[1]].value += v;
  }
  return out;
}
async function scrape() {
  if (!$("#metrics").classList.contains("active")) { clearInterval(poll); poll = null; $("#metrics-status").textContent = "not polling"; return; }
  let text;
  try { const r = await fetch("/metrics", { headers: headers() }); if (!r.ok) throw new Error(r.status); text = await r.text(); }
  catch (e) { $("#metrics-status").textContent = "cannot read /metrics: " + e.message; return; }
  const now = Date.now() / 1000, cur = parseProm(text);
  $("#metrics-status").textContent = "polling /metrics every 2 s · " + new Date().toLocaleTimeString();
  for (const [name, s] of Object.entries(cur)) {
    const hist = (scraped[name] = scraped[name] || { type: s.type, pts: [] });
    hist.pts.push([now, s.value]); if (hist.pts.length > HISTORY) hist.pts.shift();
  }
  const cards = [], charts = [];
  for (const [name, hst] of Object.entries(scraped)) {
    if (!name.startsWith("lmforge")) continue;
    const counter = hst.type === "counter" || hst.type === "histogram" || name.endsWith("_total");
    const pts = counter ? hst.pts.slice(1).map((p, i) => [p[0] - now, (p[1] - hst.pts[i][1]) / Math.max(p[0] - hst.pts[i][0], 1e-3)]) : hst.pts.map(p => [p[0] - now, p[1]]);
    if (hst.type === "histogram" || name.endsWith("_sum") || name.endsWith("_count")) continue; // charted as means below
    const last = hst.pts[hst.pts.length - 1][1];
    cards.push(h("div", { class: "card", "data-metric": name }, h("b", {}, Charts.fmt(last)), h("span", {}, name)));
    if (pts.length) charts.push(Charts.line({ [counter ? "per second" : "value"]: pts }, { title: name, xlabel: "seconds ago", width: 380, height: 180 }));
  }
  for (const hname of Object.keys(scraped).filter(n => n.endsWith("_sum"))) { // histogram means over the last interval
    const base = hname.slice(0, -4), c = scraped[base + "_count"], s = scraped[hname];
    if (!c || c.pts.length < 2 || !base.startsWith("lmforge")) continue;
    cards.push(h("div", { class: "card", "data-metric": base }, h("b", {}, Charts.fmt(s.pts.at(-1)[1] / Math.max(c.pts.at(-1)[1], 1))), h("span", {}, base + " (mean)")));
    const pts = s.pts.slice(1).map((p, i) => { const dn = c.pts[i + 1][1] - c.pts[i][1]; return [p[0] - now, dn > 0 ? (p[1] - s.pts[i][1]) / dn : 0]; });
    charts.push(Charts.line({ mean: pts }, { title: base + " (mean per interval)", xlabel: "seconds ago", width: 380, height: 180 }));
  }
  $("#metric-cards").replaceChildren(...cards);
  $("#metric-charts").replaceChildren(...charts);
}

resetPanels();
loadModels().then(resetPanels);
show(current());
