// twofill feature extractor: plain facts about a frame's inputs, no
// decisions. Shared by the content script and detect-eval.
(() => {
  "use strict";
  if (globalThis.__twofillFeatures) return;

  const TEXT_LIMIT = 400;
  // Input types worth describing; the detector decides which are fillable.
  const DESCRIBED = new Set(["", "text", "tel", "number", "password", "email", "search", "url"]);
  const CONTAINER = "form, dialog, [role=dialog], [role=alertdialog], fieldset, section, main, article";
  const ACTIONS = "a, button, [role=button], [role=link], input[type=submit], input[type=button]";

  const clip = (s) => (s || "").replace(/\s+/g, " ").trim().slice(0, TEXT_LIMIT);
  // innerText leaves out text slotted into a web component (label, hint).
  const slotted = (el) =>
    [...el.querySelectorAll("slot")].map((s) => s.assignedNodes().map((n) => n.textContent).join(" ")).join(" ");

  // Every <input> in document order, and the open shadow roots on the way.
  function collect(root, inputs, roots) {
    for (const el of root.querySelectorAll("*")) {
      if (el.tagName === "INPUT") {
        if (DESCRIBED.has((el.getAttribute("type") || "").toLowerCase())) inputs.push(el);
      }
      if (el.shadowRoot) {
        roots.push(el.shadowRoot);
        collect(el.shadowRoot, inputs, roots);
      }
    }
  }

  function isVisible(el, r) {
    if (r.width < 4 || r.height < 4) return false;
    if (r.right < -500 || r.bottom < -500) return false; // parked off-screen
    const cs = getComputedStyle(el);
    return cs.visibility !== "hidden" && cs.display !== "none" && !el.closest("[inert]");
  }

  // Text of a container, minus links and buttons (reported separately):
  // "Use a recovery code" as a link must not veto the prompt next to it.
  function textOf(node, actions) {
    const parts = node instanceof ShadowRoot ? [...node.children] : [node];
    let text = "";
    for (const p of parts) {
      if (!(p instanceof HTMLElement)) continue;
      let t = (p.innerText || "") + " " + slotted(p);
      for (const a of p.querySelectorAll(ACTIONS)) {
        const at = (a.textContent || a.value || "").replace(/\s+/g, " ").trim();
        if (at) {
          actions.push(at);
          t = t.replace(at, " ");
        }
      }
      text += " " + t;
    }
    return text;
  }

  function parentAcrossShadow(node) {
    if (node.parentElement) return node.parentElement;
    const root = node.getRootNode();
    return root instanceof ShadowRoot ? root.host : null;
  }

  // The prompt around a field: the nearest container with some text,
  // climbing out of shadow roots if the component itself is bare.
  function context(el) {
    const actions = [];
    let node = el;
    let text = "";
    for (let depth = 0; node && depth < 8; depth++) {
      const box = node.closest ? node.closest(CONTAINER) : null;
      const candidate = box || parentAcrossShadow(node);
      if (!candidate) break;
      const root = candidate.getRootNode();
      const scope = box || candidate;
      text = textOf(scope, actions);
      if (root instanceof ShadowRoot && clip(text).length < 40) {
        text += " " + textOf(root, actions);
      }
      if (clip(text).length >= 40 || candidate === document.body) break;
      node = parentAcrossShadow(scope);
    }
    return { context: clip(text), actions: clip(actions.join(" | ")) };
  }

  function labelText(el) {
    const parts = [];
    if (el.labels) for (const l of el.labels) parts.push(l.innerText, slotted(l));
    const by = el.getAttribute("aria-labelledby");
    if (by) {
      const root = el.getRootNode();
      for (const id of by.split(/\s+/)) {
        const t = root.getElementById ? root.getElementById(id) : null;
        if (t) parts.push(t.innerText);
      }
    }
    return clip(parts.join(" "));
  }

  function dataAttrs(el) {
    const out = [];
    for (const a of el.attributes) if (a.name.startsWith("data-")) out.push(a.value);
    return clip(out.join(" "));
  }

  function describe(el, index) {
    const r = el.getBoundingClientRect();
    const visible = isVisible(el, r);
    return {
      index,
      type: (el.getAttribute("type") || "").toLowerCase(),
      id: el.id || "",
      name: el.getAttribute("name") || "",
      autocomplete: el.getAttribute("autocomplete") || "",
      placeholder: el.getAttribute("placeholder") || "",
      ariaLabel: el.getAttribute("aria-label") || "",
      label: "", // addContext: innerText is costly, and no quick look needs it
      className: typeof el.className === "string" ? clip(el.className) : "",
      dataAttrs: dataAttrs(el),
      inputmode: el.getAttribute("inputmode") || "",
      pattern: el.getAttribute("pattern") || "",
      maxLength: el.maxLength,
      readOnly: el.readOnly,
      disabled: el.disabled,
      visible,
      x: r.x,
      y: r.y,
      width: r.width,
      height: r.height,
      inShadow: el.getRootNode() instanceof ShadowRoot,
      context: "",
      actions: "",
    };
  }

  // Prompt text is the expensive part (innerText lays text out): added only
  // when the inputs changed, for at most MAX_CONTEXTS fields that may take a code.
  const MAX_CONTEXTS = 24;
  const MAY_TAKE_CODE = new Set(["", "text", "tel", "number", "password"]);
  function addContext(result) {
    let budget = MAX_CONTEXTS;
    result.page.fields.forEach((f, i) => {
      f.label = labelText(result.inputs[i]);
      if (budget === 0 || !f.visible || f.readOnly || f.disabled || !MAY_TAKE_CODE.has(f.type)) return;
      if (f.maxLength > 50) return;
      budget--;
      const around = context(result.inputs[i]);
      f.context = around.context;
      f.actions = around.actions;
    });
    result.page.headings = headings();
    return result;
  }

  function headings() {
    const hs = [...document.querySelectorAll("h1, h2, [role=heading]")]
      .filter((h) => h.getClientRects().length > 0)
      .map((h) => h.innerText);
    return clip(hs.join(" | "));
  }

  // The cheap part, run on every (debounced) mutation: { inputs, roots,
  // page: PageScan without prompt text }.
  function quickScan() {
    const inputs = [];
    const roots = [];
    collect(document, inputs, roots);
    return {
      inputs,
      roots,
      page: { fields: inputs.map(describe), title: clip(document.title), headings: "" },
    };
  }

  // Everything the detector needs.
  const scan = () => addContext(quickScan());

  globalThis.__twofillFeatures = { quickScan, addContext, scan };
})();
