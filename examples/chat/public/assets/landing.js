// Landing page: pick a room. Room names follow the server's rule
// (1–64 characters of a-z, 0-9, "-" and "_"); we normalise what people type.
const RECENT_KEY = "torpor.chat.recentRooms";

const form = document.getElementById("join-form");
const input = document.getElementById("room-input");
const hint = document.getElementById("room-hint");

/** "My Team!" → "my-team" */
function normalise(raw) {
  return raw
    .trim()
    .toLowerCase()
    .replace(/\s+/g, "-")
    .replace(/[^a-z0-9_-]/g, "")
    .replace(/-{2,}/g, "-")
    .slice(0, 64);
}

input.addEventListener("input", () => {
  const room = normalise(input.value);
  hint.textContent =
    input.value.trim() === ""
      ? "Lowercase letters, digits, “-” and “_”; up to 64 characters."
      : room
        ? `You will join /r/${room}`
        : "That name has no usable characters.";
  hint.classList.toggle("error", input.value.trim() !== "" && !room);
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const room = normalise(input.value);
  if (!room) {
    input.focus();
    return;
  }
  location.assign(`/r/${room}`);
});

function recentRooms() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]");
    return Array.isArray(list) ? list.filter((r) => typeof r === "string" && /^[a-z0-9_-]{1,64}$/.test(r)) : [];
  } catch {
    return [];
  }
}

const recent = recentRooms();
if (recent.length > 0) {
  const list = document.getElementById("recent");
  for (const room of recent.slice(0, 8)) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = `/r/${room}`;
    a.textContent = `#${room}`;
    li.append(a);
    list.append(li);
  }
  document.getElementById("recent-section").hidden = false;
}
input.focus();
