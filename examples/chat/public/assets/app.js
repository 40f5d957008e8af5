// The room page. Plain JS, no build step. Speaks the protocol in src/protocol.ts.
const NAME_KEY = "torpor.chat.name";
const UID_KEY = "torpor.chat.uid";
const RECENT_KEY = "torpor.chat.recentRooms";

const PING_EVERY_MS = 20_000; // answered by the runtime's auto-response, never wakes the room
const PONG_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const TYPING_SEND_EVERY_MS = 3_000;
const TYPING_SHOW_MS = 4_000;
const GROUP_WINDOW_MS = 5 * 60_000;
const HISTORY_PAGE = 50;
const OBJECT_POLL_MS = 1_000; // dev mode: the room object's state badge
/** Server errors about the message just sent: it was not posted, so the text stays in the box. */
const REJECTED_MESSAGE_CODES = new Set(["rate_limited", "text_too_long", "invalid_message"]);

const $ = (id) => document.getElementById(id);
const els = {
  roomName: $("room-name"),
  conn: $("conn"),
  connText: $("conn-text"),
  retry: $("retry"),
  me: $("me"),
  memberCount: $("member-count"),
  membersToggle: $("members-toggle"),
  sidebar: $("sidebar"),
  members: $("members"),
  scroller: $("scroller"),
  messages: $("messages"),
  loadOlder: $("load-older"),
  startOfRoom: $("start-of-room"),
  jump: $("jump"),
  typing: $("typing"),
  composer: $("composer"),
  input: $("input"),
  counter: $("counter"),
  tooLong: $("too-long"),
  send: $("send"),
  object: $("object"),
  objectState: $("object-state"),
  objectCounts: $("object-counts"),
  hibernateNow: $("hibernate-now"),
  toasts: $("toasts"),
  nameDialog: $("name-dialog"),
  nameForm: $("name-form"),
  nameInput: $("name-input"),
  nameError: $("name-error"),
  nameCancel: $("name-cancel"),
};

// ------------------------------------------------------------------ state

const room = decodeURIComponent(location.pathname.split("/")[2] ?? "");
const state = {
  ws: null,
  connected: false,
  attempt: 0,
  reconnectTimer: 0,
  pingTimer: 0,
  pongTimer: 0,
  you: null,
  members: [],
  /** Message ids shown, so a history page or a resend never duplicates. */
  ids: new Set(),
  oldestId: null,
  hasMore: false,
  loadingOlder: false,
  maxTextLength: 2000,
  lastTypingSent: 0,
  /** The text of a message sent and not yet seen back from the room: cleared from the box only then. */
  pending: null,
  /** The last close was a server restart (1012): say so until the page is back in. */
  restarting: false,
  /** user id → { name, timer } */
  typing: new Map(),
};

document.title = `#${room} · Torpor Chat`;
els.roomName.textContent = room;
rememberRoom(room);

// ------------------------------------------------------------------ identity

function uid() {
  let id = localStorage.getItem(UID_KEY);
  if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    id = btoa(String.fromCharCode(...bytes))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    localStorage.setItem(UID_KEY, id);
  }
  return id;
}

/** Same rule as the server: trimmed, inner whitespace collapsed, 1–32 characters, no control characters. */
function cleanName(raw) {
  const name = String(raw ?? "")
    .trim()
    .replace(/\s+/g, " ");
  if (name.length < 1) return { error: "Please enter a name." };
  if (name.length > 32) return { error: "Names are at most 32 characters." };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is exactly "no control characters"
  if (/[\u0000-\u001f\u007f]/.test(name)) return { error: "Names cannot contain control characters." };
  return { name };
}

function savedName() {
  const result = cleanName(localStorage.getItem(NAME_KEY));
  return result.name ?? null;
}

function askName({ cancellable }) {
  return new Promise((resolve) => {
    els.nameInput.value = savedName() ?? "";
    els.nameError.hidden = true;
    els.nameCancel.hidden = !cancellable;
    const onSubmit = (event) => {
      event.preventDefault();
      const result = cleanName(els.nameInput.value);
      if (result.error) {
        els.nameError.textContent = result.error;
        els.nameError.hidden = false;
        return;
      }
      cleanup();
      els.nameDialog.close();
      resolve(result.name);
    };
    const onCancel = (event) => {
      if (!cancellable) {
        event.preventDefault(); // Escape must not leave the page without a name.
        return;
      }
      cleanup();
      els.nameDialog.close();
      resolve(null);
    };
    const cleanup = () => {
      els.nameForm.removeEventListener("submit", onSubmit);
      els.nameDialog.removeEventListener("cancel", onCancel);
      els.nameCancel.removeEventListener("click", onCancel);
    };
    els.nameForm.addEventListener("submit", onSubmit);
    els.nameDialog.addEventListener("cancel", onCancel);
    els.nameCancel.addEventListener("click", onCancel);
    els.nameDialog.showModal();
    els.nameInput.focus();
    els.nameInput.select();
  });
}

function rememberRoom(name) {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]");
    const next = [name, ...(Array.isArray(list) ? list.filter((r) => r !== name) : [])].slice(0, 8);
    localStorage.setItem(RECENT_KEY, JSON.stringify(next));
  } catch {
    localStorage.setItem(RECENT_KEY, JSON.stringify([name]));
  }
}

// ------------------------------------------------------------------ connection

function setConn(kind, text) {
  els.conn.dataset.state = kind;
  els.conn.dataset.attempt = String(state.attempt);
  document.body.dataset.conn = kind; // presence dots go grey unless online
  els.connText.textContent = text;
  els.retry.hidden = kind !== "reconnecting" && kind !== "offline";
  const usable = kind === "online";
  els.input.disabled = !usable;
  updateSendButton();
}

function connect() {
  clearTimeout(state.reconnectTimer);
  const name = savedName();
  if (!name) return;
  // A socket still open (a rename reconnects under the new name) is closed only
  // once the new one is in: the room then sees a rename, not a leave and a join.
  const previous = state.ws;
  if (previous) {
    previous.onclose = null;
    previous.onmessage = null;
  }
  const retire = () => previous?.close(1000, "reconnected");
  setConn("connecting", state.attempt === 0 ? "Connecting…" : "Reconnecting…");
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const params = new URLSearchParams({ name, uid: uid() });
  const ws = new WebSocket(`${proto}//${location.host}/r/${encodeURIComponent(room)}/ws?${params}`);
  state.ws = ws;
  ws.addEventListener("message", retire, { once: true });
  ws.addEventListener("close", retire, { once: true });

  ws.onmessage = (event) => {
    if (event.data === "pong") {
      clearTimeout(state.pongTimer);
      return;
    }
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    handle(frame);
  };
  ws.onclose = (event) => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.connected = false;
    state.pending = null;
    if (event.code === 1012) state.restarting = true;
    stopHeartbeat();
    clearTyping();
    scheduleReconnect();
  };
}

/** Exponential backoff with full jitter: a random delay in [0, min(max, base·2^attempt)]. */
function scheduleReconnect() {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** state.attempt);
  const delay = Math.max(250, Math.round(Math.random() * ceiling));
  state.attempt += 1;
  if (!navigator.onLine) {
    setConn("offline", "Offline, waiting for network");
    return;
  }
  // While the server restarts, attempts fail with 1006 (refused): still a restart, not a new problem.
  const why = state.restarting ? "Server restarting" : "Disconnected";
  const until = Date.now() + delay;
  const tick = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    setConn("reconnecting", `${why}, retrying in ${left} s`);
  };
  tick();
  const countdown = setInterval(tick, 1000);
  state.reconnectTimer = setTimeout(() => {
    clearInterval(countdown);
    connect();
  }, delay);
  const prevClear = state.clearCountdown;
  if (prevClear) prevClear();
  state.clearCountdown = () => clearInterval(countdown);
}

function reconnectNow() {
  if (state.connected) return;
  if (state.clearCountdown) state.clearCountdown();
  connect();
}

function startHeartbeat() {
  stopHeartbeat();
  state.pingTimer = setInterval(() => {
    if (state.ws?.readyState !== WebSocket.OPEN) return;
    state.ws.send("ping");
    clearTimeout(state.pongTimer);
    // A half-open connection looks open forever; no pong means it is gone.
    state.pongTimer = setTimeout(() => state.ws?.close(4000, "heartbeat timeout"), PONG_TIMEOUT_MS);
  }, PING_EVERY_MS);
}

function stopHeartbeat() {
  clearInterval(state.pingTimer);
  clearTimeout(state.pongTimer);
}

function sendFrame(frame) {
  if (state.ws?.readyState !== WebSocket.OPEN) return false;
  state.ws.send(JSON.stringify(frame));
  return true;
}

els.retry.addEventListener("click", reconnectNow);
window.addEventListener("online", reconnectNow);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && !state.connected && !state.ws) reconnectNow();
});

// ------------------------------------------------------------------ frames

function handle(frame) {
  switch (frame.type) {
    case "welcome": {
      state.connected = true;
      state.attempt = 0;
      state.restarting = false;
      if (state.clearCountdown) state.clearCountdown();
      state.you = frame.you;
      state.maxTextLength = frame.limits?.maxTextLength ?? state.maxTextLength;
      els.me.textContent = frame.you.name;
      setConn("online", "Connected");
      setMembers(frame.members);
      // The welcome carries the latest page; start the list over from it.
      els.messages.replaceChildren();
      state.ids.clear();
      state.oldestId = null;
      appendMessages(frame.history);
      setHasMore(frame.hasMore);
      scrollToBottom();
      startHeartbeat();
      if (document.activeElement === document.body || !document.activeElement) els.input.focus();
      break;
    }
    case "message": {
      const nearBottom = isNearBottom();
      appendMessages([frame.message]);
      stopTyping(frame.message.author.id);
      if (frame.message.author.id === state.you?.id && frame.message.text === state.pending) {
        // Posted: now the box may be emptied (unless it was edited meanwhile).
        if (els.input.value.trim() === state.pending) {
          els.input.value = "";
          autosize();
        }
        state.pending = null;
        updateSendButton();
      }
      if (nearBottom || frame.message.author.id === state.you?.id) scrollToBottom();
      else els.jump.hidden = false;
      break;
    }
    case "history":
      state.loadingOlder = false;
      els.loadOlder.disabled = false;
      els.loadOlder.textContent = "Load older messages";
      prependMessages(frame.messages);
      setHasMore(frame.hasMore);
      break;
    case "joined":
      setMembers(frame.members);
      if (frame.member.id !== state.you?.id) systemLine(`${frame.member.name} joined`);
      break;
    case "left":
      setMembers(frame.members);
      stopTyping(frame.member.id);
      systemLine(`${frame.member.name} left`);
      break;
    case "renamed":
      setMembers(frame.members);
      if (frame.member.id === state.you?.id) systemLine(`You are now ${frame.member.name}`);
      else systemLine(`${frame.from} is now ${frame.member.name}`);
      break;
    case "members":
      setMembers(frame.members);
      break;
    case "typing":
      showTyping(frame.member);
      break;
    case "error":
      if (state.pending !== null && REJECTED_MESSAGE_CODES.has(frame.code)) {
        state.pending = null; // Not posted: the text stays in the box to send again.
        updateSendButton();
      }
      toast(frame.message, frame.code);
      if (state.loadingOlder) {
        state.loadingOlder = false;
        els.loadOlder.disabled = false;
        els.loadOlder.textContent = "Load older messages";
      }
      break;
  }
}

// ------------------------------------------------------------------ rendering

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric", year: "numeric" });

function dayLabel(ts) {
  const d = new Date(ts);
  const today = new Date();
  const yesterday = new Date();
  yesterday.setDate(today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return dayFmt.format(d);
}

function hue(id) {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 360;
}

function avatar(member) {
  const span = document.createElement("span");
  span.className = "avatar";
  span.style.setProperty("--hue", String(hue(member.id)));
  span.textContent = [...member.name][0]?.toUpperCase() ?? "?";
  span.setAttribute("aria-hidden", "true");
  return span;
}

/** Text with http(s) links made clickable, built from nodes (never innerHTML). */
function richText(text) {
  const frag = document.createDocumentFragment();
  const re = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]}'"]/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    frag.append(text.slice(last, m.index));
    const a = document.createElement("a");
    a.href = m[0];
    a.textContent = m[0];
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    frag.append(a);
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

function messageNode(msg, prev) {
  const li = document.createElement("li");
  li.className = "msg";
  li.dataset.id = String(msg.id);
  li.dataset.author = msg.author.id;
  li.dataset.ts = String(msg.ts);
  if (msg.author.id === state.you?.id) li.classList.add("mine");
  const grouped = prev && prev.author === msg.author.id && msg.ts - prev.ts < GROUP_WINDOW_MS && dayLabel(prev.ts) === dayLabel(msg.ts);
  if (grouped) li.classList.add("grouped");

  const gutter = document.createElement("div");
  gutter.className = "gutter";
  if (!grouped) gutter.append(avatar(msg.author));
  const content = document.createElement("div");
  content.className = "content";
  const time = document.createElement("time");
  time.dateTime = new Date(msg.ts).toISOString();
  time.title = fullFmt.format(msg.ts);
  time.textContent = timeFmt.format(msg.ts);
  if (!grouped) {
    const head = document.createElement("div");
    head.className = "head";
    const author = document.createElement("span");
    author.className = "author";
    author.style.setProperty("--hue", String(hue(msg.author.id)));
    author.textContent = msg.author.name;
    head.append(author, time);
    content.append(head);
  } else {
    gutter.append(time);
  }
  const body = document.createElement("div");
  body.className = "text";
  body.append(richText(msg.text));
  content.append(body);
  li.append(gutter, content);
  return li;
}

function dayDivider(ts) {
  const li = document.createElement("li");
  li.className = "divider";
  li.dataset.day = dayLabel(ts);
  li.textContent = dayLabel(ts);
  return li;
}

function lastMessageMeta(beforeNode = null) {
  let node = beforeNode ? beforeNode.previousElementSibling : els.messages.lastElementChild;
  while (node && !node.classList.contains("msg")) {
    if (node.classList.contains("divider")) return null;
    node = node.previousElementSibling;
  }
  return node ? { author: node.dataset.author, ts: Number(node.dataset.ts) } : null;
}

function appendMessages(messages) {
  for (const msg of messages) {
    if (state.ids.has(msg.id)) continue;
    state.ids.add(msg.id);
    if (state.oldestId === null || msg.id < state.oldestId) state.oldestId = msg.id;
    const lastDivider = [...els.messages.querySelectorAll(".divider")].pop();
    if (lastDivider?.dataset.day !== dayLabel(msg.ts)) els.messages.append(dayDivider(msg.ts));
    els.messages.append(messageNode(msg, lastMessageMeta()));
  }
}

/** Older messages go on top; re-render is cheapest as "build the page, then re-add the rest". */
function prependMessages(messages) {
  const fresh = messages.filter((m) => !state.ids.has(m.id));
  if (fresh.length === 0) return;
  const before = els.scroller.scrollHeight - els.scroller.scrollTop;
  const existing = [...els.messages.querySelectorAll(".msg")].map((li) => ({
    id: Number(li.dataset.id),
    ts: Number(li.dataset.ts),
    author: { id: li.dataset.author, name: li.querySelector(".author")?.textContent ?? "" },
    text: li.querySelector(".text").textContent,
    node: li,
  }));
  // Re-render everything so grouping and day dividers stay right at the seam.
  const names = new Map();
  for (const m of [...fresh, ...existing]) if (m.author.name) names.set(m.author.id, m.author.name);
  const all = [...fresh, ...existing.map(({ node, ...m }) => ({ ...m, author: { id: m.author.id, name: names.get(m.author.id) ?? m.author.name } }))];
  els.messages.replaceChildren();
  state.ids.clear();
  state.oldestId = null;
  appendMessages(all);
  els.scroller.scrollTop = els.scroller.scrollHeight - before;
}

function systemLine(text) {
  const nearBottom = isNearBottom();
  const li = document.createElement("li");
  li.className = "system";
  li.textContent = text;
  els.messages.append(li);
  if (nearBottom) scrollToBottom();
}

function setHasMore(hasMore) {
  state.hasMore = hasMore;
  els.loadOlder.hidden = !hasMore;
  els.startOfRoom.hidden = hasMore || state.ids.size === 0;
}

function setMembers(members) {
  state.members = members;
  els.memberCount.textContent = String(members.length);
  els.members.replaceChildren(
    ...members.map((m) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "member-name";
      name.textContent = m.name;
      li.append(avatar(m), name);
      if (m.id === state.you?.id) {
        const you = document.createElement("span");
        you.className = "badge";
        you.textContent = "you";
        li.append(you);
      }
      return li;
    }),
  );
}

/** One toast per kind of problem: a repeat replaces the one showing. */
function toast(message, code) {
  for (const old of els.toasts.querySelectorAll(".toast")) if (old.dataset.code === (code ?? "")) old.remove();
  const div = document.createElement("div");
  div.className = "toast";
  div.dataset.code = code ?? "";
  div.textContent = message;
  els.toasts.append(div);
  setTimeout(() => div.classList.add("leaving"), 4_000);
  setTimeout(() => div.remove(), 4_500);
}

// ------------------------------------------------------------------ scrolling

function isNearBottom() {
  const s = els.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

function scrollToBottom() {
  els.scroller.scrollTop = els.scroller.scrollHeight;
  els.jump.hidden = true;
}

els.jump.addEventListener("click", scrollToBottom);
els.scroller.addEventListener("scroll", () => {
  if (isNearBottom()) els.jump.hidden = true;
  // Reaching the top loads the next page, like the button does.
  if (els.scroller.scrollTop < 40 && state.hasMore && !state.loadingOlder && state.ids.size > 0) loadOlder();
});

function loadOlder() {
  if (state.loadingOlder || state.oldestId === null) return;
  if (!sendFrame({ type: "history", before: state.oldestId, limit: HISTORY_PAGE })) return;
  state.loadingOlder = true;
  els.loadOlder.disabled = true;
  els.loadOlder.textContent = "Loading…";
}
els.loadOlder.addEventListener("click", loadOlder);

// ------------------------------------------------------------------ typing

function showTyping(member) {
  if (member.id === state.you?.id) return;
  const entry = state.typing.get(member.id);
  if (entry) clearTimeout(entry.timer);
  state.typing.set(member.id, { name: member.name, timer: setTimeout(() => stopTyping(member.id), TYPING_SHOW_MS) });
  renderTyping();
}

function stopTyping(id) {
  const entry = state.typing.get(id);
  if (!entry) return;
  clearTimeout(entry.timer);
  state.typing.delete(id);
  renderTyping();
}

function clearTyping() {
  for (const id of [...state.typing.keys()]) stopTyping(id);
}

function renderTyping() {
  const names = [...state.typing.values()].map((t) => t.name);
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing`;
  else if (names.length > 2) text = "Several people are typing";
  els.typing.replaceChildren();
  if (!text) return;
  const dots = document.createElement("span");
  dots.className = "dots";
  dots.append(document.createElement("i"), document.createElement("i"), document.createElement("i"));
  els.typing.append(dots, document.createTextNode(text));
}

// ------------------------------------------------------------------ composer

function updateSendButton() {
  const len = els.input.value.trim().length;
  const over = len > state.maxTextLength;
  els.send.disabled = !state.connected || len === 0 || over || state.pending !== null;
  const remaining = state.maxTextLength - els.input.value.length;
  els.counter.hidden = remaining > 200;
  els.counter.textContent = String(remaining);
  els.counter.classList.toggle("over", remaining < 0);
  // No maxlength on the box: a long paste is kept whole and refused here, visibly, rather than cut.
  els.tooLong.hidden = !over;
  els.tooLong.textContent = over
    ? `Too long to send: ${len.toLocaleString()} characters, the limit is ${state.maxTextLength.toLocaleString()}. Shorten it or split it.`
    : "";
  els.composer.classList.toggle("over", over);
}

function autosize() {
  els.input.style.height = "auto";
  els.input.style.height = `${Math.min(els.input.scrollHeight, 200)}px`;
}

els.input.addEventListener("input", () => {
  autosize();
  updateSendButton();
  const now = Date.now();
  if (els.input.value.trim() && now - state.lastTypingSent > TYPING_SEND_EVERY_MS) {
    state.lastTypingSent = now;
    sendFrame({ type: "typing" });
  }
});

els.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    els.composer.requestSubmit();
  }
});

els.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = els.input.value.trim();
  if (!text || text.length > state.maxTextLength || state.pending !== null) return;
  if (!sendFrame({ type: "message", text })) {
    toast("Not connected; your message is still in the box.", "not_connected");
    return;
  }
  // The box is emptied when the room echoes the message back; a rejection leaves it there.
  state.pending = text;
  state.lastTypingSent = 0;
  updateSendButton();
  els.input.focus();
});

// ------------------------------------------------------------------ chrome

els.membersToggle.addEventListener("click", () => {
  const open = els.sidebar.classList.toggle("open");
  els.membersToggle.setAttribute("aria-expanded", String(open));
});

els.me.addEventListener("click", async () => {
  const name = await askName({ cancellable: true });
  if (!name || name === savedName()) return;
  localStorage.setItem(NAME_KEY, name);
  state.attempt = 0;
  connect();
});

// ------------------------------------------------------------------ room object (dev mode)

/**
 * Dev mode (`pnpm dev`): shows whether the room's Durable Object is live or
 * hibernated and how often it was constructed and woken, read from the
 * Worker's /state route (which asks the runtime's admin endpoint and never
 * wakes the room). Outside dev mode the route is a 404 and nothing shows.
 */
async function pollObject() {
  let info;
  try {
    const response = await fetch(`/r/${encodeURIComponent(room)}/state`, { cache: "no-store" });
    if (response.status === 404) return; // Not dev mode: no badge, no more polling.
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    info = await response.json();
  } catch {
    info = null; // Server down (restarting): try again on the next tick.
  }
  if (info) showObject(info);
  setTimeout(pollObject, OBJECT_POLL_MS);
}

function showObject(info) {
  els.object.hidden = false;
  els.objectState.dataset.state = info.state;
  els.objectState.textContent = info.state;
  els.objectCounts.textContent = `constructed ${info.constructed} · woken ${info.woken}`;
  els.object.title = info.hibernateAfterMs === null ? "" : `The room hibernates after ${info.hibernateAfterMs / 1000} s without events; sockets stay open.`;
  els.hibernateNow.disabled = info.state !== "live";
}

els.hibernateNow.addEventListener("click", async () => {
  els.hibernateNow.disabled = true;
  const response = await fetch(`/r/${encodeURIComponent(room)}/hibernate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  }).catch(() => null);
  if (!response) return toast("The server is not reachable.", "hibernate");
  const body = await response.json().catch(() => ({}));
  if (!response.ok) toast(body.error?.message ?? `Could not hibernate (HTTP ${response.status}).`, "hibernate");
  const state = await fetch(`/r/${encodeURIComponent(room)}/state`, { cache: "no-store" })
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
  if (state) showObject(state);
});

async function start() {
  if (!savedName()) {
    setConn("idle", "Not connected");
    const name = await askName({ cancellable: false });
    localStorage.setItem(NAME_KEY, name);
  }
  els.me.textContent = savedName();
  connect();
  void pollObject();
}

void start();
