// The fan zone: ask the site for the user's LiveLike credentials, initialise the official
// SDK with them, and show what the SDK reports. The access token stays in this closure and
// the SDK's memory: it is never written into the page nor into the browser's storage.
(() => {
  "use strict";

  const panel = document.getElementById("sdk-panel");
  const apiUrl = panel.dataset.apiUrl;
  const byId = (id) => document.getElementById(id);
  const form = byId("nickname-form");
  const input = byId("nickname-input");
  const message = byId("nickname-message");
  let accessToken = null;

  // Where the SDK keeps its profile, token included. 1.3.0 keeps it in memory by default,
  // but its typings document localStorage: say so explicitly. The site keeps the token for
  // the user, so nothing needs to outlive the page, nor be left for the next person here.
  const memoryStorage = (() => {
    let saved;
    return { get: () => saved, set: (profile) => { saved = profile; } };
  })();

  function setState(state, label) {
    panel.dataset.state = state;
    byId("sdk-status").textContent = label;
  }

  function showError(text, state = "error", label = "Error") {
    setState(state, label);
    const error = byId("sdk-error");
    error.textContent = text;
    error.hidden = false;
  }

  function showProfile(profile) {
    byId("sdk-profile-id").textContent = profile.id;
    byId("sdk-nickname").textContent = profile.nickname;
    const stored = byId("site-panel").dataset.profileId;
    byId("sdk-match").hidden = !stored || stored !== profile.id;
  }

  const pause = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

  // GET the bootstrap JSON; while the profile is being created the API answers 503 with
  // Retry-After, and the page asks again then.
  async function fetchCredentials() {
    for (;;) {
      const response = await fetch(apiUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.status === 503) {
        const body = await response.json().catch(() => ({}));
        const wait = Math.min(Number(response.headers.get("Retry-After")) || 2, 60);
        setState("waiting", `Profile ${body.status || "pending"}: asking again in ${wait} s`);
        await pause(wait);
        continue;
      }
      if (!response.ok) {
        throw new Error(`GET ${apiUrl} answered ${response.status}`);
      }
      return response.json();
    }
  }

  function describe(error) {
    // The SDK rejects with {status, message, errorDetail} rather than an Error.
    if (error && error.status) return `LiveLike answered ${error.status}: ${error.message}`;
    return String((error && error.message) || error);
  }

  async function start() {
    if (!window.LiveLikeJs) {
      showError(
        "The LiveLike SDK script did not load (see the browser console).",
        "missing",
        "SDK not loaded",
      );
      return;
    }
    setState("loading", "Asking the site…");
    const credentials = await fetchCredentials();
    accessToken = credentials.access_token;
    setState("loading", "Initialising the SDK…");
    const profile = await window.LiveLikeJs.init({
      clientId: credentials.client_id,
      accessToken,
      endpoint: credentials.api_url,
      storageStrategy: memoryStorage,
    });
    showProfile(profile);
    input.disabled = false;
    form.querySelector("button").disabled = false;
    setState("ready", "Connected");
  }

  async function changeNickname(nickname) {
    const response = await fetch(apiUrl, {
      method: "PATCH",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": form.elements.csrfmiddlewaretoken.value,
      },
      body: JSON.stringify({ nickname }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const reason = (body.nickname && body.nickname[0]) || body.detail || "";
      throw new Error(`The site answered ${response.status}. ${reason}`.trim());
    }
    const siteNickname = byId("site-nickname");
    if (siteNickname) siteNickname.textContent = body.nickname;
    // What LiveLike itself now says, read by the SDK (not the site's answer).
    return window.LiveLikeJs.getUserProfile({ accessToken });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    message.className = "";
    message.textContent = "Saving…";
    try {
      const fresh = await changeNickname(input.value);
      showProfile(fresh);
      message.textContent = `Saved. The SDK now reads “${fresh.nickname}” from LiveLike.`;
      input.value = "";
    } catch (error) {
      message.className = "error";
      message.textContent = describe(error);
    } finally {
      button.disabled = false;
    }
  });

  start().catch((error) => showError(describe(error)));
})();
