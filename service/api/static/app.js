// The translation page: fills the language pickers from GET /models, sends POST /translate with
// n-best, scores and attention, and shows the translation, its alternatives and (attention.js) the
// attention of the chosen sentence; the Files tab (files.js) translates documents. ES modules loaded by the
// browser as they are: no build step.

import { AttentionView } from "./attention.js";
import { FilesPanel } from "./files.js";

const KEY_STORAGE = "rnn-translator.api-key";
const GLOSSARY_STORAGE = "rnn-translator.glossary";
const DETECT = "auto"; // source_lang that asks the server to detect the language
// Running text in the style of the shipped models' training data (Multi30k image captions).
const EXAMPLES = {
  de: "Ein Mann fährt Fahrrad. Eine Frau liest ein Buch im Park.\nZwei Kinder spielen Fußball im Schnee.",
  en: "A man is riding a bike. A woman is reading a book in the park.\nTwo children are playing soccer in the snow.",
  fr: "Un homme fait du vélo. Une femme lit un livre dans le parc.\nDeux enfants jouent au football dans la neige.",
};

const $ = (id) => document.getElementById(id);
const elements = {
  form: $("translate-form"), source: $("source-lang"), target: $("target-lang"), swap: $("swap"),
  text: $("source-text"), output: $("output"), nBest: $("n-best"), keyField: $("api-key-field"),
  key: $("api-key"), button: $("translate-button"), timing: $("timing"), message: $("message"),
  details: $("details"), alternatives: $("alternatives"), alternativesCaption: $("alternatives-caption"),
  modelField: $("model-field"), model: $("model"), glossary: $("glossary"), glossaryCount: $("glossary-count"),
  example: $("example"), sentenceField: $("sentence-field"), sentence: $("sentence"), attentionNote: $("attention-note"),
  confidence: $("confidence"),
};
// Below this confidence (the calibrated probability that a sentence is acceptable) a sentence is marked,
// unless the server applied its own min_confidence (then its low_confidence flag decides).
const LOW_CONFIDENCE = 0.5;
const files = new FilesPanel({
  dropZone: $("drop-zone"), input: $("file-input"), name: $("file-name"), formats: $("file-formats"),
  progress: $("file-progress"), bar: $("file-bar"), status: $("file-status"), cancel: $("file-cancel"),
  download: $("file-download"), button: $("file-button"), request, showMessage: (text) => showMessage(text),
  choice: () => {
    const chosen = { source_lang: elements.source.value, target_lang: elements.target.value };
    if (!elements.modelField.hidden) chosen.model = elements.model.value;
    const glossary = glossaryEntries(elements.glossary.value); // the editor's terms apply to documents too
    if (glossary.length) chosen.glossary = JSON.stringify(glossary);
    return chosen;
  },
});
const tabs = { text: $("text-tab"), files: $("files-tab") };
const attentionView = new AttentionView({
  flow: $("flow"), heatmap: $("heatmap"), readout: $("readout"), replayButton: $("replay"),
});

const state = {
  pairs: [],          // [{source, target, pivot, models}] the server translates (pivot: the language in between)
  models: [],         // every loaded model: {name, source_lang, target_lang, ...} from GET /models
  sentences: [],      // per-sentence details of the last answer
  chosen: 0,          // index of the sentence shown in the attention views
  pivot: null,        // the language the last answer was translated through, if any
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

/** fetch() a path of the service with the API key; throws ApiError with the server's message unless 2xx. */
async function request(path, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  const key = elements.key.value.trim();
  if (key) headers["X-API-Key"] = key;
  let response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch {
    throw new ApiError(0, "The server cannot be reached. Is it still running?");
  }
  if (!response.ok) {
    let data = null;
    try {
      data = await response.json();
    } catch {
      // not JSON: the status line below says what happened
    }
    const detail = data && (data.detail || data.error);
    throw new ApiError(response.status, typeof detail === "string" ? detail : `HTTP ${response.status}`);
  }
  return response;
}

/** GET (no body) or POST a JSON body to the service; its JSON answer. */
async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  return (await request(path, init)).json();
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
  if (entries.length) entries.unshift([DETECT, "Detect language"]);
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
  state.pairs = answer.directions.map((direction) => ({
    source: direction.source_lang, target: direction.target_lang, pivot: direction.pivot ?? null,
    models: direction.models,
  }));
  state.models = answer.models;
  fillSources();
  fillLanguageTargets();
  elements.button.disabled = state.pairs.length === 0;
  showMessage(state.pairs.length ? "" : "The server has no models loaded.");
  return state.pairs.length > 0;
}

/** The sentences of one translated text, each with its own n-best list and attention. */
function sentencesOf(result, sourceText) {
  if (Array.isArray(result.sentences) && result.sentences.length) {
    return result.sentences.map((sentence) => ({
      source: sentence.source,
      text: sentence.text,
      score: sentence.score,
      nBest: sentence.n_best ?? [{ text: sentence.text, score: sentence.score }],
      alignment: sentence.alignment,
      ...confidenceOf(sentence),
    }));
  }
  return [{
    source: sourceText.trim(), text: result.text, score: result.score,
    nBest: result.n_best ?? [{ text: result.text, score: result.score }], alignment: result.alignment,
    ...confidenceOf(result),
  }];
}

/** A translation's confidence (null for an uncalibrated model), its reasons, and whether it is low. */
function confidenceOf(entry) {
  const confidence = entry.confidence ?? null;
  const low = entry.low_confidence ?? (confidence !== null && confidence < LOW_CONFIDENCE);
  return { confidence, reasons: entry.confidence_reasons ?? [], low };
}

function percent(probability) {
  return `${Math.round(100 * probability)} %`;
}

/** The note under the translation: its confidence, and the reasons of the sentences marked as low. */
function renderConfidence(result) {
  const note = elements.confidence;
  const low = state.sentences.filter((sentence) => sentence.low);
  note.hidden = result.confidence == null;
  note.classList.toggle("low", low.length > 0);
  if (note.hidden) return;
  if (!low.length) {
    note.textContent = `Confidence ${percent(result.confidence)}`;
  } else if (state.sentences.length === 1) {
    note.textContent = `Low confidence (${percent(low[0].confidence)})` +
      (low[0].reasons.length ? `: ${low[0].reasons.join(", ")}` : "");
  } else {
    const described = low.map((sentence) => `“${truncate(sentence.text, 40)}” ${percent(sentence.confidence)}` +
      (sentence.reasons.length ? ` (${sentence.reasons.join(", ")})` : ""));
    note.textContent = `Confidence ${percent(result.confidence)}; low for ${low.length} of ` +
      `${state.sentences.length} sentences: ${described.join("; ")}`;
  }
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
  if (!elements.modelField.hidden) body.model = elements.model.value;
  const glossary = glossaryEntries(elements.glossary.value);
  if (glossary.length) body.glossary = glossary;
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

/**
 * The glossary editor's lines as the API's entries: "source = target" (or source<TAB>target) translates a term,
 * a term alone keeps it as it is; blank lines are skipped. The server checks the entries (422 with the reason).
 */
function glossaryEntries(text) {
  const entries = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const separator = line.includes("\t") ? "\t" : "=";
    const at = line.indexOf(separator);
    const source = (at < 0 ? line : line.slice(0, at)).trim();
    const target = at < 0 ? "" : line.slice(at + 1).trim();
    entries.push(target ? { source, target } : { source, keep: true });
  }
  return entries;
}

function showGlossaryCount() {
  const count = glossaryEntries(elements.glossary.value).length;
  elements.glossaryCount.textContent = count ? `(${count} term${count === 1 ? "" : "s"})` : "";
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
  elements.timing.textContent = `${Math.round(elapsedMs)} ms · ${answer.model}`;
  showDetected(answer.detected_language);
  state.pivot = answer.pivot ?? null;
  elements.timing.title = `The request took ${elapsedMs.toFixed(0)} ms in your browser (model ${answer.model}, ` +
    `version ${answer.model_version}).`;
  renderOutput(result);
  renderConfidence(result);
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
  if (state.sentences.length < 2 && !state.sentences.some((sentence) => sentence.low)) return;
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
    if (sentence.low) {
      span.classList.add("low-confidence");
      span.title = `Low confidence (${percent(sentence.confidence)})` +
        (sentence.reasons.length ? `: ${sentence.reasons.join(", ")}` : "") + ". Click for its alternatives.";
      span.dataset.reasons = sentence.reasons.join(", ");
    }
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
  elements.sentence.value = String(index);
  for (const span of elements.output.querySelectorAll(".sentence")) {
    span.classList.toggle("chosen", Number(span.dataset.index) === index);
  }
  const sentence = state.sentences[index];
  renderAlternatives(sentence);
  elements.attentionNote.hidden = !state.pivot;
  elements.attentionNote.textContent = state.pivot
    ? `Translated through ${languageName(state.pivot)}: the attention shown goes from the source to the result ` +
      `through the ${languageName(state.pivot)} translation (both steps' attention multiplied).` : "";
  attentionView.show(sentence.alignment ?? null);
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

/** A model picker for a pair several models translate (e.g. de-en and its fast tier de-en-fast). */
function fillModels() {
  const source = elements.source.value;
  const target = elements.target.value;
  const pair = state.pairs.find((p) => p.source === source && p.target === target && !p.pivot);
  const names = state.models.filter((m) => m.source_lang === source && m.target_lang === target).map((m) => m.name);
  const shown = Boolean(pair) && names.length > 1;
  elements.modelField.hidden = !shown;
  if (!shown) return;
  const fallback = pair.models[0]; // the model that answers when a request names only the languages
  const entries = [fallback, ...names.filter((name) => name !== fallback).sort()]
    .map((name) => [name, modelLabel(name, name === fallback)]);
  fillSelect(elements.model, entries, fallback);
}

/** "de-en (default)", "de-en-fast (greedy search)": a model made for greedy search (a distilled fast tier)
 * says so, as its default_search in GET /models is what a request without beam_size gets. */
function modelLabel(name, isDefault) {
  const model = state.models.find((m) => m.name === name);
  const notes = [isDefault && "default", model?.default_search?.beam_size === 1 && "greedy search"].filter(Boolean);
  return notes.length ? `${name} (${notes.join(", ")})` : name;
}

/** The targets of the chosen source, then the models of the chosen pair. */
function fillLanguageTargets() {
  fillTargets();
  fillModels();
}

/** Show the Text or the Files tab; the languages, model and API key are shared. */
function showTab(mode) {
  elements.form.dataset.mode = mode;
  for (const [name, tab] of Object.entries(tabs)) {
    tab.setAttribute("aria-selected", String(name === mode));
    tab.tabIndex = name === mode ? 0 : -1;
  }
  elements.details.hidden = mode !== "text" || !state.sentences.length;
}

function swapLanguages() {
  const source = elements.source.value;
  const target = elements.target.value;
  elements.source.value = target;
  fillTargets();
  elements.target.value = source;
  fillLanguageTargets();
  const translated = state.sentences.map((sentence) => sentence.text).join(" ");
  if (translated) elements.text.value = elements.output.textContent || translated;
}

function start() {
  elements.key.value = sessionStorage.getItem(KEY_STORAGE) ?? "";
  elements.glossary.value = localStorage.getItem(GLOSSARY_STORAGE) ?? "";
  elements.glossary.addEventListener("input", () => {
    localStorage.setItem(GLOSSARY_STORAGE, elements.glossary.value);
    showGlossaryCount();
  });
  showGlossaryCount();
  // The server writes "required" here when it has an API key: ask for it before the first API call.
  const keyRequired = document.querySelector('meta[name="translator-api-key"]')?.content === "required";
  elements.keyField.hidden = !keyRequired;
  elements.form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (elements.form.dataset.mode === "text") translate();
  });
  for (const [mode, tab] of Object.entries(tabs)) {
    tab.addEventListener("click", () => showTab(mode));
    tab.addEventListener("keydown", (event) => { // arrow keys move between the tabs, as in any tab list
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      const next = mode === "text" ? "files" : "text";
      showTab(next);
      tabs[next].focus();
    });
  }
  // The formats come from the LibreTranslate-compatible settings, which need no key.
  fetch("/frontend/settings").then((answer) => answer.ok ? answer.json() : null)
    .then((settings) => files.showFormats(settings?.supportedFilesFormat)).catch(() => {});
  elements.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (!elements.button.disabled) elements.form.requestSubmit();
    }
  });
  elements.source.addEventListener("change", fillLanguageTargets);
  elements.target.addEventListener("change", fillLanguageTargets);
  elements.swap.addEventListener("click", swapLanguages);
  elements.example.addEventListener("click", () => {
    const source = elements.source.value;
    elements.text.value = EXAMPLES[source] ?? EXAMPLES.de;
    elements.text.focus();
  });
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
  if (keyRequired && !elements.key.value) {
    showMessage("This server needs an API key: enter it to load the languages.");
  } else {
    loadLanguages();
  }
}

start();
