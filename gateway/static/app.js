// The gateway's page: stream through EventSource (resuming by itself after a drop), history, search,
// usage (a chart of tokens per day, drawn as SVG) and an export of the history.
// Everything that came from the server is put in the page as text; only <mark> is ever made an element.
"use strict";
const $ = (id) => document.getElementById(id);
const keyInput = $("key");
keyInput.value = localStorage.getItem("gateway.apiKey") || "";
keyInput.addEventListener("change", () => { localStorage.setItem("gateway.apiKey", keyInput.value.trim()); refresh(); usage(); });

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
    if (message.data === "[DONE]") { stopStream("done"); refresh(); usage(); return; }
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

// --- usage and export --------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";

function svgNode(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// One bar a day: input tokens below, output tokens above, the day and its figures as a tooltip.
function drawChart(days) {
  const width = 600, height = 136, gap = 2;
  const top = Math.max(1, ...days.map((day) => day.total_tokens));
  const slot = width / Math.max(days.length, 1);
  const scale = (tokens) => (tokens / top) * height;
  const nodes = [];
  days.forEach((day, index) => {
    const x = index * slot + gap / 2, w = Math.max(slot - gap, 1);
    const input = scale(day.prompt_tokens), output = scale(day.completion_tokens);
    const bar = svgNode("g", { "data-day": day.day, "data-tokens": day.total_tokens });
    bar.append(
      svgNode("title", {}, `${day.day}: ${day.requests} requests, ${day.prompt_tokens} tokens in, ${day.completion_tokens} out`),
      svgNode("rect", { class: "prompt", x, y: height - input, width: w, height: input }),
      svgNode("rect", { class: "completion", x, y: height - input - output, width: w, height: output }),
    );
    nodes.push(bar);
  });
  $("chart").replaceChildren(...nodes);
  $("first-day").textContent = days.length ? days[0].day : "";
  $("last-day").textContent = days.length ? days[days.length - 1].day : "";
}

const ms = (value) => (value === null ? "–" : `${Math.round(value)} ms`);

async function usage() {
  try {
    const response = await fetch("/usage?group_by=day", { headers: headers() });
    const body = await response.json();
    if (!response.ok) { $("chart").replaceChildren(); $("totals").textContent = body.error ? body.error.message : "error"; return; }
    drawChart(body.items);
    const total = body.total;
    const cost = total.cost === null ? "" : ` · $${total.cost.toFixed(4)}`;
    $("totals").textContent = `${total.requests} requests · ${total.total_tokens} tokens (${total.prompt_tokens} in, ` +
      `${total.completion_tokens} out) · ${total.errors} errors · first token p50 ${ms(total.ttft_ms.p50)}, ` +
      `p95 ${ms(total.ttft_ms.p95)}${cost}`;
  } catch (error) {
    $("totals").textContent = "the gateway cannot be reached";
  }
}

// The export needs the key in a header, so it is fetched, then handed to the browser as a file.
$("export").addEventListener("click", async () => {
  const button = $("export");
  button.disabled = true;
  try {
    const response = await fetch("/history/export", { headers: headers() });
    if (!response.ok) { const body = await response.json(); $("totals").textContent = body.error.message; return; }
    const named = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = named ? named[1] : "history.jsonl";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (error) {
    $("totals").textContent = "the export failed: the gateway cannot be reached";
  } finally {
    button.disabled = false;
  }
});

refresh();
usage();
