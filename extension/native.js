// twofill's way to the native host: one long-lived `connectNative` port
// per host name, reused for every request, so a fill costs one round trip
// to a process that is already running (with its config read, its vault or
// server connection open) instead of a new process per message. Replies are
// matched to requests by their id. When the port closes (the host exited,
// or this worker was stopped and woken again) the next request opens a new
// one. Browsers without `connectNative` get one-shot messages, as does the
// benchmark's "old path" build (the `twofill_bench_old_path` manifest key,
// which only `cargo xtask bench` sets). A classic script: the module
// loaders import it for its effect, and Rust calls `__twofillNative.ask`.
globalThis.__twofillNative ??= (() => {
  "use strict";
  const oneShot = !chrome.runtime.connectNative || chrome.runtime.getManifest().twofill_bench_old_path === true;
  const ports = new Map();

  function open(host) {
    const port = chrome.runtime.connectNative(host);
    const link = { port, waiting: new Map() };
    port.onMessage.addListener((reply) => {
      // A reply without a known id (the host's answer to a frame it could
      // not read) belongs to the oldest request still waiting.
      const id = link.waiting.has(reply?.id) ? reply.id : link.waiting.keys().next().value;
      const waiter = link.waiting.get(id);
      link.waiting.delete(id);
      waiter?.resolve(reply);
    });
    port.onDisconnect.addListener((p) => {
      if (ports.get(host) === link) ports.delete(host);
      // Chromium reports why in lastError, Firefox on the port; the words
      // are the ones sendNativeMessage uses ("… host not found", "… forbidden").
      const why = p.error?.message || chrome.runtime.lastError?.message || "the twofill host closed the connection";
      for (const waiter of link.waiting.values()) waiter.reject(new Error(why));
      link.waiting.clear();
    });
    ports.set(host, link);
    return link;
  }

  // `alone`: a request that may be held long (an SMS wait) gets a host
  // process of its own, since the port's host answers one message at a time.
  function ask(host, message, alone) {
    if (oneShot || alone) return chrome.runtime.sendNativeMessage(host, message);
    const link = ports.get(host) ?? open(host);
    return new Promise((resolve, reject) => {
      link.waiting.set(message.id, { resolve, reject });
      try {
        link.port.postMessage(message);
      } catch (err) {
        link.waiting.delete(message.id);
        if (ports.get(host) === link) ports.delete(host);
        reject(err);
      }
    });
  }

  return Object.freeze({ ask, oneShot });
})();
