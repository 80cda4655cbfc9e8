// The attention of one translated sentence, drawn twice in SVG: links between the source and target
// pieces (flow) and the target x source matrix (heatmap), with one highlight shared by both views.
// Hover, tap or keyboard focus lights up a piece; a click pins it; "replay" steps through the target
// pieces in the order the decoder wrote them.

const SVG_NS = "http://www.w3.org/2000/svg";
const WORD_START = "\u2581"; // sentencepiece's word-boundary mark
const END_OF_SENTENCE = "</s>";
const CELL = 30;
const LEGEND_WEIGHTS = [0, 0.05, 0.1, 0.25, 0.5, 0.75, 1];
const LEGEND_STEP = 34;
const REPLAY_STEP_MS = 650;

/** Display text of a sentencepiece piece, and whether it starts a word. */
function pieceInfo(piece) {
  if (piece === END_OF_SENTENCE) return { label: "</s>", wordStart: true, special: true };
  const wordStart = piece.startsWith(WORD_START);
  return { label: wordStart ? piece.slice(1) || "␣" : piece, wordStart, special: false };
}

/** The pieces' labels and the weights of an API alignment ({source_pieces, target_pieces, weights}). */
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

/** Empty an SVG view (keeping its <title>) and shrink it to nothing until it is drawn again. */
function clear(svgElement) {
  for (const child of [...svgElement.children]) if (child.tagName !== "title") child.remove();
  for (const name of ["viewBox", "width", "height"]) svgElement.removeAttribute(name);
  svgElement.setAttribute("width", 0);
  svgElement.setAttribute("height", 0);
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
  const unitX = left + LEGEND_WEIGHTS.length * LEGEND_STEP + 2;
  const unit = svg("text", { x: unitX, y: y + 8, class: "legend-caption unit" }, legend);
  unit.textContent = "%";
}

/** Both views of one sentence's attention, and the highlight they share. */
export class AttentionView {
  /** `flow` and `heatmap` are <svg> elements, `readout` a line of text, `replayButton` a <button>. */
  constructor({ flow, heatmap, readout, replayButton }) {
    Object.assign(this, { flow, heatmap, readout, replayButton });
    this.attention = null;
    this.pinned = null;      // {row, col} kept highlighted after a click or tap
    this.replayTimer = null;
    for (const view of [flow, heatmap]) this.wire(view);
    replayButton.addEventListener("click", () => (this.replayTimer ? this.stopReplay() : this.replay()));
  }

  /** Draw the attention of `alignment` (null: nothing to draw). */
  show(alignment) {
    this.stopReplay();
    this.attention = alignment ? prepareAttention(alignment) : null;
    this.pinned = null;
    drawFlow(this.flow, this.attention);
    drawHeatmap(this.heatmap, this.attention);
    this.replayButton.disabled = !this.attention;
    this.highlight(null);
  }

  /** Light up the target pieces one after another, as the decoder wrote them. */
  replay() {
    if (!this.attention) return;
    this.stopReplay();
    let row = 0;
    const step = () => {
      if (row >= this.attention.target.length) {
        this.stopReplay();
        return;
      }
      this.highlight({ row, col: null }, row);
      row += 1;
    };
    this.replayButton.setAttribute("aria-pressed", "true");
    this.replayButton.textContent = "Stop";
    step();
    this.replayTimer = setInterval(step, REPLAY_STEP_MS);
  }

  stopReplay() {
    if (this.replayTimer === null) return;
    clearInterval(this.replayTimer);
    this.replayTimer = null;
    this.replayButton.setAttribute("aria-pressed", "false");
    this.replayButton.textContent = "Replay decoding";
    this.highlight(this.pinned);
  }

  /**
   * Light up one target piece (row), one source piece (col), or one cell (both); null clears.
   * During a replay, `writtenUpTo` is the last target piece written so far: later ones are dimmed.
   */
  highlight(focus, writtenUpTo = null) {
    const attention = this.attention;
    const row = focus?.row ?? null;
    const col = focus?.col ?? null;
    const active = row !== null || col !== null;
    for (const view of [this.flow, this.heatmap]) view.classList.toggle("focused", active);
    if (!attention) {
      this.readout.textContent = "\u00a0";
      return;
    }
    const weightOf = (targetIndex, sourceIndex) => attention.weights[targetIndex][sourceIndex];

    for (const token of this.flow.querySelectorAll(".token")) {
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
      token.classList.toggle("future", writtenUpTo !== null && tokenRow !== null && tokenRow > writtenUpTo);
    }
    for (const cell of this.heatmap.querySelectorAll(".cell")) {
      cell.classList.toggle("future", writtenUpTo !== null && Number(cell.dataset.row) > writtenUpTo);
    }
    for (const path of this.flow.querySelectorAll("path")) {
      const on = (row !== null && Number(path.dataset.row) === row) || (col !== null && Number(path.dataset.col) === col);
      path.classList.toggle("on", active && on);
    }

    const rowBand = this.heatmap.querySelector(".row-band");
    const columnBand = this.heatmap.querySelector(".column-band");
    if (rowBand) {
      const left = Number(this.heatmap.dataset.left);
      const top = Number(this.heatmap.dataset.top);
      rowBand.classList.toggle("shown", row !== null);
      columnBand.classList.toggle("shown", col !== null);
      if (row !== null) rowBand.setAttribute("y", top + row * CELL - 2);
      if (col !== null) columnBand.setAttribute("x", left + col * CELL - 2);
    }
    for (const label of this.heatmap.querySelectorAll(".row-labels text")) {
      label.classList.toggle("selected", Number(label.dataset.row) === row);
    }
    for (const label of this.heatmap.querySelectorAll(".column-labels text")) {
      label.classList.toggle("selected", Number(label.dataset.col) === col);
    }

    this.readout.textContent = describe(attention, row, col);
  }

  wire(view) {
    const follow = (focus) => {
      if (this.replayTimer === null) this.highlight(focus);
    };
    const pin = (focus) => {
      this.stopReplay();
      this.pinned = sameFocus(focus, this.pinned) ? null : focus;
      this.highlight(this.pinned ?? focus);
    };
    view.addEventListener("pointerover", (event) => {
      const focus = focusOf(event.target);
      if (focus) follow(focus);
    });
    view.addEventListener("pointerleave", () => follow(this.pinned));
    view.addEventListener("focusin", (event) => follow(focusOf(event.target)));
    view.addEventListener("focusout", () => follow(this.pinned));
    view.addEventListener("click", (event) => {
      const focus = focusOf(event.target);
      if (focus) pin(focus);
    });
    view.addEventListener("keydown", (event) => {
      const focus = focusOf(event.target);
      if (!focus || (event.key !== "Enter" && event.key !== " ")) return;
      event.preventDefault();
      pin(focus);
    });
  }
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
