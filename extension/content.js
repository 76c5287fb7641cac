// twofill content script: a small, dependency-free shim.
//
// It *extracts* features of the frame's inputs (features.js) and *applies* a
// fill plan. The decision — is this a 2FA prompt, which fields — happens in
// the service worker's Rust/WASM core, because WASM cannot start in content
// scripts on pages whose CSP lacks 'wasm-unsafe-eval'. Nothing here touches
// a seed, and the page learns nothing unless a code is filled.
(() => {
  "use strict";
  if (globalThis.__twofillContent) return;
  globalThis.__twofillContent = true;

  const { quickScan, addContext } = globalThis.__twofillFeatures;
  const MSG = globalThis.__twofillMessages;
  const filled = new WeakSet();
  const observed = new WeakSet();
  let lastSignature = "";
  let scanTimer = 0;
  let inFlight = false;
  let rescanAfterFlight = false;
  // The benchmark's "old path" (a manifest key only `cargo xtask bench`
  // sets): every look waits out the debounce, as before #18.
  const debounceAll = chrome.runtime.getManifest().twofill_bench_old_path === true;
  // Counts mutations that may add or reveal a code input: a plan asked for
  // before the latest of them is for a page that is no longer there.
  let generation = 0;
  let soon = false;
  // After a quick look answered "no prompt", the debounced look that
  // follows asks once more even if the inputs look the same: the prompt's
  // text may have arrived after its input.
  let askAgain = false;

  // Sets a value the way typing would, so React/Vue/Angular state (which
  // listens for input events and tracks the native setter) sees it.
  function setValue(el, value) {
    const proto = Object.getPrototypeOf(el);
    const setter =
      Object.getOwnPropertyDescriptor(proto, "value")?.set ||
      Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
    el.focus();
    el.dispatchEvent(new KeyboardEvent("keydown", { key: value.slice(-1), bubbles: true }));
    setter.call(el, value);
    el.dispatchEvent(new InputEvent("input", { bubbles: true, data: value, inputType: "insertText" }));
    el.dispatchEvent(new KeyboardEvent("keyup", { key: value.slice(-1), bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function observe(root) {
    if (observed.has(root)) return;
    observed.add(root);
    new MutationObserver(onMutations).observe(root, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["style", "class", "hidden", "type", "open", "disabled", "inert"],
    });
  }

  // A mutation that adds an input, or changes an element holding one (a
  // prompt revealed), is looked at in this microtask checkpoint: no fixed
  // delay between a prompt appearing and its code being asked for. All
  // other churn only restarts the debounce.
  const holdsInput = (n) => n.nodeType === 1 && (n.tagName === "INPUT" || n.querySelector("input") !== null);
  function onMutations(records) {
    if (!debounceAll && records.some((r) => (r.type === "childList" ? [...r.addedNodes].some(holdsInput) : holdsInput(r.target)))) {
      generation++;
      scanSoon();
    }
    schedule();
  }

  function scanSoon() {
    if (debounceAll) return schedule();
    if (soon) return;
    soon = true;
    queueMicrotask(() => {
      soon = false;
      scan(true);
    });
  }

  const signatureOf = (page) =>
    page.fields.map((f) => `${f.index}:${f.visible}:${f.name}:${f.id}:${Math.round(f.x)}:${Math.round(f.y)}`).join("|");

  async function scan(quickLook = false) {
    if (inFlight) {
      rescanAfterFlight = true;
      return;
    }
    const result = quickScan();
    const { inputs, roots, page } = result;
    roots.forEach(observe);
    if (offered && (!offered.target.isConnected || offered.target.value !== "")) dropOffer();
    if (smsWait && smsPromptGone(smsWait, inputs, page)) endSmsWait(true);
    // Only bother the service worker when the visible inputs changed.
    const signature = signatureOf(page);
    if ((signature === lastSignature && !askAgain) || !page.fields.some((f) => f.visible)) {
      lastSignature = signature;
      return;
    }
    askAgain = false;
    lastSignature = signature;
    addContext(result);
    inFlight = true;
    const asked = generation;
    try {
      const plan = await chrome.runtime.sendMessage({ type: MSG.CONTENT_SCAN, page });
      if (generation !== asked && signatureOf(quickScan().page) !== signature) {
        // Inputs came or went while we asked (a prompt still being built):
        // look at the page as it is now rather than fill the wrong box.
        lastSignature = "";
        rescanAfterFlight = true;
      } else if (plan?.action === "fill") apply(plan, inputs);
      else if (plan?.action === "offer" || plan?.action === "offer_recovery") offer(plan, inputs);
      else if (plan?.action === "signed_out") signedOut(plan);
      else if (plan?.action === "wait_sms") waitForSms(plan, inputs);
      else if (plan?.action === "fill_sms") apply(plan, inputs);
      else askAgain = quickLook;
    } catch (_) {
      // Extension reloaded or worker unavailable: nothing to do on this page.
    } finally {
      inFlight = false;
      if (rescanAfterFlight) {
        rescanAfterFlight = false;
        scanSoon();
      }
    }
  }

  function apply(plan, inputs) {
    const targets = plan.fields.map((i) => inputs[i]).filter(Boolean);
    if (targets.length === 0 || targets.some((el) => filled.has(el) || !el.isConnected)) return false;
    // Boxes and code must agree (a 4-box PIN pad is not a 6-digit TOTP),
    // and a whole code never goes into one box too short for it.
    if (targets.length > 1 && targets.length !== plan.code.length) return false;
    if (targets.length === 1 && targets[0].maxLength > 0 && targets[0].maxLength < plan.code.length) return false;
    // Never overwrite what the user typed.
    if (targets.some((el) => el.value !== "")) return false;
    if (targets.length === 1) {
      setValue(targets[0], plan.code);
    } else {
      // One character per box, in order; the page may move focus itself.
      [...plan.code].forEach((ch, i) => targets[i] && setValue(targets[i], ch));
    }
    targets.forEach((el) => filled.add(el));
    if (plan.action === "fill_sms") showNotice("sms-filled", "Filled the SMS code", 4000);
    else notice(plan.tokenLabel);
    return true;
  }

  // An SMS prompt on a site with a shared SMS inbox: the worker waits for
  // the SMS (asking the host, up to 2 minutes) and answers with its code.
  // We only say that we wait, and tell the worker when the prompt goes.
  let smsWait = null;
  function waitForSms(plan, inputs) {
    if (smsWait?.prompt === plan.prompt) return;
    const targets = plan.fields.map((i) => inputs[i]).filter(Boolean);
    if (targets.length === 0 || targets.some((el) => filled.has(el) || el.value !== "")) {
      chrome.runtime.sendMessage({ type: MSG.CONTENT_SMS_GONE, prompt: plan.prompt }).catch(() => {});
      return;
    }
    if (smsWait) endSmsWait(true);
    const wait = { prompt: plan.prompt, targets, inputs };
    wait.notice = showNotice("sms-waiting", "Waiting for the SMS…", 120000);
    smsWait = wait;
    chrome.runtime.sendMessage({ type: MSG.CONTENT_WAIT_SMS, prompt: plan.prompt }).then(
      (reply) => {
        if (smsWait !== wait) return;
        endSmsWait(false);
        if (reply?.action === "fill_sms") apply(reply, wait.inputs);
        else if (reply?.action === "signed_out") signedOut(reply);
      },
      () => smsWait === wait && endSmsWait(false),
    );
  }

  // Gone: a box removed, typed into, or none of them visible any more.
  function smsPromptGone(wait, inputs, page) {
    const visible = (el) => page.fields.find((f) => f.index === inputs.indexOf(el))?.visible;
    return wait.targets.some((el) => !el.isConnected || el.value !== "") || !wait.targets.some(visible);
  }

  function endSmsWait(tellWorker) {
    const { prompt, notice } = smsWait;
    smsWait = null;
    notice.remove();
    if (tellWorker) chrome.runtime.sendMessage({ type: MSG.CONTENT_SMS_GONE, prompt }).catch(() => {});
  }

  // AutofillMode "click" (organization policy): a button by the prompt; the
  // code is asked for (and audited) only when the user clicks it. Synthetic
  // clicks from the page (isTrusted false) do nothing. A recovery-code
  // prompt always gets such a button, never a fill: a click takes one
  // single-use recovery code.
  let offered = null;
  function offer(plan, inputs) {
    const recovery = plan.action === "offer_recovery";
    const targets = plan.fields.map((i) => inputs[i]).filter(Boolean);
    if (targets.length === 0 || targets.some((el) => filled.has(el) || el.value !== "")) return;
    if (offered?.target === targets[0] && offered.host.isConnected) return;
    dropOffer();
    const host = document.createElement("div");
    host.setAttribute("data-twofill-offer", "");
    const root = host.attachShadow({ mode: "closed" });
    const button = document.createElement("button");
    button.type = "button";
    const what = recovery ? "Use a recovery code (single-use)" : "Fill code";
    button.textContent = `${what}${plan.tokenLabel ? ` · ${plan.tokenLabel}` : ""}`;
    button.title = recovery
      ? "twofill: take one of this account's recovery codes; it is used up once taken"
      : "twofill: fill the two-factor code";
    if (recovery) host.setAttribute("data-twofill-recovery", "");
    const rect = targets[0].getBoundingClientRect();
    Object.assign(host.style, {
      position: "absolute", zIndex: "2147483647",
      left: `${Math.round(rect.left + window.scrollX)}px`,
      top: `${Math.round(rect.bottom + window.scrollY + 4)}px`,
    });
    Object.assign(button.style, {
      padding: "6px 10px", borderRadius: "6px", border: "0", cursor: "pointer",
      font: "13px system-ui, sans-serif", background: "#1f2933", color: "#fff",
      boxShadow: "0 2px 8px rgba(0,0,0,.25)", whiteSpace: "nowrap",
    });
    button.addEventListener("click", async (e) => {
      if (!e.isTrusted) return;
      e.preventDefault();
      e.stopPropagation();
      dropOffer();
      const result = quickScan();
      addContext(result);
      try {
        const plan = await chrome.runtime.sendMessage({
          type: MSG.CONTENT_SCAN, page: result.page, confirmed: true, recovery,
        });
        if (plan?.action === "fill") apply(plan, result.inputs);
        else if (plan?.action === "signed_out") signedOut(plan, true);
      } catch (_) {
        // Extension reloaded: nothing to do.
      }
    });
    root.append(button);
    (document.body || document.documentElement).append(host);
    offered = { host, target: targets[0] };
  }

  function dropOffer() {
    offered?.host.remove();
    offered = null;
  }

  // The organization policy changed: forget what was decided and look again.
  chrome.runtime.onMessage.addListener((message, sender) => {
    if (sender.id !== chrome.runtime.id || message?.type !== MSG.WORKER_POLICY_CHANGED) return false;
    dropOffer();
    lastSignature = "";
    schedule();
    return false;
  });

  // "Fill on this page" from the popup, for the token the user picked. The
  // service worker decides (detector, else the focused field) and asks the
  // host with the origin the browser reports for this frame.
  chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
    if (sender.id !== chrome.runtime.id || message?.type !== MSG.POPUP_FILL_TOKEN) return false;
    if (typeof message.token !== "string") return false;
    const result = quickScan();
    // Frames without a visible input stay silent; another frame may answer.
    if (!result.page.fields.some((f) => f.visible)) return false;
    addContext(result);
    let active = document.activeElement;
    while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
    const focused = result.inputs.indexOf(active);
    chrome.runtime
      .sendMessage({
        type: MSG.CONTENT_SCAN_FOR_TOKEN,
        token: message.token,
        page: result.page,
        focused: focused >= 0 ? focused : null,
      })
      .then(
        (plan) => {
          if (plan?.action === "signed_out") signedOut(plan, true);
          if (plan?.action !== "fill") return sendResponse({ filled: false, reason: plan?.reason });
          const ok = apply(plan, result.inputs);
          sendResponse(ok ? { filled: true } : { filled: false, reason: "the field is already filled" });
        },
        (err) => sendResponse({ filled: false, reason: String(err) }),
      );
    return true;
  });

  // A code prompt while signed out of the team server (single sign-on):
  // say so once per page, instead of doing nothing. Asked for by a click
  // (offer, popup), it is said again.
  let toldSignedOut = false;
  function signedOut(plan, again = false) {
    if (toldSignedOut && !again) return;
    toldSignedOut = true;
    const org = plan.org || "your organization";
    showNotice("signed-out", `Signed out of ${org} — sign in from the twofill toolbar button`, 8000);
  }

  function notice(label) {
    showNotice("filled", `twofill filled the code${label ? ` for ${label}` : ""}`, 4000);
  }

  // A small, unobtrusive note, in a closed shadow root so the page's CSS
  // cannot restyle it (and CSSOM styles, which page CSP does not block).
  // The host element names which notice it is (the text stays inside).
  function showNotice(kind, text, ms) {
    const host = document.createElement("div");
    host.setAttribute("data-twofill-notice", kind);
    const root = host.attachShadow({ mode: "closed" });
    const box = document.createElement("div");
    box.setAttribute("role", "status");
    box.textContent = text;
    Object.assign(box.style, {
      position: "fixed", right: "16px", bottom: "16px", zIndex: "2147483647",
      padding: "8px 12px", borderRadius: "6px", font: "13px system-ui, sans-serif",
      background: "#1f2933", color: "#fff", boxShadow: "0 2px 8px rgba(0,0,0,.25)",
      pointerEvents: "none", opacity: "0.95",
    });
    root.append(box);
    (document.body || document.documentElement).append(host);
    setTimeout(() => host.remove(), ms);
    return host;
  }

  function schedule() {
    clearTimeout(scanTimer);
    scanTimer = setTimeout(scan, 120);
  }

  observe(document.documentElement);
  // Prompts that fade or slide in change no attribute we watch.
  const revealed = (e) => (holdsInput(e.target) ? scanSoon() : schedule());
  document.addEventListener("animationend", revealed, true);
  document.addEventListener("transitionend", revealed, true);
  // Styles that arrive late change geometry (boxes become boxes) without a
  // DOM mutation; look again once loaded. The signature makes this free
  // when nothing moved.
  window.addEventListener("load", schedule);
  window.addEventListener("pagehide", () => smsWait && endSmsWait(true));
  // Open shadow roots created later are invisible to our observers until a
  // scan finds them: look again a few times, and whenever focus moves
  // (focusin is composed, so it leaves shadow roots).
  for (const ms of [700, 1500, 3000, 6000]) setTimeout(schedule, ms);
  document.addEventListener("focusin", schedule, true);
  // A prompt already on the page when it loads is looked at at once.
  scanSoon();
})();
