// The Replywise API as the pane uses it: a streamed draft, feedback, and one error type that
// carries everything the UI needs to explain a failure and offer a way forward.

import { readEvents } from "./sse.js";

/** Any failure of an API call, normalised. `kind` says where it failed. */
export class ApiError extends Error {
  /**
   * @param {object} init
   * @param {"http"|"stream"|"network"|"aborted"|"incomplete"} init.kind
   * @param {number} [init.status] HTTP status (0 when none arrived)
   * @param {string} [init.code] the envelope's machine-readable code
   * @param {string} [init.message] the envelope's human message
   * @param {object} [init.details] the whole envelope `error` object
   * @param {number|null} [init.retryAfter] seconds, from Retry-After
   */
  constructor({ kind, status = 0, code = "", message = "", details = {}, retryAfter = null }) {
    super(message || code || kind);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
    this.requestId = details.request_id || null;
  }
}

/**
 * Seconds to wait from a Retry-After header (delta-seconds or an HTTP date).
 * @param {string|null} value
 * @returns {number|null}
 */
export function parseRetryAfter(value) {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const when = Date.parse(trimmed);
  if (Number.isNaN(when)) return null;
  return Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

function headers(token, extra = {}) {
  const result = { "Content-Type": "application/json", ...extra };
  if (token) result.Authorization = `Bearer ${token}`;
  return result;
}

async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw new ApiError({ kind: "aborted" });
    throw new ApiError({ kind: "network", message: String(err && err.message || err) });
  }
}

async function errorFrom(response) {
  let details = {};
  try {
    const body = await response.json();
    if (body && typeof body.error === "object") details = body.error;
  } catch {
    // A proxy's HTML error page: the status alone has to do.
  }
  return new ApiError({
    kind: "http", status: response.status, code: details.code || "", message: details.message,
    details, retryAfter: parseRetryAfter(response.headers.get("Retry-After")),
  });
}

/**
 * Ask for a draft and stream it. Resolves with the Draft object of the `done` event.
 * @param {object} args
 * @param {string} args.apiBase e.g. "/api/v1"
 * @param {object} args.body the DraftRequest
 * @param {string|null} args.token bearer token, or null in local mode
 * @param {AbortSignal} args.signal aborts the request (the Stop button)
 * @param {(text: string) => void} args.onDelta text to append
 * @param {(reason: string) => void} args.onReset discard the text shown so far
 * @returns {Promise<object>} the Draft
 * @throws {ApiError}
 */
export async function streamDraft({ apiBase, body, token, signal, onDelta, onReset }) {
  const response = await send(`${apiBase}/drafts`, {
    method: "POST", signal, body: JSON.stringify(body),
    headers: headers(token, { Accept: "text/event-stream" }),
  });
  if (!response.ok) throw await errorFrom(response);
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("text/event-stream")) {
    // A server that ignored Accept answered with the whole draft at once.
    const draft = await response.json();
    onDelta(draft.text || "");
    return draft;
  }
  try {
    for await (const { event, data } of readEvents(response.body)) {
      const payload = JSON.parse(data);
      if (event === "delta") onDelta(payload.text || "");
      else if (event === "reset") onReset(payload.reason || "");
      else if (event === "done") return payload;
      else if (event === "error") {
        const details = payload.error || {};
        throw new ApiError({ kind: "stream", status: response.status, code: details.code,
                             message: details.message, details });
      }
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err && err.name === "AbortError") throw new ApiError({ kind: "aborted" });
    // The connection broke mid-stream (or a line was not JSON): the text so far stays.
    throw new ApiError({ kind: "incomplete", message: String(err && err.message || err) });
  }
  throw new ApiError({ kind: "incomplete", message: "The stream ended before the draft did." });
}

/**
 * Tell the backend what happened to a draft (inserted, discarded, a rating).
 * @param {object} args
 * @param {string} args.apiBase
 * @param {string} args.draftId
 * @param {{action?: string, rating?: number, final_text?: string}} args.feedback
 * @param {string|null} args.token
 * @returns {Promise<object>} the recorded Feedback
 * @throws {ApiError}
 */
export async function sendFeedback({ apiBase, draftId, feedback, token }) {
  const response = await send(`${apiBase}/drafts/${encodeURIComponent(draftId)}/feedback`, {
    method: "POST", body: JSON.stringify(feedback), headers: headers(token),
  });
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}
