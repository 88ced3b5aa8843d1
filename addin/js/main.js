// The taskpane's controller: boots in Outlook or in the playground, then runs the draft,
// stop, refine, insert and feedback flows. Rendering lives in ui.js, Office in office-host.js.

import * as api from "./api-client.js";
import { getToken, loadConfig } from "./auth.js";
import { copyDraft } from "./clipboard.js";
import { describe } from "./errors.js";
import { textToHtml, wordCount } from "./format.js";
import * as office from "./office-host.js";
import { SAMPLES, previewInsert, sampleItem } from "./playground.js";
import * as ui from "./ui.js";

const { els } = ui;
const OPTIONS_KEY = "replywise.options";
const DEFAULT_CONFIG = { local_mode: true, api_base: "/api/v1" };

const s = {
  config: DEFAULT_CONFIG, playground: false, item: null, phase: "loading",
  draft: null, rating: 0, controller: null, itemGeneration: 0,
  cooling: false, cooldownTimer: null, retry: null, before: null,
};
const announcer = new ui.Announcer(els.live);

function phase(next) {
  s.phase = next;
  ui.setPhase(next, { hasDraftId: Boolean(s.draft?.id), cooling: s.cooling });
}

// --- item -------------------------------------------------------------------------------

async function loadItem() {
  const generation = ++s.itemGeneration;
  abortStream();
  s.draft = null;
  ui.setDraftText("");
  ui.setNotice(null);
  announcer.reset();
  if (!s.cooling) ui.clearMessage();
  let item = null;
  try {
    item = s.playground ? sampleItem(els.sampleSelect.value) : await office.readItem();
  } catch (err) {
    ui.showMessage({ tone: "error", text: `Replywise couldn't read this message (${err?.message
      || err}). Select it again.` });
  }
  if (generation !== s.itemGeneration) return; // another ItemChanged overtook this one
  s.item = item;
  if (!item) {
    phase("empty");
    return;
  }
  ui.renderItem(item);
  phase("ready");
}

// --- drafting ---------------------------------------------------------------------------

function address(person) {
  const result = { email: person.email };
  if (person.name) result.name = person.name.slice(0, 200);
  return result;
}

function buildRequest(refine) {
  const chosen = ui.readOptions();
  const options = { tone: chosen.tone, length: chosen.length };
  if (chosen.language) options.language = chosen.language;
  if (chosen.instructions) options.instructions = chosen.instructions;
  if (refine) {
    options.refine = refine;
    options.previous_draft = els.draftText.value; // what the user sees, edits included
  }
  const item = s.item;
  const message = { subject: item.subject || "", to: item.to.map(address),
                    cc: item.cc.map(address) };
  if (item.from) message.from = address(item.from);
  if (item.date) message.date = item.date;
  if (item.internetMessageId) message.message_id = item.internetMessageId;
  // Lets the backend read the rest of the conversation from Graph when the tenant enables it.
  if (item.conversationId && !s.playground) message.conversation_id = item.conversationId;
  if (item.bodyHtml) message.body_html = item.bodyHtml;
  else message.body_text = item.bodyText || "";
  return { message, options, surface: "outlook" };
}

const REFINE_STATUS = { shorter: "Shortening…", longer: "Expanding…", more_formal: "Formalising…" };

function startDraft(refine = null) {
  if (!s.item || s.phase === "streaming" || s.cooling) return;
  if (refine && !els.draftText.value.trim()) return;
  saveOptions();
  runDraft(buildRequest(refine), {}, REFINE_STATUS[refine] || "Writing…");
}

async function runDraft(body, auth, status) {
  abortStream();
  const controller = new AbortController();
  s.controller = controller;
  // A refine or regenerate that fails or is stopped at once gives the earlier draft back.
  s.before = { draft: s.draft, text: els.draftText.value };
  s.draft = null;
  s.rating = 0;
  ui.setRating(0);
  ui.clearMessage();
  ui.setNotice(null);
  ui.renderSources([]);
  ui.setDraftText("");
  announcer.reset();
  const focusWasOnTrigger = [els.draftButton, els.regenerate, els.barAction, ...els.refineButtons]
    .includes(document.activeElement);
  phase("streaming");
  ui.setStatus(status);
  // The control that was clicked is now hidden or disabled: keep keyboard users in the flow.
  if (focusWasOnTrigger) els.stop.focus();
  try {
    const token = await getToken({ ...auth, inOffice: !s.playground });
    const draft = await api.streamDraft({
      apiBase: s.config.api_base, body, token, signal: controller.signal,
      onDelta: (text) => {
        if (s.controller !== controller) return;
        ui.appendDraftText(text);
        announcer.add(text);
      },
      onReset: () => {
        if (s.controller !== controller) return;
        ui.setDraftText("");
        announcer.reset();
        ui.setStatus("Trying again…");
      },
    });
    if (s.controller === controller) finishDraft(draft);
  } catch (err) {
    if (s.controller !== controller) return; // stopped, or superseded by a new item/draft
    s.controller = null;
    fail(err, body);
  }
}

function finishDraft(draft) {
  const stopHadFocus = document.activeElement === els.stop;
  s.controller = null;
  s.draft = draft;
  ui.setDraftText(draft.text); // the cleaned final text is authoritative
  ui.setNotice(draft.notice || null);
  ui.renderSources(draft.sources);
  phase("done");
  const words = wordCount(draft.text);
  ui.setStatus(draft.status === "offline" ? `Offline draft · ${words} words` : `${words} words`);
  announcer.finish(`Draft ready, ${words} words. Review it, then choose Insert.`);
  if (stopHadFocus) els.draftText.focus();
  rememberCooling();
}

/** After a stop or failure: keep the partial text, or bring the earlier draft back. */
function settle() {
  if (!els.draftText.value.trim() && s.before?.text.trim()) {
    s.draft = s.before.draft;
    ui.setDraftText(s.before.text);
  }
  s.before = null;
  const kept = Boolean(els.draftText.value.trim());
  phase(!kept ? "ready" : s.draft ? "done" : "stopped");
  return kept;
}

function abortStream() {
  const controller = s.controller;
  s.controller = null;
  if (controller) controller.abort();
}

function stop() {
  if (s.phase !== "streaming") return;
  const stopHadFocus = document.activeElement === els.stop;
  abortStream();
  const kept = settle();
  ui.setStatus(kept && !s.draft ? "Stopped" : "");
  announcer.finish(kept ? "Stopped. The text so far is kept." : "Stopped.");
  if (stopHadFocus) (kept ? els.draftText : els.draftButton).focus();
}

function fail(err, body) {
  const problem = describe(err, { localMode: Boolean(s.config.local_mode),
                                  origin: window.location.origin });
  const stopHadFocus = document.activeElement === els.stop;
  const kept = settle();
  ui.setStatus(kept && !s.draft ? "Incomplete" : "");
  announcer.reset();
  s.retry = problem.action === "signin"
    ? () => runDraft(body, { interactive: true, claims: problem.claims }, "Signing in…")
    : () => runDraft(body, {}, "Writing…");
  ui.showMessage(problem);
  if (problem.retryAfter) startCooldown(problem.retryAfter, problem.text);
  if (stopHadFocus) (problem.action ? els.barAction : els.draftButton).focus();
}

// --- rate limit countdown ---------------------------------------------------------------

function startCooldown(seconds, text) {
  clearInterval(s.cooldownTimer);
  s.cooling = true;
  let left = seconds;
  const render = () => {
    ui.updateMessageText(text.replace(/\d+ s\./, `${left} s.`));
    els.draftButtonLabel.textContent = `Try again in ${left} s`;
  };
  render();
  phase(s.phase);
  s.cooldownTimer = setInterval(() => {
    left -= 1;
    if (left > 0) {
      render();
      return;
    }
    clearInterval(s.cooldownTimer);
    s.cooling = false;
    els.draftButtonLabel.textContent = "Draft reply";
    ui.showMessage({ tone: "info", text: "You can draft again now." });
    phase(s.phase);
  }, 1000);
}

function rememberCooling() {
  if (s.cooling) phase(s.phase);
}

// --- insert, copy, feedback -------------------------------------------------------------

const INSERT_MESSAGES = {
  "reply-form": () => "The reply is open with your draft in it. Review it before you send.",
  "reply-form-note": (copied) => (copied
    ? "The draft is too long to prefill, so the reply opened with a note and the whole draft "
      + "is on your clipboard: paste it into the reply (Ctrl+V)."
    : "The draft is too long to prefill and could not be copied: select the draft above, copy "
      + "it, and paste it into the reply that opened."),
  cursor: () => "Inserted at the cursor. Review it before you send.",
  top: () => "Inserted at the top of your message. Review it before you send.",
  clipboard: (copied) => (copied
    ? "Outlook couldn't take the draft directly, so it's on your clipboard: paste it into your "
      + "reply (Ctrl+V)."
    : "Outlook couldn't take the draft and the clipboard is blocked: select the draft above "
      + "and copy it yourself."),
};

async function insert() {
  const text = els.draftText.value;
  if (!text.trim()) return;
  const html = s.draft && text === s.draft.text ? s.draft.html : textToHtml(text);
  let result;
  if (s.playground) {
    result = await previewInsert(els.dialog, s.item, { text, replyAll: ui.replyAll() });
  } else {
    result = await office.insertDraft({ html, text, replyAll: ui.replyAll() });
    const message = INSERT_MESSAGES[result.how](result.copied);
    const success = result.how !== "clipboard" && result.how !== "reply-form-note";
    ui.showMessage({ tone: success ? "success" : "warning", text: message });
  }
  if (result.how !== "clipboard" || result.copied) {
    postFeedback({ action: "inserted", final_text: text });
  }
}

async function copy() {
  const text = els.draftText.value;
  const html = s.draft && text === s.draft.text ? s.draft.html : textToHtml(text);
  const copied = await copyDraft(text, html);
  ui.setStatus(copied ? "Copied" : "Couldn't copy: select the text and copy it yourself");
}

function rate(value) {
  if (!s.draft?.id || s.rating === value) return;
  s.rating = value;
  ui.setRating(value);
  ui.setStatus("Thanks for the feedback");
  postFeedback({ rating: value });
}

async function postFeedback(feedback) {
  const draftId = s.draft?.id;
  if (!draftId) return;
  try {
    const token = await getToken({ inOffice: !s.playground });
    await api.sendFeedback({ apiBase: s.config.api_base, draftId, feedback, token });
  } catch (err) {
    // Feedback is best effort: the user's reply matters more than our statistics.
    console.warn("Replywise feedback was not recorded", err);
  }
}

// --- options memory ---------------------------------------------------------------------

function saveOptions() {
  try {
    const { tone, length, language } = ui.readOptions();
    localStorage.setItem(OPTIONS_KEY, JSON.stringify({ tone, length, language }));
  } catch {
    // Storage blocked (some webviews): the defaults will do.
  }
}

function restoreOptions() {
  try {
    const saved = JSON.parse(localStorage.getItem(OPTIONS_KEY) || "{}");
    for (const [key, control] of [["tone", els.tone], ["length", els.length],
                                  ["language", els.language]]) {
      if (typeof saved[key] === "string"
          && [...control.options].some((o) => o.value === saved[key])) control.value = saved[key];
    }
  } catch {
    // Ignore unreadable settings.
  }
}

// --- wiring and boot --------------------------------------------------------------------

function wireEvents() {
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    startDraft();
  });
  els.stop.addEventListener("click", stop);
  els.regenerate.addEventListener("click", () => startDraft());
  for (const button of els.refineButtons) {
    button.addEventListener("click", () => startDraft(button.dataset.refine));
  }
  els.insert.addEventListener("click", insert);
  els.copy.addEventListener("click", copy);
  els.thumbUp.addEventListener("click", () => rate(1));
  els.thumbDown.addEventListener("click", () => rate(-1));
  els.barAction.addEventListener("click", () => {
    const run = s.retry;
    s.retry = null;
    ui.clearMessage();
    if (run) run();
  });
  els.sampleSelect.addEventListener("change", loadItem);
  els.dialogClose.addEventListener("click", () => els.dialog.close());
  els.draftText.addEventListener("input", ui.autoGrow);
  document.addEventListener("keydown", (event) => {
    if (els.dialog.open) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      startDraft();
    } else if (event.key === "Escape" && s.phase === "streaming") {
      event.preventDefault();
      stop();
    }
  });
  window.addEventListener("pagehide", abortStream);
}

async function boot() {
  wireEvents();
  restoreOptions();
  let host = null;
  try {
    ({ host } = await office.officeReady());
  } catch {
    host = null;
  }
  s.playground = host === null;
  document.documentElement.dataset.host = s.playground ? "browser" : "outlook";
  ui.applyTheme(s.playground ? null : office.officeTheme());
  let configLoaded = true;
  try {
    s.config = { ...DEFAULT_CONFIG, ...(await loadConfig()) };
    els.chip.hidden = !s.config.local_mode;
  } catch {
    configLoaded = false;
  }
  if (s.playground) ui.showPlayground(SAMPLES);
  else await office.onItemChanged(() => { loadItem(); });
  await loadItem();
  if (!configLoaded) {
    // The first draft would say so too; saying it now saves the user a wasted click.
    ui.showMessage({ tone: "error", text: "Can't reach the Replywise service at "
      + `${window.location.origin}. Check your connection, then reload the pane.` });
  }
}

boot();
