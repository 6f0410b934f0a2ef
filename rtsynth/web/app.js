// rtsynth control page: every change goes to the engine as an OSC address over the WebSocket
// ({address, args}); the server answers with {address, value} (replies, /error, /meters).
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  map: null, view: null, cursor: null, status: null, octave: 0, held: new Set(),
  lastSent: 0, pending: null, dragging: false, sentZ: null,
};
const SEND_EVERY_MS = 40; // cursor moves reach the engine at most this often; its ramp smooths between
const IDW_POWER = 3;
let socket = null;

// --- the connection -------------------------------------------------------------------------

function connect() {
  socket = new WebSocket(`ws://${location.host}/ws`);
  socket.onopen = () => setConnection(true);
  socket.onclose = () => { setConnection(false); setTimeout(connect, 1000); };
  socket.onmessage = (event) => receive(JSON.parse(event.data));
}

function setConnection(on) {
  $("connection").textContent = on ? "connected" : "disconnected";
  $("connection").className = on ? "on" : "off";
}

function send(address, ...args) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ address, args }));
}

function sendOp(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

const handlers = {
  "/map/reply": (map) => { state.map = map; fillMap(map); },
  "/meters": (status) => showMeters(status),
  "/error": ([address, message]) => log(`${address || "message"}: ${message}`, true),
  "/preset/save/reply": ([name]) => { log(`saved preset ${name}`); sendOp({ op: "map" }); },
  "/preset/load/reply": ([name]) => log(`loaded preset ${name}`),
  "/preset/audio/reply": ([name]) => { log(`preset ${name} made from the recording`); send("/preset/load", name); sendOp({ op: "map" }); },
  "/model/load/reply": ([name]) => log(`loading model ${name}…`),
  "/learn/reply": ([d, i]) => log(`move a MIDI controller for ${d} ${i}`),
};

function receive(message) {
  const handler = handlers[message.address];
  if (handler) handler(message.value);
}

function log(text, error = false) {
  const item = document.createElement("li");
  item.textContent = text;
  if (error) item.className = "error";
  $("log").prepend(item);
  while ($("log").children.length > 30) $("log").lastChild.remove();
}

// --- the timbre map -------------------------------------------------------------------------

function fillMap(map) {
  $("map-note").textContent = `${map.model}: fitted on ${map.fitted_on}` +
    (map.cloud.length ? `, ${map.cloud.length} training notes` : ", no training-note cloud in this bundle");
  fillSelect($("bundles"), map.bundles.includes(map.model) ? map.bundles : [map.model, ...map.bundles], map.model);
  fillSelect($("presets"), map.presets);
  const xy = map.points.map((p) => p.xy).concat(map.cloud.map((n) => [n[0], n[1]]));
  const xs = xy.map((p) => p[0]), ys = xy.map((p) => p[1]);
  const pad = 0.12, canvas = $("map");
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min(canvas.width / ((x1 - x0) * (1 + 2 * pad) || 1), canvas.height / ((y1 - y0) * (1 + 2 * pad) || 1));
  state.view = { scale, cx: (x0 + x1) / 2, cy: (y0 + y1) / 2 };
  if (!state.cursor) state.cursor = toScreen(map.points[0].xy);
  drawMap();
}

function fillSelect(select, names, chosen) {
  const keep = chosen ?? select.value;
  select.replaceChildren(...names.map((n) => new Option(n, n)));
  if (names.includes(keep)) select.value = keep;
}

function toScreen([x, y]) {
  const { scale, cx, cy } = state.view, c = $("map");
  return [c.width / 2 + (x - cx) * scale, c.height / 2 - (y - cy) * scale];
}

function project(z) {
  const { mean, axes } = state.map.projection;
  return axes.map((axis) => axis.reduce((sum, a, i) => sum + a * (z[i] - mean[i]), 0));
}

function colour(index, alpha) {
  return `hsla(${(index * 137.5) % 360}, 65%, 60%, ${alpha})`;
}

function drawMap() {
  const canvas = $("map"), g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  if (!state.map) return;
  for (const [x, y, t] of state.map.cloud) {
    const [sx, sy] = toScreen([x, y]);
    g.fillStyle = colour(t, 0.25);
    g.fillRect(sx - 1.5, sy - 1.5, 3, 3);
  }
  g.font = "12px system-ui";
  for (const p of state.map.points) {
    const [sx, sy] = toScreen(p.xy);
    g.fillStyle = p.kind === "cluster" ? colour(p.index, 1) : "#5ec8e0";
    g.beginPath();
    if (p.kind === "cluster") g.arc(sx, sy, 6, 0, 2 * Math.PI);
    else { g.moveTo(sx, sy - 8); g.lineTo(sx + 7, sy); g.lineTo(sx, sy + 8); g.lineTo(sx - 7, sy); }
    g.fill();
    g.fillStyle = "#ddd";
    g.fillText(p.name, sx + 9, sy + 4);
  }
  if (state.status && state.status.timbre_z) { // where the engine is (OSC and MIDI move it too)
    const [ex, ey] = toScreen(project(state.status.timbre_z));
    g.strokeStyle = "#fff"; g.lineWidth = 1;
    g.beginPath(); g.moveTo(ex - 6, ey); g.lineTo(ex + 6, ey); g.moveTo(ex, ey - 6); g.lineTo(ex, ey + 6); g.stroke();
  }
  const [cx, cy] = state.cursor;
  g.strokeStyle = "#f0a030"; g.lineWidth = 3;
  g.beginPath(); g.arc(cx, cy, 11, 0, 2 * Math.PI); g.stroke();
}

// The timbre latent under the cursor: inverse-distance weights over every point on the map,
// so it is exactly a point's latent on that point and moves smoothly in between.
function latentAt([sx, sy]) {
  const points = state.map.points;
  const weights = points.map((p) => {
    const [px, py] = toScreen(p.xy);
    return 1 / Math.pow(Math.hypot(px - sx, py - sy) + 1e-3, IDW_POWER);
  });
  const total = weights.reduce((a, b) => a + b, 0);
  return points[0].z.map((_, i) => points.reduce((sum, p, k) => sum + (weights[k] / total) * p.z[i], 0));
}

// The engine's timbre point is a class mean plus offsets: the nearest class and the way from it.
function sendTimbre(z) {
  const clusters = state.map.points.filter((p) => p.kind === "cluster");
  const dist = (p) => p.z.reduce((sum, v, i) => sum + (v - z[i]) ** 2, 0);
  const nearest = clusters.reduce((best, p) => (dist(p) < dist(best) ? p : best));
  state.sentZ = z;
  const offsets = z.map((v, i) => Math.max(-10, Math.min(10, v - nearest.z[i])));
  sendOp({ bundle: [{ address: "/timbre", args: [nearest.index] }, { address: "/latent/timbre", args: offsets }] });
}

function moveCursor(event) {
  const rect = $("map").getBoundingClientRect(), canvas = $("map");
  state.cursor = [(event.clientX - rect.left) * canvas.width / rect.width, (event.clientY - rect.top) * canvas.height / rect.height];
  drawMap();
  const now = performance.now();
  if (now - state.lastSent >= SEND_EVERY_MS) {
    state.lastSent = now;
    sendTimbre(latentAt(state.cursor));
  } else if (!state.pending) {
    state.pending = setTimeout(() => { state.pending = null; state.lastSent = performance.now(); sendTimbre(latentAt(state.cursor)); }, SEND_EVERY_MS);
  }
}

function setupMap() {
  const canvas = $("map");
  canvas.addEventListener("pointerdown", (e) => {
    if (!state.map) return;
    canvas.setPointerCapture(e.pointerId);
    state.dragging = true;
    moveCursor(e);
  });
  canvas.addEventListener("pointerup", () => { state.dragging = false; });
  canvas.addEventListener("pointermove", (e) => { if (canvas.hasPointerCapture(e.pointerId)) moveCursor(e); });
  canvas.addEventListener("dragover", (e) => { e.preventDefault(); canvas.classList.add("drop"); });
  canvas.addEventListener("dragleave", () => canvas.classList.remove("drop"));
  canvas.addEventListener("drop", (e) => {
    e.preventDefault(); canvas.classList.remove("drop");
    if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (e) => { if (e.target.files.length) upload(e.target.files[0]); });
}

async function upload(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  const name = file.name.replace(/\.[^.]*$/, "").replace(/[^\w-]+/g, "_").replace(/^[._]+/, "") || "recording";
  log(`encoding ${file.name}…`);
  sendOp({ op: "audio", name, data: btoa(binary) });
}

// --- the keyboard -----------------------------------------------------------------------------

const FIRST_NOTE = 48, LAST_NOTE = 84;
const COMPUTER_KEYS = "awsedftgyhujk"; // C to C, black keys on the row above
const isBlack = (n) => [1, 3, 6, 8, 10].includes(n % 12);

function buildKeyboard() {
  const board = $("keyboard"), whiteWidth = 100 / [...Array(LAST_NOTE - FIRST_NOTE + 1).keys()].filter((i) => !isBlack(FIRST_NOTE + i)).length;
  let white = 0;
  for (let note = FIRST_NOTE; note <= LAST_NOTE; note++) {
    const key = document.createElement("div");
    key.className = `key ${isBlack(note) ? "black" : "white"}`;
    key.dataset.note = note;
    key.style.left = `${(isBlack(note) ? white - 0.3 : white) * whiteWidth}%`;
    key.style.width = `${(isBlack(note) ? 0.6 : 1) * whiteWidth}%`;
    if (note % 12 === 0) key.innerHTML = `<span>C${note / 12 - 1}</span>`;
    if (!isBlack(note)) white++;
    key.addEventListener("pointerdown", (e) => {
      key.setPointerCapture(e.pointerId);
      const rect = key.getBoundingClientRect(); // nearer the front of the key: louder
      noteOn(note, Math.max(1, Math.min(127, Math.round(30 + 97 * (e.clientY - rect.top) / rect.height))));
    });
    key.addEventListener("pointerup", () => noteOff(note));
    key.addEventListener("pointercancel", () => noteOff(note));
    board.append(key);
  }
  document.addEventListener("keydown", (e) => {
    if (e.repeat || e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === "z") state.octave = Math.max(-2, state.octave - 1);
    if (e.key === "x") state.octave = Math.min(2, state.octave + 1);
    const i = COMPUTER_KEYS.indexOf(e.key);
    if (i >= 0) noteOn(60 + 12 * state.octave + i, Number($("velocity").value));
  });
  document.addEventListener("keyup", (e) => {
    const i = COMPUTER_KEYS.indexOf(e.key);
    if (i >= 0) noteOff(60 + 12 * state.octave + i);
  });
  $("velocity").addEventListener("input", () => { $("velocity-value").textContent = $("velocity").value; });
  $("vibrato").addEventListener("input", () => {
    $("vibrato-value").textContent = `${$("vibrato").value} cents`;
    send("/vibrato", Number($("vibrato").value));
  });
}

function keyOf(note) { return document.querySelector(`.key[data-note="${note}"]`); }

function noteOn(note, velocity) {
  if (state.held.has(note)) return;
  state.held.add(note);
  keyOf(note)?.classList.add("held");
  send("/note/on", note, velocity);
}

function noteOff(note) {
  if (!state.held.delete(note)) return;
  keyOf(note)?.classList.remove("held");
  send("/note/off", note);
}

// --- meters, presets, models, MIDI-learn --------------------------------------------------------

function showMeters(s) {
  const modelChanged = state.status && state.status.model !== s.model;
  state.status = s;
  if (modelChanged) sendOp({ op: "map" });
  const db = s.peak > 0 ? 20 * Math.log10(s.peak) : -Infinity;
  $("level").style.width = `${Math.max(0, Math.min(100, (db + 60) / 60 * 100))}%`;
  $("level-db").textContent = Number.isFinite(db) ? `${db.toFixed(1)} dB` : "–∞ dB";
  $("voices").textContent = `${s.voices} / ${s.voices_max}`;
  $("voices-bar").style.width = `${100 * s.voices / s.voices_max}%`;
  $("xruns").textContent = s.xruns;
  $("late").textContent = s.underruns;
  $("cpu").textContent = `${Math.round(100 * s.cpu)} %`;
  $("p50").textContent = s.latency_p50_ms == null ? "–" : s.latency_p50_ms.toFixed(1);
  $("p99").textContent = s.latency_p99_ms == null ? "–" : s.latency_p99_ms.toFixed(1);
  $("model").textContent = `${s.model} · ${s.provider} · ${s.timbre}` + (s.model_error ? ` · ${s.model_error}` : "");
  const sounding = new Set(s.held_notes);
  document.querySelectorAll(".key").forEach((k) => k.classList.toggle("sounding", sounding.has(Number(k.dataset.note))));
  drawLatency(s.latency_counts, s.latency_edges_ms);
  followEngine(s.timbre_z);
  const cc = s.midi_cc;
  $("cc-map").textContent = cc == null ? "no MIDI input (serve --midi-in)" :
    (cc.learning ? `waiting for a controller for ${cc.learning}; ` : "") +
    (Object.entries(cc.map).map(([n, t]) => `CC${n} → ${t}`).join(", ") || "no CC mapped");
  drawMap();
}

// Moved by something else (OSC, MIDI, a preset): the ring goes to where the engine now is.
function followEngine(z) {
  if (state.dragging || state.pending || !state.map || !z) return;
  if (state.sentZ && z.every((v, i) => Math.abs(v - state.sentZ[i]) < 1e-3)) return;
  state.sentZ = z;
  state.cursor = toScreen(project(z));
}

function drawLatency(counts, edges) {
  const canvas = $("latency"), g = canvas.getContext("2d"), most = Math.max(1, ...counts);
  const w = canvas.width / counts.length, h = canvas.height - 14;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.font = "9px system-ui";
  counts.forEach((c, i) => {
    g.fillStyle = "#5ec8e0";
    g.fillRect(i * w + 1, h - h * c / most, w - 2, h * c / most);
    if (i % 3 === 0) { g.fillStyle = "#8a90a0"; g.fillText(edges[i] ?? "", i * w + 1, canvas.height - 2); }
  });
}

function setupControls() {
  $("load-model").addEventListener("click", () => send("/model/load", $("bundles").value));
  $("preset-load").addEventListener("click", () => { if ($("presets").value) send("/preset/load", $("presets").value); });
  $("preset-save").addEventListener("click", () => send("/preset/save", $("preset-name").value.trim()));
  $("learn").addEventListener("click", () => sendOp({ op: "learn", descriptor: $("learn-descriptor").value, index: Number($("learn-index").value) }));
}

window.rtsynth = { state, send, toScreen }; // for scripted clients and the browser tests
setupMap();
buildKeyboard();
setupControls();
connect();
