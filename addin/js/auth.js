// Tokens for the backend's own API scope (api://<client-id>/access_as_user).
//
// Local mode (no identity provider configured on the backend): no token at all; the backend
// trusts loopback callers. Otherwise nested app authentication through MSAL.js where the host
// supports NestedAppAuth 1.1, and Office's own SSO (Office.auth.getAccessToken) elsewhere.
// Only access tokens ever leave this module; an ID token is never sent to the backend.

const AUTHORITY = "https://login.microsoftonline.com/common";

/** Raised when a token needs the user: the UI shows a Sign in button that retries. */
export class SignInRequired extends Error {
  /**
   * @param {string} message
   * @param {string} [claims] a claims challenge for the interactive attempt
   * @param {boolean} [canSignIn] false when signing in here cannot work (outside Office)
   */
  constructor(message, claims, canSignIn = true) {
    super(message);
    this.name = "SignInRequired";
    this.claims = claims || null;
    this.canSignIn = canSignIn;
  }
}

let config = null;
let clientPromise = null;

/**
 * Fetch /addin/config.json once: {local_mode, client_id, api_scope, api_base, msal_url}.
 * @returns {Promise<object>}
 */
export async function loadConfig() {
  if (config) return config;
  const response = await fetch(new URL("config.json", document.baseURI), { cache: "no-cache" });
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  config = await response.json();
  return config;
}

function naaSupported() {
  try {
    return Boolean(globalThis.Office?.context?.requirements?.isSetSupported("NestedAppAuth", "1.1"));
  } catch {
    return false;
  }
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

async function msalClient() {
  // Loaded on first use: most sessions in local mode never need MSAL's 330 KB.
  clientPromise ??= (async () => {
    if (!globalThis.msal) await loadScript(config.msal_url);
    return globalThis.msal.createNestablePublicClientApplication({
      auth: { clientId: config.client_id, authority: AUTHORITY },
    });
  })();
  try {
    return await clientPromise;
  } catch (err) {
    clientPromise = null; // let a later attempt load it again
    throw err;
  }
}

function isInteractionRequired(err) {
  const InteractionRequired = globalThis.msal?.InteractionRequiredAuthError;
  return (InteractionRequired && err instanceof InteractionRequired)
    || err?.name === "InteractionRequiredAuthError";
}

async function naaToken({ interactive, claims }) {
  const pca = await msalClient();
  const request = { scopes: [config.api_scope] };
  if (claims) request.claims = claims;
  if (!interactive && !claims) {
    try {
      return (await pca.acquireTokenSilent(request)).accessToken;
    } catch (err) {
      if (!isInteractionRequired(err)) throw err;
      // Consent or a fresh sign-in is needed: the host shows its own popup (no browser popup).
    }
  }
  try {
    return (await pca.acquireTokenPopup(request)).accessToken;
  } catch {
    // Closed, blocked or refused: the user decides when to try again.
    throw new SignInRequired("Sign in to Replywise to draft replies.", claims);
  }
}

async function officeSsoToken({ interactive, claims }) {
  if (typeof globalThis.Office?.auth?.getAccessToken !== "function") {
    throw new SignInRequired("This Outlook cannot sign in to Replywise. Ask your admin which "
                             + "Outlook versions Replywise supports.", null, false);
  }
  try {
    const options = { allowSignInPrompt: true, allowConsentPrompt: true };
    // A conditional-access claims challenge goes back to Office as the auth challenge.
    if (claims) options.authChallenge = claims;
    return await Office.auth.getAccessToken(options);
  } catch (err) {
    if (interactive) throw new SignInRequired(`Sign-in did not finish (${err?.code || err}).`);
    throw new SignInRequired("Sign in to Replywise to draft replies.");
  }
}

/**
 * An access token for the backend, or null in local mode.
 * @param {{interactive?: boolean, claims?: string, inOffice?: boolean}} [options]
 *   interactive: the user clicked Sign in; claims: a claims challenge from the backend.
 * @returns {Promise<string|null>}
 * @throws {SignInRequired}
 */
export async function getToken({ interactive = false, claims, inOffice = true } = {}) {
  const cfg = await loadConfig();
  if (cfg.local_mode) return null;
  if (!inOffice) {
    throw new SignInRequired("This Replywise needs a Microsoft 365 sign-in, which works inside "
                             + "Outlook only. Open Replywise from Outlook.", null, false);
  }
  if (naaSupported()) return naaToken({ interactive, claims });
  return officeSsoToken({ interactive, claims });
}
