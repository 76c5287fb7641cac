// Offscreen document (reason CLIPBOARD): writes the clipboard for the
// service worker, which has no DOM. A document without focus cannot use
// navigator.clipboard, so this uses a copy event and execCommand("copy"),
// which also lets it write the empty string.
// offscreen.html loads messages.js first.
const MSG = globalThis.__twofillMessages;

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id) return false;
  if (message?.type !== MSG.WORKER_WRITE_CLIPBOARD || typeof message.text !== "string") return false;
  const text = message.text;
  const onCopy = (event) => {
    event.clipboardData.setData("text/plain", text);
    event.preventDefault();
  };
  document.addEventListener("copy", onCopy, { once: true });
  const ok = document.execCommand("copy");
  document.removeEventListener("copy", onCopy);
  sendResponse({ ok });
  return false;
});
