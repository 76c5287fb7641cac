// twofill content script: a small, dependency-free shim.
//
// It only *extracts* features of the page's inputs and *applies* a fill plan.
// The decision (is this a 2FA prompt? which fields?) happens in the service
// worker's Rust/WASM core, because WASM cannot start in content scripts on
// pages whose CSP lacks 'wasm-unsafe-eval'. Nothing here touches a seed, and
// the page never learns whether twofill is present unless a code is filled.
(() => {
  "use strict";
  if (globalThis.__twofillContent) return;
  globalThis.__twofillContent = true;

  const TEXT_LIMIT = 400;
  const FILLABLE_TYPES = new Set(["", "text", "tel", "number", "password"]);
  const filled = new WeakSet();
  let lastSignature = "";
  let scanTimer = 0;
  let inFlight = false;
  let rescanAfterFlight = false;

  const clip = (s) => (s || "").replace(/\s+/g, " ").trim().slice(0, TEXT_LIMIT);

  function isVisible(el) {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    const cs = getComputedStyle(el);
    return cs.visibility !== "hidden" && cs.display !== "none";
  }

  function labelText(el) {
    const parts = [];
    if (el.labels) for (const l of el.labels) parts.push(l.innerText);
    const by = el.getAttribute("aria-labelledby");
    if (by) {
      for (const id of by.split(/\s+/)) {
        const t = el.ownerDocument.getElementById(id);
        if (t) parts.push(t.innerText);
      }
    }
    return clip(parts.join(" "));
  }

  function contextText(el) {
    const box = el.closest("form, dialog, [role=dialog], section, main, fieldset") || el.parentElement;
    return clip(box ? box.innerText : "");
  }

  function dataAttrs(el) {
    const out = [];
    for (const a of el.attributes) if (a.name.startsWith("data-")) out.push(a.value);
    return clip(out.join(" "));
  }

  function candidates() {
    return [...document.querySelectorAll("input")].filter((el) =>
      FILLABLE_TYPES.has((el.getAttribute("type") || "").toLowerCase()),
    );
  }

  function features(el, index) {
    const r = el.getBoundingClientRect();
    return {
      index,
      type: (el.getAttribute("type") || "").toLowerCase(),
      id: el.id || "",
      name: el.getAttribute("name") || "",
      autocomplete: el.getAttribute("autocomplete") || "",
      placeholder: el.getAttribute("placeholder") || "",
      ariaLabel: el.getAttribute("aria-label") || "",
      label: labelText(el),
      className: typeof el.className === "string" ? el.className : "",
      dataAttrs: dataAttrs(el),
      inputmode: el.getAttribute("inputmode") || "",
      pattern: el.getAttribute("pattern") || "",
      maxLength: el.maxLength,
      readOnly: el.readOnly,
      disabled: el.disabled,
      visible: isVisible(el),
      width: r.width,
      height: r.height,
      context: contextText(el),
    };
  }

  // Sets a value the way a user's typing would, so React/Vue/Angular state
  // (which listens for input events on the native setter) sees it.
  function setValue(el, value) {
    const proto = Object.getPrototypeOf(el);
    const setter = Object.getOwnPropertyDescriptor(proto, "value")?.set
      || Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
    el.focus();
    setter.call(el, value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }

  async function scan() {
    if (inFlight) {
      rescanAfterFlight = true;
      return;
    }
    const inputs = candidates();
    const fields = inputs.map(features);
    // Only bother the service worker when the set of visible inputs changed.
    const signature = fields.map((f) => `${f.index}:${f.visible}:${f.name}:${f.id}`).join("|");
    if (signature === lastSignature || !fields.some((f) => f.visible)) {
      lastSignature = signature;
      return;
    }
    lastSignature = signature;
    inFlight = true;
    try {
      const plan = await chrome.runtime.sendMessage({
        type: "scan",
        page: { fields, title: clip(document.title) },
      });
      if (plan && plan.action === "fill") apply(plan, inputs);
    } catch (_) {
      // Extension reloaded or worker unavailable: nothing to do on this page.
    } finally {
      inFlight = false;
      if (rescanAfterFlight) {
        rescanAfterFlight = false;
        schedule();
      }
    }
  }

  function apply(plan, inputs) {
    const targets = plan.fields.map((i) => inputs[i]).filter(Boolean);
    if (targets.length === 0 || targets.some((el) => filled.has(el))) return;
    // Never overwrite what the user typed.
    if (targets.some((el) => el.value !== "")) return;
    if (targets.length === 1) {
      setValue(targets[0], plan.code);
    } else {
      [...plan.code].forEach((ch, i) => targets[i] && setValue(targets[i], ch));
    }
    targets.forEach((el) => filled.add(el));
  }

  function schedule() {
    clearTimeout(scanTimer);
    scanTimer = setTimeout(scan, 120);
  }

  new MutationObserver(schedule).observe(document.documentElement, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["style", "class", "hidden", "type", "open", "disabled"],
  });
  schedule();
})();
