// ESLint flat config for the extension's JS (`cargo xtask test` runs it;
// `cargo xtask setup` installs the pinned tools into target/js-tools).
// Patterns are relative to the repository root: the check runs from there.
import js from "@eslint/js";
import globals from "globals";

const browserExtension = { ...globals.browser, ...globals.webextensions };

export default [
  js.configs.recommended,
  {
    // The service worker, popup and offscreen loaders are ES modules.
    files: ["extension/background.js", "extension/popup.js", "extension/offscreen.js"],
    languageOptions: { sourceType: "module", globals: browserExtension },
  },
  {
    // Content scripts are classic scripts, run in order in one scope
    // (manifest `content_scripts.js`), sharing only what they put on globalThis.
    files: ["extension/messages.js", "extension/features.js", "extension/content.js"],
    languageOptions: { sourceType: "script", globals: browserExtension },
  },
  {
    // The way to the native host: a classic script the module loaders
    // import for its effect (it sets globalThis.__twofillNative).
    files: ["extension/native.js"],
    languageOptions: { sourceType: "script", globals: browserExtension },
  },
  {
    // The sign-in pages the e2e tests serve.
    files: ["tests/fixtures/site/**/*.js"],
    languageOptions: { sourceType: "script", globals: globals.browser },
  },
  {
    // The OpenID provider the SSO tests run (Node).
    files: ["tests/oidc/**/*.mjs"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
  {
    rules: {
      // `catch (_)`: an ignored error, on purpose.
      "no-unused-vars": ["error", { caughtErrors: "none", argsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
    },
  },
];
