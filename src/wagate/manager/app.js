// wagate Manager: plain JavaScript over wagate's JSON API. No build step, no dependencies.
// The key lives in sessionStorage (this tab only) and travels as the `apikey` header.
"use strict";

const KEY_SLOT = "wagate.apikey";
const POLL_MS = 1000;          // list refresh while the live stream is down
const SLOW_POLL_MS = 15000;    // safety refresh while it is up
const TAIL_MAX = 100;

const ACTIONS = {
  connect: "Connect",
  scan: "Scan the QR code (or use a pairing code)",
  wait: "Wait: it is working on it",
  check_phone: "Check the phone, then connect again",
  check_network: "Check this machine's internet access (DNS, firewall, proxy); `wagate doctor` tests it. WAGATE_ENGINE=sim runs wagate without WhatsApp",
  upgrade: "Upgrade wagate, then connect again",
  none: "Nothing",
};

const ui = {};
const state = {
  key: null, global: false, events: [],
  rows: new Map(),        // name -> fetchInstances row
  rowEls: new Map(),      // name -> {sig, tr}: the rendered row and what it showed
  selected: null,         // name of the instance in the detail panel
  code: new Map(),        // name -> {base64, pairingCode, count}
  tail: [],
  chats: [],              // findChats of the selected instance
  chat: null,             // remoteJid of the open conversation
  chatTimer: null,
  transports: {},         // transport -> enabled, as last loaded or saved
  streamAbort: null, live: false, pollTimer: null, refreshTimer: null, deliveriesTimer: null,
};

// --- helpers --------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children) node.append(child);
  return node;
}

function messageOf(data, status) {
  const msg = data && data.response && data.response.message;
  if (Array.isArray(msg)) return msg.flat().join("; ");
  if (typeof msg === "string") return msg;
  if (data && typeof data.message === "string") return data.message;
  return `HTTP ${status}`;
}

async function api(method, path, body) {
  const init = { method, headers: { apikey: state.key } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    const err = new Error(messageOf(data, res.status));
    err.status = res.status;
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

function notify(text, bad = false) {
  ui.notice.textContent = text;
  ui.notice.classList.toggle("bad", bad);
}

function confirmWith(text, okLabel) {
  return new Promise((resolve) => {
    ui.confirmText.textContent = text;
    ui.confirmOk.textContent = okLabel;
    ui.confirm.returnValue = "";
    ui.confirm.addEventListener("close", () => resolve(ui.confirm.returnValue === "ok"), { once: true });
    ui.confirm.showModal();
    ui.confirmCancel.focus();
  });
}

// --- sign in / out --------------------------------------------------------------------------

async function signIn(key) {
  state.key = key;
  const who = await api("GET", "/manager/api/whoami");
  sessionStorage.setItem(KEY_SLOT, key);
  state.global = who.global;
  state.events = who.events || [];
  ui.whoami.textContent = who.global ? "Global key" : `Instance token (${who.instances.join(", ")})`;
  ui.login.hidden = true;
  ui.dashboard.hidden = false;
  ui.session.hidden = false;
  ui.createForm.hidden = !who.global;
  buildEventChecks();
  await refresh();
  startStream();
  schedulePoll();
}

function signOut() {
  sessionStorage.removeItem(KEY_SLOT);
  stopStream();
  clearTimeout(state.pollTimer);
  state.key = null;
  state.rows.clear();
  state.rowEls.clear();
  state.selected = null;
  ui.dashboard.hidden = true;
  ui.session.hidden = true;
  ui.detail.hidden = true;
  ui.login.hidden = false;
  ui.apikey.value = "";
  ui.apikey.focus();
}

// --- the instance list ----------------------------------------------------------------------

async function refresh() {
  try {
    const rows = await api("GET", "/instance/fetchInstances");
    state.rows = new Map(rows.map((r) => [r.name, r]));
    render();
  } catch (err) {
    if (err.status === 401) { signOut(); ui.loginError.textContent = "The key is no longer accepted."; return; }
    notify(`Could not load the instances: ${err.message}`, true);
  }
}

function refreshSoon() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refresh, 150);
}

function schedulePoll() {
  clearTimeout(state.pollTimer);
  state.pollTimer = setTimeout(async () => {
    if (!state.key) return;
    await refresh();
    if (!state.live && state.selected) await pollCode(state.selected);
    schedulePoll();
  }, state.live ? SLOW_POLL_MS : POLL_MS);
}

function stateOf(row) {
  return row.connectionStatus || "close";
}

function render() {
  // Rows are rebuilt only when what they show changed, and focus stays on the same button.
  const focused = document.activeElement && document.activeElement.getAttribute("aria-label");
  const term = ui.instanceFilter.value.trim().toLowerCase();
  const rows = [...state.rows.values()].sort((a, b) => a.name.localeCompare(b.name))
    .filter((r) => !term || [r.name, r.ownerJid, r.profileName, r.connectionStatus]
      .some((v) => v && String(v).toLowerCase().includes(term)));
  const kept = new Map();
  for (const row of rows) {
    const lc = row.lifecycle || {};
    const sig = JSON.stringify([row.connectionStatus, row.ownerJid, row.profileName, row.profilePicUrl,
                                lc.state, lc.reason, lc.message, lc.action]);
    const old = state.rowEls.get(row.name);
    kept.set(row.name, old && old.sig === sig ? old : { sig, tr: renderRow(row) });
  }
  state.rowEls = kept;
  ui.instances.tBodies[0].replaceChildren(...[...kept.values()].map((r) => r.tr));
  if (focused && document.activeElement === document.body) {
    const again = [...ui.instances.querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === focused);
    if (again) again.focus();
  }
  ui.empty.hidden = state.rows.size > 0;
  if (!ui.tokenBox.hidden && !state.rows.has(ui.tokenName.textContent)) ui.tokenBox.hidden = true;
  if (state.selected && !state.rows.has(state.selected)) closeDetail();
  else if (state.selected) renderPairing();
}

function todo(lc, ext) {
  if (lc.action === "scan" && ext === "close") return "Connect, then scan the QR code";
  return ACTIONS[lc.action] || lc.action || "";
}

function reasonOf(lc, row) {
  // 200 is "healthy": nothing to explain, so nothing shown.
  const reason = lc.reason ?? row.disconnectionReasonCode;
  return reason === null || reason === undefined || reason === 200 ? "" : String(reason);
}

function renderRow(row) {
  const lc = row.lifecycle || {};
  const ext = stateOf(row);
  const name = row.name;
  const act = (label, handler, cls) =>
    el("button", { type: "button", class: cls, "aria-label": `${label} ${name}`, onclick: () => handler(name) }, label);
  return el("tr", { "data-instance": name },
    el("td", {},
       row.profilePicUrl ? el("img", { class: "avatar", src: row.profilePicUrl, alt: "" }) : "",
       el("button", { type: "button", class: "name-button", onclick: () => openDetail(name),
                      "aria-label": `Open ${name}` }, name),
       row.profileName ? el("span", { class: "profile", text: row.profileName }) : "",
       el("span", { class: "sub", text: row.ownerJid || "" })),
    el("td", { class: "state" },
       el("span", { class: `badge ${ext}`, "data-state": ext }, ext),
       el("span", { class: "sub", text: lc.state ? lc.state.replace(/_/g, " ") : "" })),
    el("td", { class: "reason" },
       el("span", { text: reasonOf(lc, row) }),
       el("span", { class: "sub", text: lc.message || "" })),
    el("td", { class: "todo", text: todo(lc, ext) }),
    el("td", { class: "actions" },
       act("Connect", connect), act("Restart", restart, "secondary"),
       act("Log out", logout, "secondary"), act("Delete", remove, "danger")),
  );
}

// --- actions --------------------------------------------------------------------------------

async function create(event) {
  event.preventDefault();
  const name = ui.newName.value.trim();
  if (!name) return;
  try {
    const res = await api("POST", "/instance/create", { instanceName: name, integration: "WHATSAPP-BAILEYS" });
    ui.newName.value = "";
    ui.tokenName.textContent = name;
    ui.tokenValue.textContent = res.hash;
    ui.tokenBox.hidden = false;
    notify(`Created ${name}.`);
    await refresh();
  } catch (err) {
    notify(`Could not create ${name}: ${err.message}`, true);
  }
}

async function connect(name, number) {
  openDetail(name);
  try {
    const qs = number ? `?number=${enc(number)}` : "";
    const res = await api("GET", `/instance/connect/${enc(name)}${qs}`);
    if (res.base64 || res.pairingCode) state.code.set(name, res);
    notify(res.instance && res.instance.state === "open" ? `${name} is already connected.` : `Connecting ${name}…`);
  } catch (err) {
    notify(`Could not connect ${name}: ${err.message}`, true);
  }
  await refresh();
}

async function restart(name) {
  try {
    await api("POST", `/instance/restart/${enc(name)}`);
    notify(`Restarting ${name}.`);
  } catch (err) {
    notify(`Could not restart ${name}: ${err.message}`, true);
  }
  await refresh();
}

async function logout(name) {
  if (!(await confirmWith(`Log ${name} out? The phone's linked device is removed and pairing is needed again.`, "Log out"))) return;
  try {
    const res = await api("DELETE", `/instance/logout/${enc(name)}`);
    state.code.delete(name);
    notify(`${name}: ${messageOf(res)}.`);
  } catch (err) {
    notify(`Could not log ${name} out: ${err.message}`, true);
  }
  await refresh();
}

async function remove(name) {
  if (!(await confirmWith(`Delete ${name}? Its session, settings and credentials are removed for good.`, "Delete"))) return;
  try {
    await api("DELETE", `/instance/delete/${enc(name)}`);
    state.code.delete(name);
    notify(`Deleted ${name}.`);
  } catch (err) {
    notify(`Could not delete ${name}: ${err.message}`, true);
  }
  await refresh();
}

// --- the detail panel -----------------------------------------------------------------------

function openDetail(name) {
  if (state.selected !== name) {
    state.selected = name;
    state.tail = [];
    renderTail();
    ui.detailName.textContent = name;
    loadWebhook(name);
    loadDeliveries(name);
    loadSettings(name);
    loadProxy(name);
    ui.transportsNote.textContent = "";
    loadTransports(name);
    state.chats = [];
    state.chat = null;
    ui.sendNumber.value = "";
    ui.sendNote.textContent = "";
    renderConversation([]);
    loadChats(name);
  }
  ui.detail.hidden = false;
  renderPairing();
}

function closeDetail() {
  state.selected = null;
  ui.detail.hidden = true;
}

function renderPairing() {
  const name = state.selected;
  const row = state.rows.get(name);
  if (!row) return;
  const lc = row.lifecycle || {};
  const ext = stateOf(row);
  const code = state.code.get(name);
  const pairing = lc.state === "awaiting_pairing" || lc.state === "connecting";
  if (ext === "open") {
    ui.pairState.textContent = `Connected${row.ownerJid ? ` as ${row.ownerJid}` : ""}.`;
  } else if (pairing) {
    ui.pairState.textContent = lc.message || "Waiting for the phone.";
  } else {
    ui.pairState.textContent = `${lc.message || "Not connected."} Use Connect to show a QR code.`;
  }
  const showQr = pairing && code && code.base64;
  ui.qrBox.hidden = !showQr;
  if (showQr && ui.qr.getAttribute("src") !== code.base64) {
    ui.qr.src = code.base64;
    ui.qr.alt = `QR code ${code.count || ""} to link ${name}`.replace("  ", " ");
  }
  const showPair = pairing && code && code.pairingCode;
  ui.pairCodeBox.hidden = !showPair;
  if (showPair) ui.pairCode.textContent = code.pairingCode;
  ui.pairForm.hidden = ext === "open";
}

async function pollCode(name) {
  // Only while the live stream is down: the QR rotates, and connect returns the current one
  // without side effects while the instance is pairing.
  const row = state.rows.get(name);
  if (!row || !row.lifecycle || row.lifecycle.state !== "awaiting_pairing") return;
  try {
    const res = await api("GET", `/instance/connect/${enc(name)}`);
    if (res.base64 || res.pairingCode) { state.code.set(name, res); renderPairing(); }
  } catch { /* the next poll tries again */ }
}

function addToTail(env) {
  state.tail.unshift(env);
  state.tail.length = Math.min(state.tail.length, TAIL_MAX);
  renderTail();
}

function summary(env) {
  const d = env.data || {};
  if (env.event === "connection.update") return `${d.state} (${d.statusReason})${d.lifecycle ? ` ${d.lifecycle.state}` : ""}`;
  if (env.event === "qrcode.updated") return d.qrcode ? `QR ${d.qrcode.pairingCode ? "and pairing code " : ""}updated` : (d.message || "");
  const text = messageText(d) || JSON.stringify(d);
  return text && text.length > 120 ? `${text.slice(0, 120)}…` : (text || "");
}

function renderTail() {
  // Each event: a one-line summary that opens to the whole envelope, pretty-printed.
  ui.events.replaceChildren(...state.tail.map((env) =>
    el("li", {}, el("details", {},
      el("summary", {}, el("time", { datetime: env.date_time, text: (env.date_time || "").slice(11, 23) }),
         " ", el("strong", { text: env.event }), " ", summary(env)),
      el("pre", { text: JSON.stringify(env, null, 2) })))));
  ui.eventsEmpty.hidden = state.tail.length > 0;
}

// --- chats and messages (findChats, findMessages, sendText) ---------------------------------

function messageText(record) {
  const m = (record && record.message) || {};
  if (typeof m.conversation === "string") return m.conversation;
  if (m.extendedTextMessage && m.extendedTextMessage.text) return m.extendedTextMessage.text;
  for (const kind of ["imageMessage", "videoMessage", "documentMessage"]) {
    if (m[kind]) return m[kind].caption || m[kind].fileName || `[${kind.replace("Message", "")}]`;
  }
  if (m.audioMessage) return "[voice note]";
  if (m.stickerMessage) return "[sticker]";
  if (m.locationMessage) return `[location] ${m.locationMessage.name || ""}`.trim();
  if (m.reactionMessage) return `reacted ${m.reactionMessage.text || ""}`.trim();
  return record && record.messageType ? `[${record.messageType}]` : "";
}

function chatName(chat) {
  const number = (chat.remoteJid || "").split("@")[0];
  return chat.pushName ? `${chat.pushName} (${number})` : number;
}

async function loadChats(name) {
  try {
    const chats = (await api("POST", `/chat/findChats/${enc(name)}`, {})) || [];
    if (name !== state.selected) return;
    state.chats = chats;
    renderChats();
    if (state.chat) await loadMessages(name, state.chat);
  } catch (err) {
    if (name === state.selected) ui.chatsNote.textContent = `Could not load the chats: ${err.message}`;
  }
}

function chatsSoon() {
  clearTimeout(state.chatTimer);
  state.chatTimer = setTimeout(() => { if (state.selected) loadChats(state.selected); }, 200);
}

function renderChats() {
  const term = ui.chatSearch.value.trim().toLowerCase();
  const shown = state.chats.filter((c) => !term || chatName(c).toLowerCase().includes(term));
  ui.chatList.replaceChildren(...shown.map((chat) => {
    const unread = chat.unreadCount > 0 ? el("span", { class: "unread", "aria-label": `${chat.unreadCount} unread`, text: String(chat.unreadCount) }) : "";
    return el("li", { "data-jid": chat.remoteJid },
      el("button", { type: "button", "aria-current": chat.remoteJid === state.chat ? "true" : "false",
                     onclick: () => openChat(chat.remoteJid) },
        el("span", { class: "who", text: chatName(chat) }), unread,
        el("span", { class: "last", text: chat.lastMessage ? `${chat.lastMessage.key && chat.lastMessage.key.fromMe ? "You: " : ""}${messageText(chat.lastMessage)}` : "" })));
  }));
  ui.chatsNote.textContent = state.chats.length ? (shown.length ? "" : "No chat matches.")
    : "No chats yet: messages this instance sends or receives appear here.";
}

async function openChat(jid) {
  state.chat = jid;
  ui.sendNumber.value = jid.endsWith("@s.whatsapp.net") ? jid.split("@")[0] : jid;
  renderChats();
  await loadMessages(state.selected, jid);
}

async function loadMessages(name, jid) {
  try {
    const res = await api("POST", `/chat/findMessages/${enc(name)}`,
      { where: { key: { remoteJid: jid } }, page: 1, offset: 100 });
    if (name !== state.selected || jid !== state.chat) return;
    const records = ((res && res.messages && res.messages.records) || []).slice()
      .sort((a, b) => Number(a.messageTimestamp) - Number(b.messageTimestamp));
    const chat = state.chats.find((c) => c.remoteJid === jid);
    ui.chatWith.textContent = chat ? chatName(chat) : jid.split("@")[0];
    renderConversation(records);
  } catch (err) {
    ui.chatWith.textContent = `Could not load the messages: ${err.message}`;
  }
}

function receipt(record) {
  const updates = record.MessageUpdate || [];
  const last = updates.length ? updates[updates.length - 1].status : record.status;
  const marks = { READ: "read", PLAYED: "read", DELIVERY_ACK: "delivered", SERVER_ACK: "sent", PENDING: "sending" };
  return marks[last] || "";
}

function renderConversation(records) {
  if (!state.chat) ui.chatWith.textContent = "Pick a chat, or write to a number below.";
  ui.messages.replaceChildren(...records.map((r) => {
    const mine = !!(r.key && r.key.fromMe);
    const when = r.messageTimestamp ? new Date(Number(r.messageTimestamp) * 1000).toLocaleTimeString() : "";
    const meta = [when, mine ? receipt(r) : (r.pushName || "")].filter(Boolean).join(" · ");
    const thumb = r.message && r.message.imageMessage && r.message.imageMessage.jpegThumbnail;
    return el("li", { class: mine ? "mine" : "theirs", "data-id": r.key && r.key.id },
      thumb ? el("img", { src: `data:image/jpeg;base64,${thumb}`, alt: "image preview" }) : "",
      r.message && r.message.documentMessage ? el("span", { class: "file", text: `📄 ${r.message.documentMessage.fileName || "document"}` }) : "",
      el("span", { class: "text", text: messageText(r) }),
      el("span", { class: "meta", text: meta }));
  }));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function mediatypeOf(file) {
  const kind = (file.type || "").split("/")[0];
  return ["image", "video", "audio"].includes(kind) ? kind : "document";
}

async function sendFile(name, number, caption, file) {
  // sendMedia's multipart form: the file as the `file` part, the other fields beside it.
  const form = new FormData();
  form.append("number", number);
  form.append("mediatype", mediatypeOf(file));
  form.append("fileName", file.name);
  if (caption) form.append("caption", caption);
  form.append("file", file, file.name);
  const res = await fetch(`/message/sendMedia/${enc(name)}`, { method: "POST", headers: { apikey: state.key }, body: form });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error(messageOf(data, res.status));
    err.status = res.status;
    throw err;
  }
  return data;
}

async function sendText(event) {
  event.preventDefault();
  const name = state.selected;
  const number = ui.sendNumber.value.trim();
  const text = ui.sendText.value;
  const file = ui.sendFile.files && ui.sendFile.files[0];
  if (!number || (!text.trim() && !file)) {
    ui.sendNote.textContent = "Write a message or choose a file.";
    return;
  }
  ui.sendNote.textContent = "Sending…";
  try {
    const sent = file ? await sendFile(name, number, text.trim(), file)
      : await api("POST", `/message/sendText/${enc(name)}`, { number, text });
    ui.sendText.value = "";
    ui.sendFile.value = "";
    ui.sendNote.textContent = "Sent.";
    state.chat = (sent && sent.key && sent.key.remoteJid) || state.chat;
    await loadChats(name);
  } catch (err) {
    ui.sendNote.textContent = `Not sent: ${err.message}`;
  }
}

// --- proxy and event transports -------------------------------------------------------------

const TRANSPORTS = ["websocket", "rabbitmq", "nats"];

async function loadProxy(name) {
  ui.proxyNote.textContent = "";
  try {
    const p = (await api("GET", `/proxy/find/${enc(name)}`)) || {};
    ui.pxEnabled.checked = !!p.enabled;
    ui.pxProtocol.value = p.protocol || "http";
    ui.pxHost.value = p.host || "";
    ui.pxPort.value = p.port || "";
    ui.pxUser.value = p.username || "";
    ui.pxPass.value = p.password || "";
    if (!p.enabled) ui.proxyNote.textContent = "No proxy: the instance connects directly.";
  } catch (err) {
    ui.proxyNote.textContent = `Could not load the proxy: ${err.message}`;
  }
}

async function saveProxy(event) {
  event.preventDefault();
  const body = { enabled: ui.pxEnabled.checked, protocol: ui.pxProtocol.value, host: ui.pxHost.value.trim(),
                 port: ui.pxPort.value.trim(), username: ui.pxUser.value, password: ui.pxPass.value };
  try {
    await api("POST", `/proxy/set/${enc(state.selected)}`, body);
    ui.proxyNote.textContent = body.enabled
      ? "Proxy saved: the instance's next connection and its media downloads go through it."
      : "Proxy removed.";
  } catch (err) {
    ui.proxyNote.textContent = `Not saved: ${err.message}`;
  }
}

async function loadTransports(name) {
  state.transports = {};
  for (const t of TRANSPORTS) {
    const box = ui.transportsForm.elements[t];
    try {
      const found = await api("GET", `/${t}/find/${enc(name)}`);
      box.checked = !!(found && found.enabled);
    } catch (err) {
      box.checked = false;
    }
    state.transports[t] = box.checked;
  }
}

async function saveTransports(event) {
  // Only the transports whose box changed are sent; the server says when one is off (400).
  event.preventDefault();
  const said = [];
  for (const t of TRANSPORTS) {
    const enabled = ui.transportsForm.elements[t].checked;
    if (enabled === state.transports[t]) continue;
    try {
      await api("POST", `/${t}/set/${enc(state.selected)}`, { [t]: { enabled, events: [] } });
      state.transports[t] = enabled;
      said.push(`${t} ${enabled ? "on" : "off"}`);
    } catch (err) {
      ui.transportsForm.elements[t].checked = state.transports[t];
      said.push(`${t} not saved: ${err.message}`);
    }
  }
  ui.transportsNote.textContent = said.length ? `${said.join("; ")}.` : "Nothing changed.";
}

// --- webhook, deliveries, settings ----------------------------------------------------------

function buildEventChecks() {
  ui.whEvents.replaceChildren(...state.events.map((name) =>
    el("label", {}, el("input", { type: "checkbox", name: "event", value: name }), name)));
}

async function loadWebhook(name) {
  ui.webhookNote.textContent = "";
  ui.webhookForm.hidden = false;
  try {
    const wh = (await api("GET", `/webhook/find/${enc(name)}`)) || {};
    ui.whUrl.value = wh.url || "";
    ui.whEnabled.checked = !!wh.enabled;
    ui.whByEvents.checked = !!wh.webhookByEvents;
    ui.whBase64.checked = !!wh.webhookBase64;
    const on = new Set(wh.events || []);
    for (const box of ui.whEvents.querySelectorAll("input")) box.checked = on.has(box.value);
    if (!wh.url) ui.webhookNote.textContent = "No webhook is set for this instance.";
  } catch (err) {
    if (err.status === 404 && /Cannot GET/.test(err.message)) {
      ui.webhookForm.hidden = true;
      ui.webhookNote.textContent = "This server has no webhook configuration routes.";
    } else {
      ui.webhookNote.textContent = `Could not load the webhook: ${err.message}`;
    }
  }
}

async function saveWebhook(event) {
  event.preventDefault();
  const name = state.selected;
  const events = [...ui.whEvents.querySelectorAll("input:checked")].map((b) => b.value);
  const body = { webhook: { enabled: ui.whEnabled.checked, url: ui.whUrl.value.trim(),
    byEvents: ui.whByEvents.checked, base64: ui.whBase64.checked, events } };
  try {
    await api("POST", `/webhook/set/${enc(name)}`, body);
    ui.webhookNote.textContent = "Webhook saved.";
    loadDeliveries(name);
  } catch (err) {
    ui.webhookNote.textContent = `Not saved: ${err.message}`;
  }
}

async function loadDeliveries(name) {
  const tbody = ui.deliveries.tBodies[0];
  try {
    const items = (await api("GET", `/events/deliveries/${enc(name)}?limit=20`)) || [];
    if (name !== state.selected) return;
    tbody.replaceChildren(...items.map((d) => el("tr", { "data-status": d.status },
      el("td", { text: (d.createdAt || "").replace("T", " ").slice(0, 19) }),
      el("td", { text: `${d.event} → ${d.sink}` }),
      el("td", { text: d.status || "" }),
      el("td", { text: String(d.attempts ?? "") }),
      el("td", { text: [d.lastCode, d.lastError].filter((x) => x !== null && x !== undefined).join(" ") }))));
    ui.deliveries.hidden = items.length === 0;
    ui.deliveriesNote.textContent = items.length ? "" : "No deliveries yet (a webhook must be set).";
  } catch (err) {
    ui.deliveries.hidden = true;
    ui.deliveriesNote.textContent = err.status === 404 && /Cannot GET/.test(err.message)
      ? "This server does not list webhook deliveries."
      : `Could not load the deliveries: ${err.message}`;
  }
}

function deliveriesSoon() {
  clearTimeout(state.deliveriesTimer);
  state.deliveriesTimer = setTimeout(() => { if (state.selected) loadDeliveries(state.selected); }, 1500);
}

async function loadSettings(name) {
  try {
    const s = await api("GET", `/settings/find/${enc(name)}`);
    for (const input of ui.settingsForm.querySelectorAll("input[type=checkbox]")) input.checked = !!s[input.name];
    ui.msgCall.value = s.msgCall || "";
  } catch (err) {
    notify(`Could not load the settings of ${name}: ${err.message}`, true);
  }
}

async function saveSettings(event) {
  event.preventDefault();
  const body = { msgCall: ui.msgCall.value };
  for (const input of ui.settingsForm.querySelectorAll("input[type=checkbox]")) body[input.name] = input.checked;
  try {
    await api("POST", `/settings/set/${enc(state.selected)}`, body);
    notify(`Settings of ${state.selected} saved.`);
  } catch (err) {
    notify(`Settings not saved: ${err.message}`, true);
  }
}

// --- the live stream (Server-Sent Events read through fetch, so the key stays a header) ------

function setLive(on) {
  state.live = on;
  ui.live.textContent = on ? "live" : "reconnecting…";
  ui.live.className = `live ${on ? "on" : "off"}`;
  schedulePoll();
}

function stopStream() {
  if (state.streamAbort) state.streamAbort.abort();
  state.streamAbort = null;
}

async function startStream() {
  stopStream();
  const abort = new AbortController();
  state.streamAbort = abort;
  while (!abort.signal.aborted) {
    try {
      const res = await fetch("/manager/api/events", { headers: { apikey: state.key }, signal: abort.signal });
      if (res.status === 401) { signOut(); return; }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      setLive(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) onEvent(JSON.parse(data));
        }
      }
    } catch (err) {
      if (abort.signal.aborted) return;
    }
    setLive(false);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function settled(name) {
  // The instance opened: what was said while it connected no longer holds.
  if (ui.notice.textContent === `Connecting ${name}…`) notify("");
  if (ui.tokenName.textContent === name) ui.tokenBox.hidden = true;
}

function onEvent(env) {
  const name = env.instance;
  if (env.event === "qrcode.updated" && env.data && env.data.qrcode) {
    state.code.set(name, { base64: env.data.qrcode.base64, pairingCode: env.data.qrcode.pairingCode,
                           count: (state.code.get(name)?.count || 0) + 1 });
  }
  if (env.event === "connection.update" && env.data) {
    const row = state.rows.get(name);
    if (row) {
      row.connectionStatus = env.data.state === "refused" ? "close" : env.data.state;
      if (env.data.lifecycle) row.lifecycle = env.data.lifecycle;
      if (env.data.state !== "connecting") state.code.delete(name);
      if (env.data.state === "open") settled(name);
      render();
    }
  }
  if (name === state.selected) {
    addToTail(env);
    renderPairing();
    deliveriesSoon();
    if (/^(messages\.|send\.message|chats\.)/.test(env.event)) chatsSoon();
  }
  refreshSoon();
}

// --- start ----------------------------------------------------------------------------------

function bind() {
  const ids = ["login", "login-form", "apikey", "login-error", "dashboard", "session", "whoami",
    "live", "signout", "notice", "create-form", "new-name", "token-box", "token-name",
    "token-value", "token-close", "instances", "empty", "detail", "detail-name", "detail-close",
    "pair-state", "qr-box", "qr", "pair-code-box", "pair-code", "pair-form", "pair-number",
    "events", "events-empty", "webhook-note", "webhook-form", "wh-url", "wh-enabled",
    "wh-by-events", "wh-base64", "wh-events", "deliveries", "deliveries-note", "settings-form",
    "msg-call", "confirm", "confirm-text", "confirm-ok", "confirm-cancel", "chat-search",
    "chat-list", "chats-note", "chat-with", "messages", "send-form", "send-number", "send-text",
    "send-note", "instance-filter", "send-file", "proxy-note", "proxy-form", "px-enabled",
    "px-protocol", "px-host", "px-port", "px-user", "px-pass", "transports-form", "transports-note"];
  for (const id of ids) ui[id.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase())] = document.getElementById(id);
  ui.loginForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    ui.loginError.textContent = "";
    try {
      await signIn(ui.apikey.value.trim());
    } catch (err) {
      state.key = null;
      ui.loginError.textContent = err.status === 401 ? "That key was not accepted." : `Could not sign in: ${err.message}`;
    }
  });
  ui.signout.addEventListener("click", signOut);
  ui.createForm.addEventListener("submit", create);
  ui.tokenClose.addEventListener("click", () => { ui.tokenBox.hidden = true; });
  ui.detailClose.addEventListener("click", closeDetail);
  ui.pairForm.addEventListener("submit", (event) => {
    event.preventDefault();
    connect(state.selected, ui.pairNumber.value.trim() || undefined);
  });
  ui.webhookForm.addEventListener("submit", saveWebhook);
  ui.settingsForm.addEventListener("submit", saveSettings);
  ui.sendForm.addEventListener("submit", sendText);
  ui.chatSearch.addEventListener("input", renderChats);
  ui.instanceFilter.addEventListener("input", render);
  ui.proxyForm.addEventListener("submit", saveProxy);
  ui.transportsForm.addEventListener("submit", saveTransports);
}

document.addEventListener("DOMContentLoaded", () => {
  bind();
  const saved = sessionStorage.getItem(KEY_SLOT);
  if (saved) signIn(saved).catch(() => signOut());
  else ui.apikey.focus();
});
