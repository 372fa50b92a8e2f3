/**
 * The console's only two assets, served by the module itself (no CDN: the console works offline
 * and under a strict Content-Security-Policy).
 */

/** The stylesheet: readable tables, visible focus, state colours that also differ in text. */
export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #57606a; --line: #d0d7de;
  --accent: #0b5cad; --ok: #116329; --warn: #7d4e00; --bad: #a40e26; --focus: #ff9f1c; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9da7b3;
  --line: #30363d; --accent: #58a6ff; --ok: #3fb950; --warn: #d29922; --bad: #f85149; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; top: 0; background: var(--bg); padding: .5rem 1rem; }
.skip:focus { left: .5rem; z-index: 1; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .5rem 1rem;
  border-bottom: 1px solid var(--line); }
.brand { margin: 0; font-weight: 700; }
nav { display: flex; gap: .25rem; flex-wrap: wrap; }
nav a { padding: .35rem .7rem; border-radius: 4px; text-decoration: none; }
nav a[aria-current="page"] { background: var(--accent); color: var(--bg); }
.sign-out { margin-left: auto; }
main { padding: 1rem; max-width: 90rem; }
main:focus { outline: none; }
h1 { font-size: 1.5rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .4rem .5rem; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--line); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd, dl.meta dd { margin: 0; overflow-wrap: anywhere; }
dl.meta { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 0 .5rem; font-size: .9em; }
dl.meta dt { color: var(--muted); }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85em; max-width: 40rem; }
.state { font-weight: 600; }
.state::before { content: "● "; }
.state[data-state="live"], .state[data-state="up"] { color: var(--ok); }
.state[data-state="paused"], .state[data-state="catching-up"], .state[data-state="rebuilding"],
.state[data-state="standby"], .state[data-state="starting"] { color: var(--warn); }
.state[data-state="faulted"], .state[data-state="down"], .state[data-state="stopped"] { color: var(--bad); }
.error { color: var(--bad); overflow-wrap: anywhere; }
.muted, .live-status { color: var(--muted); }
.flash { padding: .5rem .75rem; border-left: 4px solid var(--ok); background: color-mix(in srgb, var(--ok) 10%, transparent); }
.flash.error { border-color: var(--bad); }
form.inline { display: inline; }
.actions { white-space: nowrap; }
button, .button { font: inherit; padding: .3rem .8rem; border: 1px solid var(--line); border-radius: 4px;
  background: var(--bg); color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; }
button.danger { border-color: var(--bad); color: var(--bad); }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
input { font: inherit; padding: .3rem .5rem; min-width: 20rem; max-width: 100%; }
form[role="search"] input, form[role="search"] label { display: inline-block; }
ul.tree, ul.tree ul { list-style: none; padding-left: 1.25rem; border-left: 1px solid var(--line); }
ul.tree li { margin: .3rem 0; }
.cause { font-weight: 600; }
.type { font-weight: 600; }
`;

/**
 * Live updates: every `data-refresh-ms` it fetches the page's `data-live` JSON and writes each
 * value as text into the element with the matching `data-key` (and its `data-state`, for the
 * colour). Text only, never markup.
 */
export const CONSOLE_JS = `'use strict';
(function () {
  var body = document.body;
  var url = body.getAttribute('data-live');
  if (!url) return;
  var every = Number(body.getAttribute('data-refresh-ms')) || 2000;
  var note = document.getElementById('live-status');
  function tick() {
    fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(function (data) {
        var values = data.values || {};
        document.querySelectorAll('[data-key]').forEach(function (element) {
          var value = values[element.getAttribute('data-key')];
          if (typeof value !== 'string') return;
          if (element.textContent !== value) element.textContent = value;
          if (element.hasAttribute('data-state')) element.setAttribute('data-state', value);
        });
        if (note) note.textContent = 'Figures updated at ' + new Date().toLocaleTimeString() + '.';
      })
      .catch(function (error) {
        if (note) note.textContent = 'Live updates failed (' + error.message + '); retrying.';
      })
      .then(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
`;
