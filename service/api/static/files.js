// The Files tab: a document chosen or dropped is sent to POST /documents/jobs with the page's languages (and
// model, and API key); the job is polled for its progress, can be cancelled, and once done its result is
// fetched (it is deleted on the server after that one download) and offered as a download link.

const POLL_MS = 400;

/** "report.en.docx" from a Content-Disposition header, or null. */
function attachmentName(header) {
  if (!header) return null;
  const encoded = /filename\*=utf-8''([^;]+)/i.exec(header);
  if (encoded) return decodeURIComponent(encoded[1]);
  const plain = /filename="([^"]+)"/i.exec(header);
  return plain ? plain[1] : null;
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

export class FilesPanel {
  /**
   * @param {object} parts the panel's elements (dropZone, input, name, formats, progress, bar, status, cancel,
   *   download, button) and the page's: request(path, init) that adds the API key and throws the server's
   *   message, and choice() that gives {source_lang, target_lang, model?}.
   */
  constructor(parts) {
    Object.assign(this, parts);
    this.file = null;
    this.job = null;
    this.url = null;
    this.input.addEventListener("change", () => this.choose(this.input.files[0] ?? null));
    for (const kind of ["dragenter", "dragover"]) {
      this.dropZone.addEventListener(kind, (event) => {
        event.preventDefault();
        this.dropZone.classList.add("dragging");
      });
    }
    for (const kind of ["dragleave", "drop"]) {
      this.dropZone.addEventListener(kind, () => this.dropZone.classList.remove("dragging"));
    }
    this.dropZone.addEventListener("drop", (event) => {
      event.preventDefault();
      this.choose(event.dataTransfer?.files?.[0] ?? null);
    });
    this.button.addEventListener("click", () => this.translate());
    this.cancel.addEventListener("click", () => this.stop());
  }

  /** The formats the server translates, from GET /frontend/settings (the LibreTranslate-compatible list). */
  showFormats(formats) {
    if (!formats?.length) return;
    this.formats.textContent = formats.join(" ");
    this.input.accept = formats.join(",");
  }

  choose(file) {
    this.file = file;
    this.name.textContent = file ? `${file.name} (${Math.max(1, Math.round(file.size / 1024))} KB)` : "";
    this.button.disabled = !file || Boolean(this.job);
    this.forgetResult();
    this.status.textContent = "";
    this.progress.hidden = true;
  }

  forgetResult() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
    this.download.hidden = true;
    this.download.removeAttribute("href");
  }

  async translate() {
    if (!this.file || this.job) return;
    this.showMessage("");
    this.forgetResult();
    const form = new FormData();
    for (const [name, value] of Object.entries(this.choice())) form.append(name, value);
    form.append("file", this.file, this.file.name); // after the fields, as the server reads them first
    this.setRunning(true);
    this.setProgress(0, "uploading…");
    try {
      const submitted = await (await this.request("/documents/jobs", { method: "POST", body: form })).json();
      this.job = submitted.id;
      await this.follow(submitted);
    } catch (error) {
      this.setProgress(0, "");
      this.progress.hidden = true;
      this.showMessage(error.message);
    } finally {
      this.job = null;
      this.setRunning(false);
    }
  }

  /** Poll the job until it has finished; then fetch its result or say why there is none. */
  async follow(job) {
    while (job.status === "queued" || job.status === "running") {
      const { done_sentences: done, total_sentences: total, fraction } = job.progress;
      this.setProgress(fraction, job.status === "queued" ? "waiting for its turn…"
        : total ? `${done} of ${plural(total, "sentence")}` : "reading…");
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await (await this.request(`/documents/jobs/${job.id}`)).json();
    }
    if (job.status === "cancelled") {
      this.setProgress(0, "cancelled");
      return;
    }
    if (job.status !== "done") throw new Error(job.error || "the translation failed");
    this.setProgress(1, "downloading…");
    const answer = await this.request(job.result_url);
    const blob = await answer.blob();
    this.url = URL.createObjectURL(blob);
    this.download.href = this.url;
    this.download.download = attachmentName(answer.headers.get("content-disposition")) || this.file.name;
    this.download.textContent = `Download ${this.download.download}`;
    this.download.hidden = false;
    this.setProgress(1, `done · ${plural(job.progress.total_sentences ?? 0, "sentence")}`);
    this.download.focus();
  }

  async stop() {
    if (!this.job) return;
    try {
      await this.request(`/documents/jobs/${this.job}`, { method: "DELETE" });
    } catch (error) {
      this.showMessage(error.message);
    }
  }

  setRunning(running) {
    this.button.disabled = running || !this.file;
    this.cancel.hidden = !running;
    this.input.disabled = running;
  }

  setProgress(fraction, text) {
    this.progress.hidden = false;
    this.bar.value = fraction;
    this.status.textContent = text;
  }
}
