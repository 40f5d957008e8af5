// The Torpor dashboard: polls GET /dashboard/data once a second, draws the
// totals, a chart of the last minutes and a table per namespace, and forces
// hibernation through POST /objects/<binding>/<name>/hibernate. Plain
// JavaScript, no build step, no dependencies (see src/dashboard/dashboard.ts).
const POLL_MS = 1000;
const HISTORY_MS = 5 * 60_000;
const history = []; // { at, live, wakes, evictions }
let token = sessionStorage.getItem("torpor.admin.token");

const $ = (id) => document.getElementById(id);

function headers(extra) {
  const h = { ...extra };
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

async function poll() {
  try {
    const response = await fetch("/dashboard/data", { headers: headers(), cache: "no-store" });
    if (response.status === 401) {
      askForToken();
      return;
    }
    if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
    const data = await response.json();
    render(data);
    setStatus(`updated ${new Date(data.at).toLocaleTimeString()}`);
  } catch (error) {
    setStatus(`cannot reach the admin endpoint: ${error.message}`, true);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function askForToken() {
  setStatus("this admin endpoint needs its token", true);
  $("token-form").hidden = false;
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem("torpor.admin.token", token);
  $("token-form").hidden = true;
  setStatus("connecting…");
});

function render(data) {
  const t = data.totals;
  $("t-objects").textContent = t.objects;
  $("t-live").textContent = t.live;
  $("t-hibernated").textContent = t.hibernated;
  $("t-sockets").textContent = t.sockets;
  $("t-wakes").textContent = t.wakes;
  $("t-evictions").textContent = t.evictions;
  $("t-workers").textContent = data.workers.length;
  history.push({ at: data.at, live: t.live, wakes: t.wakes, evictions: t.evictions });
  while (history.length > 0 && history[0].at < data.at - HISTORY_MS) history.shift();
  drawChart();
  renderTables(data);
}

/** Live objects, and hibernations and wakes per second (from successive totals), over the last minutes. */
function drawChart() {
  const canvas = $("chart");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const rates = [];
  for (let i = 1; i < history.length; i++) {
    const a = history[i - 1];
    const b = history[i];
    const s = Math.max(0.001, (b.at - a.at) / 1000);
    rates.push({ at: b.at, live: b.live, sleeps: Math.max(0, b.evictions - a.evictions) / s, wakes: Math.max(0, b.wakes - a.wakes) / s });
  }
  canvas.dataset.points = String(rates.length);
  const style = getComputedStyle(document.documentElement);
  const pad = 28;
  g.strokeStyle = style.getPropertyValue("--line");
  g.fillStyle = style.getPropertyValue("--muted");
  g.font = "11px system-ui, sans-serif";
  g.beginPath();
  g.moveTo(pad, height - 16);
  g.lineTo(width, height - 16);
  g.stroke();
  if (rates.length === 0) {
    g.fillText("collecting…", pad + 4, 16);
    return;
  }
  const end = rates[rates.length - 1].at;
  const start = Math.max(rates[0].at, end - HISTORY_MS);
  const span = Math.max(1000, end - start);
  const top = Math.max(1, ...rates.map((r) => Math.max(r.live, r.sleeps, r.wakes)));
  g.fillText(String(Math.ceil(top)), 2, 12);
  g.fillText("0", 2, height - 18);
  $("chart-span").textContent = `· last ${Math.round(span / 1000)} s`;
  const line = (key, color) => {
    g.strokeStyle = style.getPropertyValue(color);
    g.lineWidth = 2;
    g.beginPath();
    rates.forEach((r, i) => {
      const x = pad + ((r.at - start) / span) * (width - pad - 4);
      const y = height - 16 - (r[key] / top) * (height - 32);
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
  };
  line("live", "--live");
  line("sleeps", "--sleep");
  line("wakes", "--wake");
}

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

function bytes(n) {
  if (n === null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (text instanceof Node) td.append(text);
  else td.textContent = text;
  row.append(td);
  return td;
}

function renderTables(data) {
  const byBinding = new Map();
  for (const o of data.objects) {
    if (!byBinding.has(o.binding)) byBinding.set(o.binding, []);
    byBinding.get(o.binding).push(o);
  }
  const root = $("namespaces");
  const sections = [];
  for (const [binding, objects] of [...byBinding].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const section = document.createElement("section");
    const h2 = document.createElement("h2");
    const live = objects.filter((o) => o.state === "live").length;
    h2.textContent = `${binding} · ${objects.length} objects, ${live} live`;
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const title of ["object", "worker", "state", "sockets", "tags", "last event", "wakes", "hibernations", "alarm", "on disk", ""]) {
      const th = document.createElement("th");
      th.textContent = title;
      head.append(th);
    }
    const body = table.createTBody();
    for (const o of objects) {
      const row = body.insertRow();
      row.dataset.object = `${o.binding}/${o.name ?? o.id}`;
      row.dataset.state = o.state;
      const name = cell(row, o.name ?? `${o.id.slice(0, 12)}…`, "name");
      name.title = o.id;
      cell(row, o.worker === null ? "" : String(o.worker), "num");
      const badge = document.createElement("span");
      badge.className = `badge ${o.state}`;
      badge.textContent = o.state;
      cell(row, badge, "state");
      cell(row, String(o.sockets), "num sockets");
      const tags = document.createElement("span");
      for (const [tag, n] of Object.entries(o.tags)) {
        const t = document.createElement("span");
        t.className = "tag";
        t.textContent = n > 1 ? `${tag} ×${n}` : tag;
        tags.append(t);
      }
      cell(row, tags);
      cell(row, o.lastEvent === null ? "" : `${o.lastEvent.kind === "call" ? "fetch/RPC" : o.lastEvent.kind} · ${ago(o.lastEvent.at)}`, "last");
      cell(row, String(o.wakes), "num wakes");
      cell(row, String(o.evictions), "num evictions");
      cell(row, o.alarm === null ? "" : new Date(o.alarm).toLocaleString(), "alarm");
      cell(row, bytes(o.bytes), "num");
      const action = cell(row, "");
      if (o.state === "live" && o.name !== null) {
        const button = document.createElement("button");
        button.textContent = "Hibernate";
        button.title = o.blockers.length > 0 ? `Pinned: ${o.blockers.join("; ")}` : "Drop the instance now; its sockets stay open";
        button.addEventListener("click", () => hibernate(o, button));
        action.append(button);
      }
    }
    section.append(h2, table);
    sections.push(section);
  }
  if (data.totals.objects > data.listed) {
    const more = document.createElement("p");
    more.className = "muted";
    more.textContent = `${data.totals.objects - data.listed} more objects not listed (hibernated, least recently used).`;
    sections.push(more);
  }
  if (sections.length === 0) {
    const none = document.createElement("p");
    none.className = "muted";
    none.textContent = "No objects have run since the server started.";
    sections.push(none);
  }
  root.replaceChildren(...sections);
}

async function hibernate(o, button) {
  button.disabled = true;
  const path = `/objects/${encodeURIComponent(o.binding)}/${encodeURIComponent(o.name)}/hibernate`;
  // The header tells the endpoint this is not a cross-site form (it is required without a token).
  const response = await fetch(path, { method: "POST", headers: headers({ "x-torpor-admin": "1" }) });
  const message = $("message");
  if (response.ok) {
    message.hidden = true;
  } else {
    const body = await response.json().catch(() => ({}));
    message.textContent = `${o.binding}/${o.name} did not hibernate: ${body.error?.message ?? response.status}`;
    message.hidden = false;
  }
}

poll();
