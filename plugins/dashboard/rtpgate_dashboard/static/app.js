// rtpgate dashboard: one WebSocket (subprotocol dashboard.rtpgate) feeds everything on the page.
// The server pushes a "tick" once a second; paging, sorting, filtering and the call page are
// views the server computes, so the browser only ever holds the rows it shows.
"use strict";

const HISTORY_SECONDS = 15 * 60;
const $ = (id) => document.getElementById(id);
const esc = (value) => String(value ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const num = (n) => (n ?? 0).toLocaleString("en-US");
const bits = (bytesPerSecond) => {
  let v = bytesPerSecond * 8;
  for (const unit of ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"]) {
    if (v < 1000 || unit === "Gbit/s") return `${v.toFixed(v < 10 && unit !== "bit/s" ? 1 : 0)} ${unit}`;
    v /= 1000;
  }
  return "";
};
const duration = (s) => {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
};

// ---------------------------------------------------------------- charts (plain canvas)

const charts = {
  sessions: { canvas: $("chart-sessions"), series: [{ index: 1, color: "#4cc2ff" }] },
  packets: { canvas: $("chart-packets"), series: [{ index: 2, color: "#3ddc97" }] },
  signalling: { canvas: $("chart-signalling"), series: [{ index: 3, color: "#b48cff" }] },
  errors: { canvas: $("chart-errors"),
    series: [{ index: 4, color: "#ff6b6b" }, { index: 5, color: "#ffb454" }] },
};
let points = [];

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function drawChart(chart) {
  const canvas = chart.canvas;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const left = 44, right = 6, top = 6, bottom = 16;
  const w = width - left - right, h = height - top - bottom;
  const now = points.length ? points[points.length - 1][0] : Date.now() / 1000;
  const start = now - HISTORY_SECONDS;
  let max = 0;
  for (const p of points) for (const s of chart.series) max = Math.max(max, p[s.index]);
  max = niceMax(max);
  ctx.font = "10px system-ui, sans-serif";
  ctx.fillStyle = "#7d8b9b";
  ctx.strokeStyle = "#243040";
  ctx.lineWidth = 1;
  for (let i = 0; i <= 2; i++) {
    const y = top + h - (h * i) / 2;
    ctx.beginPath(); ctx.moveTo(left, Math.round(y) + 0.5); ctx.lineTo(left + w, Math.round(y) + 0.5); ctx.stroke();
    const label = max * i / 2;
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    ctx.fillText(label >= 1000 ? `${(label / 1000).toFixed(label >= 10000 ? 0 : 1)}k` : `${+label.toFixed(2)}`, left - 6, y);
  }
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const [minutes, label] of [[15, "-15m"], [10, "-10m"], [5, "-5m"], [0, "now"]]) {
    const x = left + w - (w * minutes * 60) / HISTORY_SECONDS;
    ctx.textAlign = minutes === 15 ? "left" : minutes === 0 ? "right" : "center";
    ctx.fillText(label, x, top + h + 3);
  }
  for (const s of chart.series) {
    const xy = points.filter((p) => p[0] >= start)
      .map((p) => [left + ((p[0] - start) / HISTORY_SECONDS) * w, top + h - (p[s.index] / max) * h]);
    if (!xy.length) continue;
    ctx.beginPath();
    xy.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.strokeStyle = s.color; ctx.lineWidth = 1.6; ctx.stroke();
    if (chart.series.length === 1) {
      ctx.lineTo(xy[xy.length - 1][0], top + h); ctx.lineTo(xy[0][0], top + h); ctx.closePath();
      const fill = ctx.createLinearGradient(0, top, 0, top + h);
      fill.addColorStop(0, s.color + "55"); fill.addColorStop(1, s.color + "05");
      ctx.fillStyle = fill; ctx.fill();
    }
  }
}

function drawCharts() { for (const chart of Object.values(charts)) drawChart(chart); }

function sparkline(canvas, values) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 120, height = canvas.clientHeight || 26;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  if (!values.length) return;
  const max = Math.max(1, ...values);
  ctx.beginPath();
  values.forEach((v, i) => {
    const x = values.length === 1 ? width : (i / (values.length - 1)) * width;
    const y = height - 2 - (v / max) * (height - 4);
    i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
  });
  ctx.strokeStyle = "#3ddc97"; ctx.lineWidth = 1.3; ctx.stroke();
}

// ---------------------------------------------------------------- summary panels

function setNumber(id, value) {
  const el = $(id);
  el.dataset.value = String(value);
  el.textContent = num(value);
}

let lastCost = null;

function renderSummary(s) {
  $("uptime").textContent = duration(s.uptime);
  const workers = s.workers;
  $("workers").hidden = !workers;
  if (workers) {
    $("workers").textContent = workers.missing.length
      ? `${num(workers.count)} workers · left out, not answering: ${workers.missing.join(", ")}`
      : `${num(workers.count)} workers`;
    $("workers").classList.toggle("bad", workers.missing.length > 0);
  }
  if (s.dashboard) {
    if (lastCost && s.time > lastCost.time) {
      const pct = (100 * (s.dashboard.cpu_seconds - lastCost.cpu)) / (s.time - lastCost.time);
      $("self-cpu").textContent = `${pct.toFixed(2)} % CPU`;
    }
    lastCost = { time: s.time, cpu: s.dashboard.cpu_seconds };
  }
  setNumber("sessions-total", s.sessions.total);
  $("sessions-own").textContent = num(s.sessions.own);
  $("sessions-foreign").textContent = num(s.sessions.foreign);
  setNumber("packet-rate", s.relay.packets);
  $("byte-rate").textContent = bits(s.relay.bytes);
  $("relay-errors").textContent = num(s.relay.errors);
  const sig = Object.fromEntries(s.signalling.map((row) => [row.command, row]));
  const rate = ["offer", "answer", "delete"].reduce((sum, c) => sum + (sig[c]?.rate || 0), 0);
  $("signalling-rate").textContent = rate.toFixed(rate < 10 ? 1 : 0);
  $("signalling-sub").textContent = ["offer", "answer", "delete"]
    .map((c) => `${c} ${(sig[c]?.rate || 0).toFixed(1)}`).join(" · ");
  setNumber("ng-errors", s.errors.ng_total);
  $("timeouts").textContent = num(s.errors.timeouts_total);
  $("error-rate").textContent = s.errors.ng_rate.toFixed(1);
  let used = 0, total = 0;
  for (const i of s.interfaces) { used += i.ports.used; total += i.ports.max - i.ports.min + 1; }
  setNumber("ports-used", used);
  $("ports-sub").textContent = `of ${num(total)} on ${s.interfaces.length} address${s.interfaces.length === 1 ? "" : "es"}`;

  $("signalling").innerHTML = s.signalling.map((row) => `<tr><td>${esc(row.command)}</td>
    <td class="num">${row.rate.toFixed(1)}</td>
    <td class="num">${row.latency_ms == null ? "–" : row.latency_ms.toFixed(2) + " ms"}</td>
    <td class="num">${row.mean_ms == null ? "–" : row.mean_ms.toFixed(2) + " ms"}</td>
    <td class="num">${num(row.total)}</td></tr>`).join("");

  $("interfaces").innerHTML = s.interfaces.map((i) => {
    const size = i.ports.max - i.ports.min + 1;
    const pct = size ? (100 * i.ports.used) / size : 0;
    return `<div class="iface"><div class="name"><span>${esc(i.name)} <span class="muted">${esc(i.address)}</span></span>
      <span>${num(i.ports.used)} / ${num(size)} ports</span></div>
      <div class="bar"><div style="width:${Math.max(pct, pct ? 1 : 0).toFixed(1)}%"></div></div>
      <div class="sub">in ${num(i.in.packets)} pkt/s · ${bits(i.in.bytes)} &nbsp; out ${num(i.out.packets)} pkt/s · ${bits(i.out.bytes)}</div></div>`;
  }).join("") || `<div class="muted">no interfaces</div>`;

  const commands = [...new Set(s.clients.flatMap((c) => Object.keys(c.counts)))];
  $("clients-head").innerHTML = `<tr><th>source</th>${commands.map((c) => `<th class="num">${esc(c)}</th>`).join("")}<th class="num">errors</th></tr>`;
  $("clients").innerHTML = s.clients.map((c) => `<tr><td>${esc(c.proxy)}</td>${commands
    .map((k) => `<td class="num">${num(c.counts[k] || 0)}</td>`).join("")}<td class="num">${num(c.errors)}</td></tr>`).join("")
    || `<tr><td class="muted" colspan="2">no control requests yet</td></tr>`;

  $("plugins").innerHTML = s.plugins.map((p) => `<li class="${p.status === "loaded" ? "ok" : esc(p.status)}"
    title="${esc(p.error || p.distribution + " " + p.version)}">${esc(p.name)} <span class="muted">${esc(p.version)}</span></li>`).join("");
}

// ---------------------------------------------------------------- calls table

const view = { offset: 0, limit: 25, sort: "age", descending: false, filter: "", call: null };

function legTags(leg) {
  const tags = leg.protocols.map((p) => `<span class="tag${/SAVP|DTLS|TLS/.test(p) ? " dtls" : ""}">${esc(p)}</span>`);
  if (leg.ice) tags.push(`<span class="tag ice">ICE ${esc(leg.ice)}</span>`);
  if (leg.dtls) tags.push(`<span class="tag dtls">DTLS ${esc(leg.dtls)}</span>`);
  return tags.join("");
}

function renderCalls(page) {
  $("calls-count").textContent = page.filter
    ? `${num(page.matched)} of ${num(page.total)}` : `${num(page.total)}`;
  const body = $("calls-body");
  if (!page.rows.length) {
    body.innerHTML = `<tr class="empty"><td colspan="9">${page.total ? "no call matches" : "no calls"}</td></tr>`;
  } else {
    body.innerHTML = page.rows.map((r) => `<tr data-call-id="${esc(r.call_id)}">
      <td class="callid" title="${esc(r.call_id)}">${esc(r.call_id)}</td>
      <td>${esc(r.labels)}${r.deleting ? ' <span class="tag del">deleting</span>' : ""}</td>
      <td>${duration(r.age)}</td>
      <td>${r.legs.map(legTags).join(" ⇄ ") || r.legs.length}</td>
      <td class="endpoints">${r.legs.map((l) => esc(l.endpoint || "?")).join(" ⇄ ")}</td>
      <td>${esc(r.proxy)}</td>
      <td class="num">${num(r.rate)}</td>
      <td class="num">${r.loss == null ? "–" : r.loss.toFixed(1)}</td>
      <td class="num">${r.jitter == null ? "–" : r.jitter.toFixed(1)}</td></tr>`).join("");
  }
  const last = Math.min(page.offset + page.limit, page.matched);
  $("page-info").textContent = page.matched ? `${num(page.offset + 1)}–${num(last)} of ${num(page.matched)}` : "";
  $("prev").disabled = page.offset <= 0;
  $("next").disabled = last >= page.matched;
  view.offset = page.offset;
  for (const th of document.querySelectorAll("#calls th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === page.sort);
    th.classList.toggle("asc", th.dataset.sort === page.sort && !page.descending);
  }
}

function renderCall(call) {
  const overlay = $("call-page");
  if (!view.call) { overlay.hidden = true; return; }
  overlay.hidden = false;
  $("call-id").textContent = view.call;
  if (!call) return;
  if (call.gone) { $("call-body").innerHTML = `<p class="muted">This call has ended.</p>`; return; }
  const counters = (c) => `${num(c.packets)} pkt · ${num(c.bytes)} B${c.errors ? ` · <span style="color:var(--bad)">${num(c.errors)} err</span>` : ""}`;
  $("call-body").innerHTML = `<p class="muted">age ${duration(call.age)} · proxy ${esc(call.proxy)}${call.deleting ? " · deleting" : ""}</p>` +
    call.legs.map((leg, li) => `<div class="leg"><h3>${esc(leg.label || leg.tag || "(untagged)")}
      <span class="muted">tag ${esc(leg.tag || "–")} · ${duration(leg.age)}${
        leg.kind && leg.kind !== "offer/answer" ? ` · ${esc(leg.kind)}` : ""}${
        (leg.subscribed_to || []).length ? ` · subscribed to ${esc(leg.subscribed_to.join(", "))}`
          : ""}</span></h3>` +
      leg.medias.map((m, mi) => `<div><span class="tag">${esc(m.type)} ${esc(m.protocol)}</span>
        ${m.ice ? `<span class="tag ice">ICE ${esc(m.ice)}</span>` : ""}${m.dtls ? `<span class="tag dtls" title="${esc(m.dtls_failure || m.dtls_suite || "")}">DTLS ${esc(m.dtls)}${m.dtls_suite ? " · " + esc(m.dtls_suite) : ""}</span>` : ""}
        <span class="muted">${esc(m.codecs.join(", "))} · ${esc(m.flags.join(", "))}</span>
        <table class="compact"><thead><tr><th>stream</th><th>local</th><th>endpoint</th><th>in</th><th>out</th>
        <th class="num">pkt/s</th><th>last 2 min</th><th>RTCP reports (loss · jitter)</th></tr></thead><tbody>` +
        m.streams.map((st, si) => `<tr><td>${st.rtcp ? "RTCP" : "RTP"} ${st.component}</td>
          <td>${esc(st.local || "–")}</td><td>${esc(st.endpoint || "–")}</td>
          <td>${counters(st.in)}</td><td>${counters(st.out)}</td><td class="num">${num(st.rate)}</td>
          <td><canvas class="spark" id="spark-${li}-${mi}-${si}"></canvas></td>
          <td>${st.reports.map((r) => `${esc(r.ssrc)}: ${r.loss.toFixed(1)} % · ${r.jitter.toFixed(1)} ms`).join("<br>") || "–"}</td></tr>`).join("") +
        `</tbody></table></div>`).join("") + `</div>`).join("");
  call.legs.forEach((leg, li) => leg.medias.forEach((m, mi) => m.streams.forEach((st, si) =>
    sparkline($(`spark-${li}-${mi}-${si}`), st.spark))));
}

// ---------------------------------------------------------------- connection

let socket = null;
let failures = 0;

function send(changes) {
  Object.assign(view, changes);
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ view: changes }));
}

function connect() {
  // the browser sends the login it gave for the page (HTTP basic) with the handshake too
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/dashboard`;
  socket = new WebSocket(url, ["dashboard.rtpgate"]);
  socket.binaryType = "arraybuffer";
  const decoder = new TextDecoder();
  socket.onopen = () => {
    failures = 0;
    $("conn").className = "dot on"; $("conn-text").textContent = "live";
    socket.send(JSON.stringify({ view }));
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(typeof event.data === "string" ? event.data : decoder.decode(event.data));
    if (message.type === "history") { points = message.points; drawCharts(); return; }
    if (message.type !== "tick") return;
    if (message.summary.point && (!points.length || points[points.length - 1][0] < message.summary.point[0])) {
      points.push(message.summary.point);
      while (points.length && points[0][0] < message.summary.point[0] - HISTORY_SECONDS) points.shift();
    }
    renderSummary(message.summary);
    renderCalls(message.calls);
    renderCall(message.call);
    drawCharts();
  };
  socket.onclose = () => {
    $("conn").className = "dot off"; $("conn-text").textContent = "reconnecting";
    failures += 1;
    setTimeout(connect, Math.min(1000 * failures, 5000));
  };
}

function openFromHash() {
  const match = /^#call=(.+)$/.exec(location.hash);
  const call = match ? decodeURIComponent(match[1]) : null;
  if (call !== view.call) { send({ call }); renderCall(null); }
}

let filterTimer = null;
$("filter").addEventListener("input", (e) => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => send({ filter: e.target.value, offset: 0 }), 150);
});
$("page-size").addEventListener("change", (e) => send({ limit: Number(e.target.value), offset: 0 }));
$("prev").addEventListener("click", () => send({ offset: Math.max(0, view.offset - view.limit) }));
$("next").addEventListener("click", () => send({ offset: view.offset + view.limit }));
for (const th of document.querySelectorAll("#calls th[data-sort]")) {
  th.addEventListener("click", () => {
    const sort = th.dataset.sort;
    send({ sort, descending: sort === view.sort ? !view.descending : ["legs", "rate", "loss", "jitter"].includes(sort), offset: 0 });
  });
}
$("calls-body").addEventListener("click", (e) => {
  const row = e.target.closest("tr[data-call-id]");
  if (row) location.hash = `call=${encodeURIComponent(row.dataset.callId)}`;
});
$("call-close").addEventListener("click", (e) => { e.preventDefault(); history.pushState(null, "", location.pathname); openFromHash(); });
$("call-page").addEventListener("click", (e) => { if (e.target === $("call-page")) $("call-close").click(); });
window.addEventListener("hashchange", openFromHash);
window.addEventListener("resize", drawCharts);

const initial = /^#call=(.+)$/.exec(location.hash);
if (initial) view.call = decodeURIComponent(initial[1]);
renderCall(null);
connect();
