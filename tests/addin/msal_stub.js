// A stand-in for the vendored @azure/msal-browser UMD bundle (globalThis.msal), modelling the
// nested app authentication calls the pane makes. Configure with window.__msalConfig = {
//   silent: "ok" | "interaction_required",  popup: "ok" | "fail"
// }; calls are recorded in window.__msalCalls.
(function () {
  "use strict";
  const calls = [];
  window.__msalCalls = calls;
  const config = () => Object.assign({ silent: "ok", popup: "ok" }, window.__msalConfig || {});

  class AuthError extends Error {}
  class InteractionRequiredAuthError extends AuthError {
    constructor(message) {
      super(message);
      this.name = "InteractionRequiredAuthError";
      this.errorCode = "interaction_required";
    }
  }

  function createNestablePublicClientApplication(configuration) {
    calls.push({ method: "createNestablePublicClientApplication", args: [configuration] });
    let popups = 0;
    return Promise.resolve({
      acquireTokenSilent(request) {
        calls.push({ method: "acquireTokenSilent", args: [request] });
        if (config().silent === "interaction_required") {
          return Promise.reject(new InteractionRequiredAuthError("consent needed"));
        }
        return Promise.resolve({ accessToken: "silent-token", account: { username: "sam" } });
      },
      acquireTokenPopup(request) {
        calls.push({ method: "acquireTokenPopup", args: [request] });
        if (config().popup === "fail") return Promise.reject(new AuthError("user_cancelled"));
        popups += 1;
        return Promise.resolve({ accessToken: `popup-token-${popups}`,
                                 account: { username: "sam" } });
      },
    });
  }

  window.msal = { createNestablePublicClientApplication, InteractionRequiredAuthError, AuthError };
})();
