// The translation page: fills the language pickers from GET /models, sends POST /translate with
// n-best, scores and attention, and draws the attention of one sentence twice: as links between the
// source and target pieces (flow) and as a target x source matrix (heatmap). No framework, no build step.

const SVG_NS = "http://www.w3.org/2000/svg";
const WORD_START = "\u2581"; // sentencepiece's word-boundary mark
const END_OF_SENTENCE = "</s>";
const KEY_STORAGE = "rnn-translator.api-key";
const DETECT = "auto"; // source_lang that asks the server to detect the language

const $ = (id) => document.getElementById(id);
const elements = {
  form: $("translate-form"), source: $("source-lang"), target: $("target-lang"), swap: $("swap"),
  text: $("source-text"), output: $("output"), nBest: $("n-best"), keyField: $("api-key-field"),
  key: $("api-key"), button: $("translate-button"), timing: $("timing"), message: $("message"),
  details: $("details"), alternatives: $("alternatives"), alternativesCaption: $("alternatives-caption"),
  sentenceField: $("sentence-field"), sentence: $("sentence"), flow: $("flow"), heatmap: $("heatmap"),
  readout: $("readout"), attentionNote: $("attention-note"),
};

const state = {
  pairs: [],          // [{source, target, pivot}] the server translates (pivot: the language in between)
  detect: false,      // whether the server detects the source language (source_lang "auto")
  sentences: [],      // per-sentence details of the last answer
  chosen: 0,          // index of the sentence shown in the attention views
  pinned: null,       // {row, col} kept highlighted after a click or tap
};

const languageNames = new Intl.DisplayNames(["en"], { type: "language" });

/** "German" for "de"; the code itself when the browser does not know it. */
function languageName(code) {
  try {
    return languageNames.of(code) || code;
  } catch {
    return code;
  }
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET (no body) or POST a JSON body to the service; throws ApiError with the server's message. */
async function api(path, body) {
  const headers = {};
  const key = elements.key.value.trim();
  if (key) headers["X-API-Key"] = key;
  const init = { headers };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "The server cannot be reached. Is it still running?");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // not JSON: the status line below says what happened
  }
  if (!response.ok) {
    const detail = data && (data.detail || data.error);
    throw new ApiError(response.status, typeof detail === "string" ? detail : `HTTP ${response.status}`);
  }
  return data;
}

function showMessage(text) {
  elements.message.textContent = text;
  elements.message.hidden = !text;
}

function option(value, label) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = label;
  return element;
}

/** Refill a <select>, keeping its current value when it is still offered, else `preferred`, else the first. */
function fillSelect(select, entries, preferred) {
  const previous = select.value;
  select.replaceChildren(...entries.map(([value, label]) => option(value, label)));
  const values = entries.map(([value]) => value);
  select.value = values.includes(previous) ? previous : values.includes(preferred) ? preferred : values[0] ?? "";
  select.disabled = entries.length === 0;
}

function byName(codes) {
  return [...new Set(codes)].map((code) => [code, languageName(code)]).sort((a, b) => a[1].localeCompare(b[1]));
}

function fillSources() {
  const entries = byName(state.pairs.map((pair) => pair.source));
  if (state.detect) entries.unshift([DETECT, "Detect language"]);
  fillSelect(elements.source, entries, "de");
}

/** The targets reachable from the chosen source (from any source when detecting), pivots marked. */
function fillTargets() {
  const source = elements.source.value;
  const pairs = state.pairs.filter((pair) => source === DETECT || pair.source === source);
  const direct = new Set(pairs.filter((pair) => !pair.pivot).map((pair) => pair.target));
  const entries = byName(pairs.map((pair) => pair.target)).map(([code, name]) => {
    const pivot = direct.has(code) ? null : pairs.find((pair) => pair.target === code).pivot;
    return [code, pivot && source !== DETECT ? `${name} (through ${languageName(pivot)})` : name];
  });
  fillSelect(elements.target, entries, "en");
  elements.swap.disabled = source === DETECT || !state.pairs.some(
    (pair) => pair.source === elements.target.value && pair.target === source);
}

/** Ask the server what it translates; show the API-key field when it wants one. */
async function loadLanguages() {
  let answer;
  try {
    answer = await api("/models");
  } catch (error) {
    if (error.status === 401) {
      elements.keyField.hidden = false;
      showMessage(elements.key.value ? "The API key was not accepted." : "This server needs an API key: enter it above.");
      elements.key.focus();
    } else {
      showMessage(`Could not load the languages: ${error.message}`);
    }
    return false;
  }
  // Servers that list every reachable direction (pivots included) also detect languages.
  const directions = Array.isArray(answer.directions) ? answer.directions : null;
  state.detect = directions !== null;
  state.pairs = (directions ?? answer.models).map((entry) => (
    { source: entry.source_lang, target: entry.target_lang, pivot: entry.pivot ?? null }));
  fillSources();
  fillTargets();
  elements.button.disabled = state.pairs.length === 0;
  showMessage(state.pairs.length ? "" : "The server has no models loaded.");
  return state.pairs.length > 0;
}

/** The sentences of one translated text, each with its own n-best list and attention. */
function sentencesOf(result, sourceText) {
  if (Array.isArray(result.sentences) && result.sentences.length) {
    return result.sentences.map((sentence) => ({
      source: sentence.source ?? sentence.source_text ?? "",
      text: sentence.text,
      score: sentence.score,
      nBest: sentence.n_best ?? [{ text: sentence.text, score: sentence.score }],
      alignment: sentence.alignment,
    }));
  }
  return [{
    source: sourceText.trim(), text: result.text, score: result.score,
    nBest: result.n_best ?? [{ text: result.text, score: result.score }], alignment: result.alignment,
  }];
}

async function translate() {
  const text = elements.text.value;
  if (!text.trim()) {
    showMessage("Type or paste some text to translate.");
    elements.text.focus();
    return;
  }
  if (!state.pairs.length && !(await loadLanguages())) return;
  const body = {
    text, source_lang: elements.source.value, target_lang: elements.target.value,
    n_best: Number(elements.nBest.value), return_scores: true, return_attention: true,
  };
  setBusy(true);
  const started = performance.now();
  try {
    const answer = await api("/translate", body);
    const elapsed = performance.now() - started;
    showMessage("");
    render(answer, text, elapsed);
  } catch (error) {
    if (error.status === 401) elements.keyField.hidden = false;
    showMessage(error.message);
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  elements.button.disabled = busy;
  elements.button.classList.toggle("busy", busy);
  elements.output.setAttribute("aria-busy", String(busy));
  if (busy) elements.timing.textContent = "translating…";
}

function render(answer, sourceText, elapsedMs) {
  const result = answer.translations[0];
  state.sentences = sentencesOf(result, sourceText);
  state.chosen = 0;
  state.pinned = null;
  elements.timing.textContent = `${Math.round(elapsedMs)} ms · ${answer.model}`;
  showDetected(answer.detected_language);
  state.pivot = answer.pivot ?? null;
  elements.timing.title = `The request took ${elapsedMs.toFixed(0)} ms in your browser (model ${answer.model}, ` +
    `version ${answer.model_version}).`;
  renderOutput(result);
  fillSelect(elements.sentence, state.sentences.map((sentence, index) =>
    [String(index), `${index + 1}. ${truncate(sentence.source || sentence.text, 48)}`]), "0");
  elements.sentenceField.hidden = state.sentences.length < 2;
  elements.details.hidden = false;
  showSentence(0);
}

/** "German (detected)" in the source picker after a translation with "Detect language". */
function showDetected(detected) {
  const detectOption = elements.source.querySelector(`option[value="${DETECT}"]`);
  if (!detectOption) return;
  detectOption.textContent = detected
    ? `${languageName(detected.language)} (detected)` : "Detect language";
  detectOption.title = detected ? `confidence ${(100 * detected.confidence).toFixed(0)} %` : "";
}

/** The translation; with several sentences, each one is a span that picks it for the attention views. */
function renderOutput(result) {
  elements.output.textContent = result.text;
  if (state.sentences.length < 2) return;
  // The text is the sentences' translations joined by the source's spaces and line breaks: find each in turn.
  const parts = [];
  let cursor = 0;
  for (const [index, sentence] of state.sentences.entries()) {
    const start = result.text.indexOf(sentence.text, cursor);
    if (start < 0) return; // not found in order: leave the plain text
    if (start > cursor) parts.push(result.text.slice(cursor, start));
    const span = document.createElement("span");
    span.className = "sentence";
    span.textContent = sentence.text;
    span.dataset.index = String(index);
    span.tabIndex = 0;
    span.title = "Show this sentence's alternatives and attention";
    parts.push(span);
    cursor = start + sentence.text.length;
  }
  parts.push(result.text.slice(cursor));
  elements.output.replaceChildren(...parts);
}

function truncate(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function showSentence(index) {
  state.chosen = index;
  state.pinned = null;
  elements.sentence.value = String(index);
  for (const span of elements.output.querySelectorAll(".sentence")) {
    span.classList.toggle("chosen", Number(span.dataset.index) === index);
  }
  const sentence = state.sentences[index];
  renderAlternatives(sentence);
  const attention = sentence.alignment ? prepareAttention(sentence.alignment) : null;
  state.attention = attention;
  elements.attentionNote.hidden = !state.pivot;
  elements.attentionNote.textContent = state.pivot
    ? `Translated through ${languageName(state.pivot)}: this is the attention of the second step, from the ` +
      `${languageName(state.pivot)} translation to the result.` : "";
  drawFlow(elements.flow, attention);
  drawHeatmap(elements.heatmap, attention);
  highlight(null);
}

function renderAlternatives(sentence) {
  const candidates = sentence.nBest.filter((candidate) => candidate.text !== undefined);
  const best = Math.max(...candidates.map((candidate) => candidate.score ?? -Infinity));
  elements.alternatives.replaceChildren(...candidates.map((candidate, rank) => {
    const item = document.createElement("li");
    item.className = rank === 0 ? "alternative best" : "alternative";
    const text = document.createElement("span");
    text.className = "alternative-text";
    text.textContent = candidate.text;
    const score = document.createElement("span");
    score.className = "score";
    const bar = document.createElement("span");
    bar.className = "score-bar";
    // exp(score difference): how likely this candidate is next to the best one, as a bar length
    const relative = candidate.score == null || !Number.isFinite(best) ? 0 : Math.exp(candidate.score - best);
    bar.style.setProperty("--fill", `${Math.max(2, relative * 100).toFixed(1)}%`);
    const value = document.createElement("span");
    value.className = "score-value";
    value.textContent = candidate.score == null ? "–" : candidate.score.toFixed(3);
    score.append(bar, value);
    item.append(text, score);
    return item;
  }));
  const which = state.sentences.length > 1 ? ` for sentence ${state.chosen + 1}` : "";
  elements.alternativesCaption.textContent = candidates.length > 1
    ? `Beam search's best candidates${which}, best first. Scores are log-probabilities after the length ` +
      "penalty; the bars compare each candidate's probability with the best one's."
    : "Ask for 3 or 5 alternatives to see the other candidates of the beam.";
}

/** Display text of a sentencepiece piece, and whether it starts a word. */
function pieceInfo(piece) {
  if (piece === END_OF_SENTENCE) return { label: "</s>", wordStart: true, special: true };
  const wordStart = piece.startsWith(WORD_START);
  return { label: wordStart ? piece.slice(1) || "␣" : piece, wordStart, special: false };
}

function prepareAttention(alignment) {
  return {
    source: alignment.source_pieces.map(pieceInfo),
    target: alignment.target_pieces.map(pieceInfo),
    weights: alignment.weights, // weights[target][source], each row sums to 1
  };
}

/** A new SVG element; `weight` becomes the CSS variable --weight (set through CSSOM, which the CSP allows). */
function svg(tag, attributes = {}, parent = null, weight = null) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (weight !== null) element.style.setProperty("--weight", weight.toFixed(4));
  if (parent) parent.append(element);
  return element;
}

let measureContext = null;

/** Width in pixels of `text` in the SVG label font. */
function textWidth(text, font) {
  measureContext ??= document.createElement("canvas").getContext("2d");
  measureContext.font = font;
  return measureContext.measureText(text).width;
}

function labelFont(element, size) {
  return `${size}px ${getComputedStyle(element).fontFamily}`;
}

/** Lay out pieces in a row: a word gap between words, none inside a word. Returns x centre and width of each. */
function layoutRow(pieces, font, padding, wordGap) {
  let x = 0;
  return pieces.map((piece, index) => {
    if (index > 0 && piece.wordStart) x += wordGap;
    const width = textWidth(piece.label, font) + 2 * padding;
    const box = { x, width, centre: x + width / 2 };
    x += width + 1;
    return box;
  });
}

function clear(svgElement) {
  for (const child of [...svgElement.children]) if (child.tagName !== "title") child.remove();
}

/** Source pieces on top, target pieces below, a curve per (target, source) pair as thick as its weight. */
function drawFlow(svgElement, attention) {
  clear(svgElement);
  if (!attention) return;
  const font = labelFont(svgElement, 15);
  const sourceBoxes = layoutRow(attention.source, font, 5, 8);
  const targetBoxes = layoutRow(attention.target, font, 5, 8);
  const rowWidth = (boxes) => (boxes.length ? boxes.at(-1).x + boxes.at(-1).width : 0);
  const width = Math.max(rowWidth(sourceBoxes), rowWidth(targetBoxes)) + 16;
  const shift = (boxes) => (width - rowWidth(boxes)) / 2;
  const tokenHeight = 26;
  const gap = 96;
  const height = 2 * tokenHeight + gap + 8;
  svgElement.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svgElement.setAttribute("width", width);
  svgElement.setAttribute("height", height);

  const links = svg("g", { class: "links" }, svgElement);
  const top = 4 + tokenHeight;
  const bottom = top + gap;
  attention.weights.forEach((row, targetIndex) => row.forEach((weight, sourceIndex) => {
    if (weight < 0.02) return;
    const x1 = shift(sourceBoxes) + sourceBoxes[sourceIndex].centre;
    const x2 = shift(targetBoxes) + targetBoxes[targetIndex].centre;
    const middle = (top + bottom) / 2;
    svg("path", {
      d: `M${x1},${top} C${x1},${middle} ${x2},${middle} ${x2},${bottom}`,
      "stroke-width": (0.5 + 7 * weight).toFixed(2), "data-row": targetIndex, "data-col": sourceIndex,
    }, links, weight);
  }));

  const tokens = (pieces, boxes, y, kind) => {
    const group = svg("g", { class: `tokens ${kind}` }, svgElement);
    pieces.forEach((piece, index) => {
      const x = shift(boxes) + boxes[index].x;
      const token = svg("g", {
        class: piece.special ? "token special" : "token", tabindex: 0, role: "button",
        [kind === "target" ? "data-row" : "data-col"]: index,
        "aria-label": `${kind} piece ${piece.label}`,
      }, group);
      svg("rect", { x, y, width: boxes[index].width, height: tokenHeight, rx: 5 }, token);
      const label = svg("text", { x: x + boxes[index].width / 2, y: y + tokenHeight / 2 }, token);
      label.textContent = piece.label;
    });
  };
  tokens(attention.source, sourceBoxes, 4, "source");
  tokens(attention.target, targetBoxes, bottom, "target");
}

const CELL = 30;
const LEGEND_WEIGHTS = [0, 0.05, 0.1, 0.25, 0.5, 0.75, 1];
const LEGEND_STEP = 34;

/** The attention matrix: a row per target piece, a column per source piece, darker = more weight. */
function drawHeatmap(svgElement, attention) {
  clear(svgElement);
  if (!attention) return;
  const font = labelFont(svgElement, 14);
  const rowLabelWidth = Math.max(...attention.target.map((piece) => textWidth(piece.label, font))) + 12;
  const columnLabelLength = Math.max(...attention.source.map((piece) => textWidth(piece.label, font))) + 10;
  const left = rowLabelWidth;
  const top = columnLabelLength * Math.SQRT1_2 + 14;
  const columns = attention.source.length;
  const rows = attention.target.length;
  const legendWidth = LEGEND_WEIGHTS.length * LEGEND_STEP + 24;
  const width = Math.max(left + columns * CELL + columnLabelLength * Math.SQRT1_2 + 4, left + legendWidth);
  const height = top + rows * CELL + 44;
  svgElement.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svgElement.setAttribute("width", width);
  svgElement.setAttribute("height", height);

  const cells = svg("g", { class: "cells" }, svgElement);
  attention.weights.forEach((row, targetIndex) => row.forEach((weight, sourceIndex) => {
    const x = left + sourceIndex * CELL;
    const y = top + targetIndex * CELL;
    const cell = svg("g", { class: "cell", "data-row": targetIndex, "data-col": sourceIndex }, cells);
    svg("rect", { x, y, width: CELL - 1, height: CELL - 1 }, cell, Math.sqrt(weight));
    const title = svg("title", {}, cell);
    title.textContent = `${attention.target[targetIndex].label} ← ${attention.source[sourceIndex].label}: ` +
      `${(100 * weight).toFixed(1)} %`;
    if (weight >= 0.2) {
      const value = svg("text", { x: x + (CELL - 1) / 2, y: y + (CELL - 1) / 2, class: "cell-value" }, cell);
      value.textContent = String(Math.round(100 * weight));
    }
  }));

  const rowLabels = svg("g", { class: "row-labels" }, svgElement);
  attention.target.forEach((piece, index) => {
    const label = svg("text", {
      x: left - 6, y: top + index * CELL + CELL / 2, "data-row": index,
      class: piece.special ? "special" : "",
    }, rowLabels);
    label.textContent = piece.label;
  });
  const columnLabels = svg("g", { class: "column-labels" }, svgElement);
  attention.source.forEach((piece, index) => {
    const x = left + index * CELL + CELL / 2;
    const label = svg("text", {
      x, y: top - 6, transform: `rotate(-45 ${x} ${top - 6})`, "data-col": index,
      class: piece.special ? "special" : "",
    }, columnLabels);
    label.textContent = piece.label;
  });
  svg("rect", { class: "band row-band", x: left - 2, width: columns * CELL + 3, height: CELL + 3 }, svgElement);
  svg("rect", { class: "band column-band", y: top - 2, width: CELL + 3, height: rows * CELL + 3 }, svgElement);
  drawLegend(svgElement, left, top + rows * CELL + 14);
  svgElement.dataset.left = left;
  svgElement.dataset.top = top;
}

/** A row of swatches saying which shade is which weight (the shade follows the square root of the weight). */
function drawLegend(svgElement, left, y) {
  const legend = svg("g", { class: "legend" }, svgElement);
  const caption = svg("text", { x: left - 6, y: y + 8, class: "legend-caption" }, legend);
  caption.textContent = "weight";
  LEGEND_WEIGHTS.forEach((weight, index) => {
    const x = left + index * LEGEND_STEP;
    svg("rect", { x, y, width: 32, height: 16, class: "swatch" }, legend, Math.sqrt(weight));
    const value = svg("text", { x: x + 16, y: y + 26, class: "legend-value" }, legend);
    value.textContent = `${Math.round(weight * 100)}`;
  });
  const unit = svg("text", { x: left + LEGEND_WEIGHTS.length * LEGEND_STEP + 2, y: y + 8, class: "legend-caption unit" }, legend);
  unit.textContent = "%";
}

/** Light up one target piece (row), one source piece (col), or one cell (both); null clears. */
function highlight(focus) {
  const attention = state.attention;
  const row = focus?.row ?? null;
  const col = focus?.col ?? null;
  const active = row !== null || col !== null;
  for (const view of [elements.flow, elements.heatmap]) view.classList.toggle("focused", active);
  if (!attention) {
    elements.readout.textContent = "\u00a0";
    return;
  }
  const weightOf = (targetIndex, sourceIndex) => attention.weights[targetIndex][sourceIndex];

  for (const token of elements.flow.querySelectorAll(".token")) {
    const tokenRow = token.dataset.row === undefined ? null : Number(token.dataset.row);
    const tokenCol = token.dataset.col === undefined ? null : Number(token.dataset.col);
    let strength = 0;
    if (tokenCol !== null && row !== null) strength = weightOf(row, tokenCol);
    if (tokenRow !== null && col !== null) strength = weightOf(tokenRow, col);
    const selected = (tokenRow !== null && tokenRow === row) || (tokenCol !== null && tokenCol === col);
    token.classList.toggle("selected", selected);
    token.classList.toggle("lit", !selected && strength >= 0.01);
    token.classList.toggle("strong", !selected && strength >= 0.3);
    token.style.setProperty("--strength", Math.sqrt(strength).toFixed(4));
  }
  for (const path of elements.flow.querySelectorAll("path")) {
    const on = (row !== null && Number(path.dataset.row) === row) || (col !== null && Number(path.dataset.col) === col);
    path.classList.toggle("on", active && on);
  }

  const rowBand = elements.heatmap.querySelector(".row-band");
  const columnBand = elements.heatmap.querySelector(".column-band");
  if (rowBand) {
    const left = Number(elements.heatmap.dataset.left);
    const top = Number(elements.heatmap.dataset.top);
    rowBand.classList.toggle("shown", row !== null);
    columnBand.classList.toggle("shown", col !== null);
    if (row !== null) rowBand.setAttribute("y", top + row * CELL - 2);
    if (col !== null) columnBand.setAttribute("x", left + col * CELL - 2);
  }
  for (const label of elements.heatmap.querySelectorAll(".row-labels text")) {
    label.classList.toggle("selected", Number(label.dataset.row) === row);
  }
  for (const label of elements.heatmap.querySelectorAll(".column-labels text")) {
    label.classList.toggle("selected", Number(label.dataset.col) === col);
  }

  elements.readout.textContent = describe(attention, row, col);
}

function percent(weight) {
  return `${Math.round(100 * weight)} %`;
}

/** One line saying what the highlighted piece attended to (or was attended by). */
function describe(attention, row, col) {
  const quote = (piece) => `“${piece.label}”`;
  if (row !== null && col !== null) {
    return `${quote(attention.target[row])} gave ${percent(attention.weights[row][col])} of its attention to ` +
      `${quote(attention.source[col])}.`;
  }
  const top = (entries) => entries.sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([piece, weight]) => `${quote(piece)} ${percent(weight)}`).join(", ");
  if (row !== null) {
    return `Writing ${quote(attention.target[row])}, the decoder looked at ` +
      `${top(attention.source.map((piece, index) => [piece, attention.weights[row][index]]))}.`;
  }
  if (col !== null) {
    return `${quote(attention.source[col])} was looked at most while writing ` +
      `${top(attention.target.map((piece, index) => [piece, attention.weights[index][col]]))}.`;
  }
  return "Hover or tap a word to see where the attention went.";
}

/** The {row, col} an event's element stands for, or null. */
function focusOf(element) {
  const carrier = element instanceof Element ? element.closest("[data-row], [data-col]") : null;
  if (!carrier) return null;
  const read = (name) => (carrier.dataset[name] === undefined ? null : Number(carrier.dataset[name]));
  return { row: read("row"), col: read("col") };
}

function sameFocus(a, b) {
  return a !== null && b !== null && a.row === b.row && a.col === b.col;
}

function wireAttentionView(view) {
  view.addEventListener("pointerover", (event) => {
    const focus = focusOf(event.target);
    if (focus) highlight(focus);
  });
  view.addEventListener("pointerleave", () => highlight(state.pinned));
  view.addEventListener("focusin", (event) => highlight(focusOf(event.target)));
  view.addEventListener("focusout", () => highlight(state.pinned));
  view.addEventListener("click", (event) => {
    const focus = focusOf(event.target);
    state.pinned = sameFocus(focus, state.pinned) ? null : focus;
    highlight(state.pinned ?? focus);
  });
  view.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    const focus = focusOf(event.target);
    if (!focus) return;
    event.preventDefault();
    state.pinned = sameFocus(focus, state.pinned) ? null : focus;
    highlight(state.pinned ?? focus);
  });
}

function swapLanguages() {
  const source = elements.source.value;
  const target = elements.target.value;
  elements.source.value = target;
  fillTargets();
  elements.target.value = source;
  fillTargets();
  const translated = state.sentences.map((sentence) => sentence.text).join(" ");
  if (translated) elements.text.value = elements.output.textContent || translated;
}

function start() {
  elements.key.value = sessionStorage.getItem(KEY_STORAGE) ?? "";
  // The server writes "required" here when it has an API key: ask for it before the first API call.
  const keyRequired = document.querySelector('meta[name="translator-api-key"]')?.content === "required";
  elements.keyField.hidden = !keyRequired;
  elements.form.addEventListener("submit", (event) => {
    event.preventDefault();
    translate();
  });
  elements.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (!elements.button.disabled) elements.form.requestSubmit();
    }
  });
  elements.source.addEventListener("change", fillTargets);
  elements.target.addEventListener("change", fillTargets);
  elements.swap.addEventListener("click", swapLanguages);
  elements.key.addEventListener("change", () => {
    sessionStorage.setItem(KEY_STORAGE, elements.key.value.trim());
    if (elements.key.value.trim()) loadLanguages();
  });
  elements.sentence.addEventListener("change", () => showSentence(Number(elements.sentence.value)));
  elements.output.addEventListener("click", (event) => {
    const span = event.target instanceof Element ? event.target.closest(".sentence") : null;
    if (span) showSentence(Number(span.dataset.index));
  });
  elements.output.addEventListener("keydown", (event) => {
    const span = event.target instanceof Element ? event.target.closest(".sentence") : null;
    if (span && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      showSentence(Number(span.dataset.index));
    }
  });
  wireAttentionView(elements.flow);
  wireAttentionView(elements.heatmap);
  if (keyRequired && !elements.key.value) {
    showMessage("This server needs an API key: enter it to load the languages.");
  } else {
    loadLanguages();
  }
}

start();
