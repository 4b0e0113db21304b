// The gateway's page: stream through EventSource (resuming by itself after a drop), history, search.
// Everything that came from the server is put in the page as text; only <mark> is ever made an element.
"use strict";
const $ = (id) => document.getElementById(id);
const keyInput = $("key");
keyInput.value = localStorage.getItem("gateway.apiKey") || "";
keyInput.addEventListener("change", () => { localStorage.setItem("gateway.apiKey", keyInput.value.trim()); refresh(); });

function headers() {
  const key = keyInput.value.trim();
  return key ? { "X-API-Key": key } : {};
}

function setStatus(text) { $("status").textContent = text; }

// --- streaming ---------------------------------------------------------------------------
let source = null;

function stopStream(message) {
  if (source) { source.close(); source = null; }
  $("send").disabled = false;
  $("stop").disabled = true;
  if (message) setStatus(message);
}

$("ask").addEventListener("submit", (event) => {
  event.preventDefault();
  const prompt = $("prompt").value.trim();
  if (!prompt) return;
  stopStream();
  const answer = $("answer");
  answer.textContent = "";
  answer.classList.remove("error");
  let text = "";
  const params = new URLSearchParams({ prompt, stream_format: "sse", on_disconnect: "detach" });
  const key = keyInput.value.trim();
  if (key) params.set("api_key", key);
  source = new EventSource("/stream?" + params.toString());
  $("send").disabled = true;
  $("stop").disabled = false;
  setStatus("streaming…");
  source.onopen = () => { if (text) setStatus("resumed"); };
  source.onmessage = (message) => {
    if (message.data === "[DONE]") { stopStream("done"); refresh(); return; }
    const chunk = JSON.parse(message.data);
    if (chunk.error) {
      answer.classList.add("error");
      answer.textContent = text + "\n[" + chunk.error.type + "] " + chunk.error.message;
      return;
    }
    const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
    if (!delta || !delta.content) return;
    // The event id is "<record>:<offset after this chunk>": a replayed piece is never added twice.
    const offset = Number(String(message.lastEventId).split(":").pop());
    const chars = Array.from(text);
    if (Number.isFinite(offset) && offset <= chars.length) return;
    text += delta.content;
    answer.textContent = text;
  };
  source.onerror = () => {
    if (source && source.readyState === EventSource.CONNECTING) { setStatus("connection lost, resuming…"); return; }
    stopStream(text ? "stopped" : "the gateway refused the request (is the API key right?)");
  };
});

$("stop").addEventListener("click", () => stopStream("stopped"));

// --- history and search ------------------------------------------------------------------
let view = { mode: "history", offset: 0, query: "" };
const LIMIT = 10;

function unescapeHtml(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&amp;/g, "&");
}

// The snippet is HTML with <mark> around matches. It is rebuilt from text nodes and <mark>
// elements only, so no stored text can ever become markup or script.
function snippetNode(snippet) {
  const container = document.createElement("div");
  container.className = "text";
  const parts = String(snippet).split(/(<mark>|<\/mark>)/);
  let marked = false;
  for (const part of parts) {
    if (part === "<mark>") { marked = true; continue; }
    if (part === "</mark>") { marked = false; continue; }
    if (!part) continue;
    const node = document.createTextNode(unescapeHtml(part));
    if (marked) { const mark = document.createElement("mark"); mark.appendChild(node); container.appendChild(mark); }
    else container.appendChild(node);
  }
  return container;
}

function itemNode(item) {
  const li = document.createElement("li");
  const prompt = document.createElement("div");
  prompt.className = "prompt";
  prompt.textContent = item.prompt;
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = `${item.status} · ${new Date(item.created_at).toLocaleString()} · ${item.model}`;
  li.append(prompt, meta);
  if (item.snippet !== undefined) li.appendChild(snippetNode(item.snippet));
  else {
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = item.response.length > 280 ? item.response.slice(0, 280) + "…" : item.response;
    li.appendChild(text);
  }
  return li;
}

async function refresh() {
  const params = new URLSearchParams({ limit: String(LIMIT), offset: String(view.offset) });
  let url = "/history?";
  if (view.mode === "search") { url = "/search?"; params.set("query", view.query); }
  const items = $("items");
  try {
    const response = await fetch(url + params.toString(), { headers: headers() });
    const body = await response.json();
    if (!response.ok) { items.replaceChildren(); $("page").textContent = body.error ? body.error.message : "error"; return; }
    items.replaceChildren(...body.items.map(itemNode));
    const last = Math.min(view.offset + body.items.length, body.total);
    const more = body.total_is_lower_bound ? "+" : "";
    $("page").textContent = body.total ? `${view.offset + 1}–${last} of ${body.total}${more}` : "nothing yet";
    $("newer").disabled = view.offset === 0;
    $("older").disabled = view.offset + LIMIT >= body.total;
  } catch (error) {
    $("page").textContent = "the gateway cannot be reached";
  }
}

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = $("query").value.trim();
  view = query ? { mode: "search", offset: 0, query } : { mode: "history", offset: 0, query: "" };
  refresh();
});
$("clear").addEventListener("click", () => { $("query").value = ""; view = { mode: "history", offset: 0, query: "" }; refresh(); });
$("newer").addEventListener("click", () => { view.offset = Math.max(0, view.offset - LIMIT); refresh(); });
$("older").addEventListener("click", () => { view.offset += LIMIT; refresh(); });
refresh();
