// Tiny hand-written SVG charts for the console: lines, horizontal bars, intervals, a DAG.
// Each function returns an <svg> element; no library, no network.
"use strict";
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2e86c1", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d"];
  function el(name, attrs, parent, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function svg(w, h) { return el("svg", { class: "chart", width: w, height: h, viewBox: `0 0 ${w} ${h}` }); }
  function fmt(v) {
    if (!isFinite(v)) return "";
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a >= 1e4 ? v.toExponential(1) : a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
  }
  function extent(vals) {
    let lo = Math.min(...vals), hi = Math.max(...vals);
    if (!isFinite(lo)) return [0, 1];
    if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
    return [lo, hi];
  }

  // series: {name: [[x, y], ...]}
  function line(series, { width = 460, height = 220, xlabel = "", ylabel = "", title = "" } = {}) {
    const s = svg(width, height), m = { l: 52, r: 12, t: title ? 22 : 10, b: 34 };
    const pts = Object.values(series).flat();
    const [x0, x1] = extent(pts.map(p => p[0])), [y0, y1] = extent(pts.map(p => p[1]));
    const X = x => m.l + (x - x0) / (x1 - x0) * (width - m.l - m.r);
    const Y = y => height - m.b - (y - y0) / (y1 - y0) * (height - m.t - m.b);
    if (title) el("text", { x: m.l, y: 14, "font-weight": "600" }, s, title);
    el("line", { x1: m.l, y1: height - m.b, x2: width - m.r, y2: height - m.b, stroke: "#999" }, s);
    el("line", { x1: m.l, y1: m.t, x2: m.l, y2: height - m.b, stroke: "#999" }, s);
    for (let i = 0; i <= 4; i++) {
      const yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
      el("text", { x: m.l - 4, y: Y(yv) + 4, "text-anchor": "end" }, s, fmt(yv));
      el("line", { x1: m.l, y1: Y(yv), x2: width - m.r, y2: Y(yv), stroke: "#eee" }, s);
      el("text", { x: X(xv), y: height - m.b + 14, "text-anchor": "middle" }, s, fmt(xv));
    }
    el("text", { x: (width + m.l) / 2, y: height - 4, "text-anchor": "middle" }, s, xlabel);
    el("text", { x: 10, y: (height - m.b + m.t) / 2, transform: `rotate(-90 10 ${(height - m.b + m.t) / 2})`, "text-anchor": "middle" }, s, ylabel);
    Object.entries(series).forEach(([name, p], i) => {
      const c = COLORS[i % COLORS.length];
      if (p.length) el("polyline", { fill: "none", stroke: c, "stroke-width": 1.8, points: p.map(q => `${X(q[0])},${Y(q[1])}`).join(" ") }, s);
      if (p.length < 40) p.forEach(q => el("circle", { cx: X(q[0]), cy: Y(q[1]), r: 2.5, fill: c }, s));
      el("text", { x: width - m.r - 4, y: m.t + 12 + 13 * i, "text-anchor": "end", fill: c }, s, name);
    });
    return s;
  }

  // rows: [{label, parts: [[value, name], ...]}], stacked horizontally
  function bars(rows, { width = 560, onClick = null } = {}) {
    const h = 24, m = { l: 110, r: 60, t: 8 }, height = m.t + rows.length * h + 24;
    const s = svg(width, height);
    const max = Math.max(1, ...rows.map(r => r.parts.reduce((a, p) => a + p[0], 0)));
    const W = v => v / max * (width - m.l - m.r);
    rows.forEach((r, i) => {
      const y = m.t + i * h;
      el("text", { x: m.l - 6, y: y + 15, "text-anchor": "end" }, s, r.label);
      let x = m.l;
      r.parts.forEach(([v, name], j) => {
        const rect = el("rect", { x, y: y + 3, width: Math.max(W(v), v ? 1 : 0), height: h - 8, fill: COLORS[j % COLORS.length] }, s);
        el("title", {}, rect, `${name}: ${v}`);
        if (onClick && v) { rect.style.cursor = "pointer"; rect.addEventListener("click", () => onClick(r, name)); }
        x += W(v);
      });
      el("text", { x: x + 4, y: y + 15 }, s, r.parts.map(p => p[0]).join(" / "));
    });
    const names = rows.length ? rows[0].parts.map(p => p[1]) : [];
    names.forEach((n, j) => el("text", { x: m.l + 80 * j, y: height - 6, fill: COLORS[j % COLORS.length] }, s, "■ " + n));
    return s;
  }

  // rows: [{label, group, value, low, high}]; one row per label, one colour per group
  function intervals(rows, { width = 560, xlabel = "score (95% CI)", zero = false } = {}) {
    const labels = [...new Set(rows.map(r => r.label))], groups = [...new Set(rows.map(r => r.group))];
    const h = 16 * groups.length + 12, m = { l: 170, r: 110, t: 8, b: 34 };
    const height = m.t + labels.length * h + m.b, s = svg(width, height);
    const vals = rows.flatMap(r => [r.low, r.high]).concat(zero ? [0] : []);
    const [x0, x1] = extent(vals), X = v => m.l + (v - x0) / (x1 - x0) * (width - m.l - m.r);
    for (let i = 0; i <= 4; i++) {
      const v = x0 + (x1 - x0) * i / 4;
      el("line", { x1: X(v), y1: m.t, x2: X(v), y2: height - m.b, stroke: "#eee" }, s);
      el("text", { x: X(v), y: height - m.b + 14, "text-anchor": "middle" }, s, fmt(v));
    }
    if (zero && x0 <= 0 && x1 >= 0) el("line", { x1: X(0), y1: m.t, x2: X(0), y2: height - m.b, stroke: "#b00020", "stroke-dasharray": "3 3" }, s);
    el("text", { x: (width + m.l) / 2, y: height - 4, "text-anchor": "middle" }, s, xlabel);
    labels.forEach((lab, i) => {
      const y = m.t + i * h;
      el("text", { x: m.l - 6, y: y + h / 2 + 4, "text-anchor": "end" }, s, lab);
      groups.forEach((g, j) => {
        const r = rows.find(q => q.label === lab && q.group === g);
        if (!r) return;
        const c = COLORS[j % COLORS.length], yy = y + 10 + 16 * j;
        el("line", { x1: X(r.low), y1: yy, x2: X(r.high), y2: yy, stroke: c, "stroke-width": 2 }, s);
        el("circle", { cx: X(r.value), cy: yy, r: 4, fill: c }, s);
        el("text", { x: X(r.high) + 4, y: yy + 4, fill: c }, s, `${g} ${fmt(r.value)}`);
      });
    });
    return s;
  }

  // nodes: [{id, stage, status}], edges: [{from, to, role}]; layered left to right
  function graph(nodes, edges, { current = null, onClick = null } = {}) {
    const depth = {}, ids = nodes.map(n => n.id);
    ids.forEach(id => { depth[id] = 0; });
    for (let k = 0; k < ids.length; k++) edges.forEach(e => {
      if (e.from in depth && e.to in depth) depth[e.to] = Math.max(depth[e.to], depth[e.from] + 1);
    });
    const cols = {};
    ids.forEach(id => { (cols[depth[id]] = cols[depth[id]] || []).push(id); });
    const bw = 170, bh = 34, gx = 60, gy = 14, ncol = Object.keys(cols).length;
    const nrow = Math.max(1, ...Object.values(cols).map(c => c.length));
    const s = svg(Math.max(ncol * (bw + gx), 200), nrow * (bh + gy) + 10), pos = {};
    Object.entries(cols).forEach(([d, list]) => list.forEach((id, i) => { pos[id] = [d * (bw + gx) + 5, i * (bh + gy) + 5]; }));
    el("defs", {}, s).innerHTML = '<marker id="arr" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L8,4L0,8z" fill="#888"/></marker>';
    edges.forEach(e => {
      if (!pos[e.from] || !pos[e.to]) return;
      const [ax, ay] = pos[e.from], [bx, by] = pos[e.to];
      const p = el("line", { x1: ax + bw, y1: ay + bh / 2, x2: bx, y2: by + bh / 2, stroke: "#888", "marker-end": "url(#arr)" }, s);
      el("title", {}, p, e.role);
    });
    nodes.forEach(n => {
      const [x, y] = pos[n.id], g = el("g", { class: "node", "data-run": n.id }, s);
      const fill = n.id === current ? "#dbe9f7" : "#fff";
      const stroke = n.status === "failed" ? "#b00020" : n.status === "succeeded" ? "#1b7f3b" : "#a86200";
      el("rect", { x, y, width: bw, height: bh, rx: 5, fill, stroke }, g);
      el("text", { x: x + 6, y: y + 14, "font-weight": "600" }, g, n.stage);
      el("text", { x: x + 6, y: y + 28 }, g, n.id.length > 25 ? n.id.slice(0, 24) + "…" : n.id);
      el("title", {}, g, n.id);
      if (onClick) { g.style.cursor = "pointer"; g.addEventListener("click", () => onClick(n.id)); }
    });
    return s;
  }
  return { line, bars, intervals, graph, fmt };
})();
