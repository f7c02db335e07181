// The fan zone: ask the site for the user's LiveLike credentials, initialise the official
// SDK with them, and show what the SDK reports. The access token stays in this closure and
// the SDK's memory: it is never written into the page nor into the browser's storage.
//
// An anonymous visitor (the site's LIVELIKE["GUEST_PROFILES"] on) gets the same answer for
// the guest profile the site keeps in their session, with `guest: true`: the page says so and
// offers to sign up to keep it. Changing the nickname works the same for a guest (the PATCH
// carries the CSRF token either way).
//
// A token the site mints (ACCESS_TOKENS = "client-generated") expires at the answer's
// `expires_at`: the page asks the site for a new one before then and initialises the SDK
// again with it, without a reload. A token LiveLike issued (`expires_at` null) never expires.
(() => {
  "use strict";

  const panel = document.getElementById("sdk-panel");
  const apiUrl = panel.dataset.apiUrl;
  const byId = (id) => document.getElementById(id);
  const form = byId("nickname-form");
  const input = byId("nickname-input");
  const message = byId("nickname-message");
  let accessToken = null;

  // When to ask for a new token: at 80% of the remaining lifetime, and at least a second
  // before it ends (the renewal and the SDK's new start must finish before the old token
  // stops working). Never sooner than half a second (no busy loop on a token about to end),
  // never later than setTimeout can count (about 24.8 days).
  const RENEW_AT_FRACTION = 0.8;
  const RENEW_MARGIN_MS = 1000;
  const RENEW_MIN_MS = 500;
  const TIMER_MAX_MS = 2 ** 31 - 1;
  // A browser clock further than this from the server's is not trusted to time a renewal.
  const CLOCK_TOLERANCE_MS = 5000;
  let renewTimer = null;
  let renewDue = null; // Date.now() at which the current token should be replaced
  let renewing = null; // the renewal in progress, if any
  let refreshes = 0;

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

  function clearError() {
    byId("sdk-error").hidden = true;
  }

  // SDK reads may finish out of order (a renewal's read against a nickname change's):
  // show only the most recently started one.
  let readsStarted = 0;
  let readShown = 0;
  async function sdkRead(read) {
    const mine = ++readsStarted;
    const profile = await read();
    if (mine > readShown) {
      readShown = mine;
      showProfile(profile);
    }
    return profile;
  }

  function storedProfileId() {
    return byId("site-panel").dataset.profileId;
  }

  function showProfile(profile) {
    byId("sdk-profile-id").textContent = profile.id;
    byId("sdk-nickname").textContent = profile.nickname;
    const stored = storedProfileId();
    byId("sdk-match").hidden = !stored || stored !== profile.id;
  }

  // Whether the answer is a guest's (the visitor is not signed in): the page says so.
  function showGuest(credentials) {
    const guest = credentials.guest === true;
    panel.dataset.guest = String(guest);
    const notice = byId("guest-notice");
    if (notice) notice.hidden = !guest;
  }

  // What the site's answer says is stored for the account (or kept in a guest's session):
  // with minted tokens the profile id is learned at the first answer, after this page was
  // rendered (for a guest, at the first nickname change).
  function showStored(credentials) {
    const sitePanel = byId("site-panel");
    if (!credentials.profile_id || sitePanel.dataset.profileId === credentials.profile_id) return;
    sitePanel.dataset.profileId = credentials.profile_id;
    const id = byId("site-profile-id");
    const nickname = byId("site-nickname");
    if (id) id.textContent = credentials.profile_id;
    if (nickname && credentials.nickname) nickname.textContent = credentials.nickname;
  }

  function showToken(expiresAt) {
    const line = byId("sdk-token");
    panel.dataset.refreshes = String(refreshes);
    if (expiresAt === null) {
      line.textContent = "Access token: issued by LiveLike; it does not expire.";
      return;
    }
    const times = refreshes === 1 ? "1 time" : `${refreshes} times`;
    const at = expiresAt.toISOString().replace(/\.\d+Z$/, "Z");
    line.textContent =
      `Access token: minted by the site, expires at ${at}; ` +
      `refreshed ${times} without reloading this page.`;
  }

  const pause = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

  // GET the bootstrap JSON; while the profile is being created the API answers 503 with
  // Retry-After, and the page asks again then. Also returns the server's clock (Date header).
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
      const serverNow = Date.parse(response.headers.get("Date"));
      return { credentials: await response.json(), serverNow };
    }
  }

  // Milliseconds from now until the token should be replaced.
  function renewalDelay(expiresAt, serverNow) {
    let now = Date.now();
    // Time the renewal on the server's clock when the browser's is clearly off (the Date
    // header counts whole seconds, within the tolerance).
    if (Number.isFinite(serverNow) && Math.abs(serverNow - now) > CLOCK_TOLERANCE_MS) {
      now = serverNow;
    }
    const remaining = expiresAt.getTime() - now;
    const delay = Math.min(remaining * RENEW_AT_FRACTION, remaining - RENEW_MARGIN_MS);
    return Math.min(Math.max(delay, RENEW_MIN_MS), TIMER_MAX_MS);
  }

  function scheduleRenewal(delay) {
    clearTimeout(renewTimer);
    renewDue = Date.now() + delay;
    renewTimer = setTimeout(renew, delay);
  }

  // Ask the site for the credentials and (re)initialise the SDK with them.
  async function connect() {
    const { credentials, serverNow } = await fetchCredentials();
    accessToken = credentials.access_token;
    showGuest(credentials);
    showStored(credentials);
    // The SDK (1.3.0) authenticates with the token of the profile it keeps, when it keeps
    // one, before the token init() is given: forget it, or a new start would read the
    // profile with the old token (and fail once that has expired).
    memoryStorage.set(undefined);
    if (panel.dataset.state === "loading") setState("loading", "Initialising the SDK…");
    await sdkRead(() => window.LiveLikeJs.init({
      clientId: credentials.client_id,
      accessToken,
      endpoint: credentials.api_url,
      storageStrategy: memoryStorage,
    }));
    if (!credentials.expires_at) return null;
    const expiresAt = new Date(credentials.expires_at);
    if (Number.isNaN(expiresAt.getTime())) {
      throw new Error(`Unreadable expires_at from ${apiUrl}: ${credentials.expires_at}`);
    }
    scheduleRenewal(renewalDelay(expiresAt, serverNow));
    return expiresAt;
  }

  // LiveLike or the site unreachable, busy or failing: worth another try.
  function isTransient(error) {
    // fetch() rejects with a TypeError when the network fails ("Failed to fetch" in
    // Chromium, "NetworkError when attempting to fetch resource." in Firefox, "Load failed"
    // in Safari); any other TypeError is a bug, not worth repeating.
    if (error instanceof TypeError) return /fetch|network|load failed/i.test(error.message);
    const status = error && error.status;
    return status === 429 || status >= 500;
  }

  // connect(), trying again after a transient failure (2, 4, 8... up to 30 s).
  async function connectUntilDone() {
    for (let attempt = 1; ; attempt++) {
      try {
        return await connect();
      } catch (error) {
        if (!isTransient(error)) throw error;
        const wait = Math.min(2 ** attempt, 30);
        showError(describe(error), "waiting", `Unavailable: trying again in ${wait} s`);
        await pause(wait);
      }
    }
  }

  // The token is about to expire: a new one, the SDK initialised again, the page kept.
  function renew() {
    if (renewing) return renewing;
    clearTimeout(renewTimer);
    renewDue = null;
    renewing = connectUntilDone()
      .then((expiresAt) => {
        refreshes += 1;
        showToken(expiresAt);
        clearError();
        setState("ready", "Connected");
      })
      .catch((error) => showError(describe(error)))
      .finally(() => { renewing = null; });
    return renewing;
  }

  // Timers do not run while a laptop sleeps and are slowed down in hidden tabs: when the
  // page comes back, renew at once if the time has come.
  function renewIfDue() {
    if (renewDue !== null && Date.now() >= renewDue) renew();
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") renewIfDue();
  });
  window.addEventListener("online", renewIfDue);

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
    const expiresAt = await connectUntilDone();
    showToken(expiresAt);
    clearError();
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
    showStored(body); // a guest's minted-token profile id is learned by this change
    const siteNickname = byId("site-nickname");
    if (siteNickname) siteNickname.textContent = body.nickname;
    // What LiveLike itself now says, read by the SDK with the current token (not the
    // site's answer).
    return sdkRead(() => window.LiveLikeJs.getUserProfile({ accessToken }));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    message.className = "";
    message.textContent = "Saving…";
    try {
      const fresh = await changeNickname(input.value);
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
