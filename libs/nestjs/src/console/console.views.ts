import type {
  BlockingTransaction,
  DeadLetter,
  OldestWriteTransaction,
  ProjectionStatus,
  RecordedEvent,
  StreamSummary,
} from '@eventcore/core';
import { CSRF_FIELD } from './console-security';
import type { Overview, ProjectionDetail, StoreHealth, StreamPage } from './console.service';
import { html, type SafeHtml } from './html';
import type { TraceNode, TraceRoot } from './trace-tree';

/** What every page needs besides its own data. */
export interface ViewContext {
  /** Absolute path of the console's mount point, no trailing slash. */
  readonly base: string;
  /** This page's own path and query. */
  readonly here: string;
  readonly csrf: string;
  /** Show the sign-out button (token sign-in). */
  readonly signOut: boolean;
  readonly refreshMs: number;
}

type Section = 'overview' | 'projections' | 'streams' | 'trace' | 'none';

/** Flash messages after an action, by the code in `?done=`; unknown codes show nothing. */
const DONE: Readonly<Record<string, string>> = {
  paused: 'The projection is paused.',
  resumed: 'The projection is resumed.',
  rebuilt: 'The read model was emptied; the projection is replaying the log.',
  retried: 'The event was handled; its dead letter is removed.',
  skipped: 'The dead letter is removed; the projection will not handle that event.',
};

const enc = encodeURIComponent;

/** The page frame: skip link, navigation, one `main`, the CSS and (on live pages) the script. */
export function layout(
  ctx: ViewContext,
  page: {
    readonly title: string;
    readonly section: Section;
    readonly body: SafeHtml;
    readonly live?: boolean;
    readonly done?: string;
  },
): string {
  const nav = (section: Section, href: string, label: string) =>
    html`<a href="${href}" ${section === page.section ? html` aria-current="page"` : ''}
      >${label}</a
    >`;
  const flash = page.done !== undefined ? DONE[page.done] : undefined;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<base href="${ctx.base}/">
<title>${page.title} · EventCore console</title>
<link rel="stylesheet" href="assets/console.css">
${page.live && html`<script src="assets/console.js" defer></script>`}
</head>
<body${page.live && html` data-live="api/status" data-refresh-ms="${ctx.refreshMs}"`}>
<a class="skip" href="${ctx.here}#main">Skip to main content</a>
<header>
<p class="brand">EventCore console</p>
<nav aria-label="Console">
${nav('overview', './', 'Overview')}
${nav('projections', 'projections', 'Projections')}
${nav('streams', 'streams', 'Streams')}
${nav('trace', 'trace', 'Trace')}
</nav>
${ctx.signOut && html`<form method="post" action="sign-out" class="sign-out">${csrfField(ctx)}<button type="submit">Sign out</button></form>`}
</header>
<main id="main" tabindex="-1">
<h1>${page.title}</h1>
${flash && html`<p class="flash" role="status">${flash}</p>`}
${page.live && html`<p class="live-status" id="live-status">Figures refresh every ${seconds(ctx.refreshMs / 1000)}.</p>`}
${page.body}
</main>
</body>
</html>
`.toString();
}

function csrfField(ctx: ViewContext): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${ctx.csrf}" />`;
}

/** A POST button; `label` says what it does to what (screen readers hear it out of context). */
function actionButton(ctx: ViewContext, action: string, text: string, label: string): SafeHtml {
  return html`<form method="post" action="${action}" class="inline">
    ${csrfField(ctx)}<button type="submit" aria-label="${label}">${text}</button>
  </form>`;
}

export function overviewPage(ctx: ViewContext, overview: Overview): string {
  const values = liveValues(overview, undefined);
  const head = overview.head;
  const body = html` <section aria-labelledby="store-h">
      <h2 id="store-h">Event store</h2>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <span class="state" data-key="store:status" data-state="${values['store:status']}"
            >${values['store:status']}</span
          >
        </dd>
        <dt>Ping latency</dt>
        <dd data-key="store:latency">${values['store:latency']}</dd>
        ${storeDetails(overview.store)}
        <dt>Log head (global position)</dt>
        <dd data-key="log:head">${values['log:head']}</dd>
        <dt>Last event recorded</dt>
        <dd data-key="log:recorded">${values['log:recorded']}</dd>
        <dt>Events per second (sampled)</dt>
        <dd data-key="log:rate">${values['log:rate']}</dd>
      </dl>
      ${head === undefined && overview.store.up && html`<p>The log head needs a store inspection (the <code>inspection</code> option).</p>`}
    </section>
    <section aria-labelledby="hold-h">
      <h2 id="hold-h">What holds subscribers back</h2>
      <p>
        Subscribers read the log up to the oldest write transaction still open on the database
        server, in any database.
      </p>
      ${holdBackView(overview.holdBack)}
    </section>
    <section aria-labelledby="proj-h">
      <h2 id="proj-h">Projections</h2>
      ${projectionTable(
        overview.projections.map((status) => ({ status, deadLetters: undefined })),
        undefined,
      )}
    </section>`;
  return layout(ctx, { title: 'Overview', section: 'overview', body, live: true });
}

function storeDetails(store: StoreHealth): SafeHtml | undefined {
  if (!store.up)
    return html`<dt>Error</dt>
      <dd>${store.error}</dd>`;
  const d = store.details as {
    pool?: { total?: number; idle?: number; waiting?: number };
    schemaVersion?: number | null;
    circuit?: string;
  };
  return html`${
    d.pool &&
    html`<dt>Connections (total / idle / waiting)</dt>
      <dd>${d.pool.total} / ${d.pool.idle} / ${d.pool.waiting}</dd>`
  }
  ${
    d.schemaVersion !== undefined &&
    html`<dt>Schema version</dt>
      <dd>${d.schemaVersion ?? 'none'}</dd>`
  }
  ${
    d.circuit !== undefined &&
    html`<dt>Circuit breaker</dt>
      <dd>${d.circuit}</dd>`
  }`;
}

function holdBackView(holdBack: OldestWriteTransaction): SafeHtml {
  if (!holdBack.known) {
    return html`<p>
      <strong>Unknown</strong>: <span data-key="hold:summary">${holdBackSummary(holdBack)}</span>
    </p>`;
  }
  const tx = holdBack.transaction;
  return html`<p data-key="hold:summary">${holdBackSummary(holdBack)}</p>
    ${tx && transactionTable(tx)}`;
}

function transactionTable(tx: BlockingTransaction): SafeHtml {
  return html`<table>
    <caption>
      Oldest open write transaction on the server
    </caption>
    <thead>
      <tr>
        <th scope="col">PID</th>
        <th scope="col">Database</th>
        <th scope="col">Application</th>
        <th scope="col">State</th>
        <th scope="col">Age</th>
        <th scope="col">Query start</th>
      </tr>
    </thead>
    <tbody>
      <tr>
        <td>${tx.pid}</td>
        <td>${tx.database ?? '?'}</td>
        <td>${tx.applicationName || '—'}</td>
        <td>${tx.state ?? '?'}</td>
        <td data-key="hold:age">${seconds(tx.ageSeconds)}</td>
        <td>${tx.queryStart ?? '—'}</td>
      </tr>
    </tbody>
  </table>`;
}

function holdBackSummary(holdBack: OldestWriteTransaction): string {
  if (!holdBack.known) return holdBack.reason;
  const tx = holdBack.transaction;
  if (tx === null) return 'No write transaction is open: nothing holds subscribers back.';
  return `Process ${tx.pid} in database ${tx.database ?? '?'} has held a write transaction open for ${seconds(tx.ageSeconds)}.`;
}

/** The figures that live pages refresh, by key; the same text the pages render first. */
export function liveValues(
  overview: Overview | undefined,
  projections: readonly { status: ProjectionStatus; deadLetters: number }[] | undefined,
): Record<string, string> {
  const values: Record<string, string> = {};
  if (overview !== undefined) {
    values['store:status'] = overview.store.up ? 'up' : 'down';
    values['store:latency'] = overview.store.up ? `${overview.store.latencyMs} ms` : '—';
    values['log:head'] =
      overview.head === undefined ? 'unknown' : String(overview.head.globalPosition);
    values['log:recorded'] = overview.head?.recordedAt ?? '—';
    values['log:rate'] =
      overview.eventsPerSecond === null ? 'sampling…' : overview.eventsPerSecond.toFixed(1);
    values['hold:summary'] = holdBackSummary(overview.holdBack);
    if (overview.holdBack.known && overview.holdBack.transaction !== null) {
      values['hold:age'] = seconds(overview.holdBack.transaction.ageSeconds);
    }
    for (const status of overview.projections) Object.assign(values, statusValues(status));
  }
  for (const { status, deadLetters } of projections ?? []) {
    Object.assign(values, statusValues(status));
    values[`p:${status.name}:dead`] = String(deadLetters);
  }
  return values;
}

function statusValues(status: ProjectionStatus): Record<string, string> {
  const key = (field: string) => `p:${status.name}:${field}`;
  return {
    [key('state')]: status.state,
    [key('position')]: status.position ?? 'start',
    [key('lag-events')]: String(status.lagEvents),
    [key('lag-seconds')]: seconds(status.lagSeconds),
    [key('handled')]: String(status.handledEvents),
    [key('error')]: status.lastError ?? '—',
  };
}

function projectionTable(
  rows: readonly { status: ProjectionStatus; deadLetters: number | undefined }[],
  ctx: ViewContext | undefined,
): SafeHtml {
  if (rows.length === 0) return html`<p>No projection is registered in this application.</p>`;
  return html`<table>
    <caption>
      Projections and their progress
    </caption>
    <thead>
      <tr>
        <th scope="col">Name</th>
        <th scope="col">State</th>
        <th scope="col">Lag (events)</th>
        <th scope="col">Lag (time)</th>
        ${
          ctx &&
          html`<th scope="col">Dead letters</th>
            <th scope="col">Actions</th>`
        }
        <th scope="col">Last error</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(({ status, deadLetters }) => {
        const v = statusValues(status);
        const k = (field: string) => `p:${status.name}:${field}`;
        return html`<tr>
          <th scope="row"><a href="projections/${enc(status.name)}">${status.name}</a></th>
          <td>
            <span class="state" data-key="${k('state')}" data-state="${status.state}"
              >${status.state}</span
            >
          </td>
          <td data-key="${k('lag-events')}">${v[k('lag-events')]}</td>
          <td data-key="${k('lag-seconds')}">${v[k('lag-seconds')]}</td>
          ${
            ctx &&
            html`<td data-key="${k('dead')}">${deadLetters}</td>
              <td class="actions">${controlButtons(ctx, status)}</td>`
          }
          <td data-key="${k('error')}" class="error">${v[k('error')]}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

/** Pause and resume as buttons (POST), rebuild as a link to its confirmation page. */
function controlButtons(ctx: ViewContext, status: ProjectionStatus): SafeHtml {
  const path = `projections/${enc(status.name)}`;
  return html`${actionButton(ctx, `${path}/pause`, 'Pause', `Pause ${status.name}`)}
    ${actionButton(ctx, `${path}/resume`, 'Resume', `Resume ${status.name}`)}
    <a class="button" href="${path}/rebuild" aria-label="Rebuild ${status.name}…">Rebuild…</a>`;
}

export function projectionsPage(
  ctx: ViewContext,
  rows: readonly { status: ProjectionStatus; deadLetters: number }[],
  done: string | undefined,
): string {
  const body = html`<p>
      Pause stops a projection after its batch in flight; resume restarts it (also after a fault);
      rebuild empties its read model and replays the log.
    </p>
    ${projectionTable(rows, ctx)}`;
  return layout(ctx, { title: 'Projections', section: 'projections', body, live: true, done });
}

export function projectionPage(
  ctx: ViewContext,
  detail: ProjectionDetail,
  done: string | undefined,
  inspects: boolean,
): string {
  const { status, deadLetters } = detail;
  const v = statusValues(status);
  const k = (field: string) => `p:${status.name}:${field}`;
  const path = `projections/${enc(status.name)}`;
  const body = html`<dl class="facts">
      <dt>State</dt>
      <dd>
        <span class="state" data-key="${k('state')}" data-state="${status.state}"
          >${status.state}</span
        >
      </dd>
      <dt>Checkpoint</dt>
      <dd><code data-key="${k('position')}">${v[k('position')]}</code></dd>
      <dt>Lag (events)</dt>
      <dd data-key="${k('lag-events')}">${v[k('lag-events')]}</dd>
      <dt>Lag (time)</dt>
      <dd data-key="${k('lag-seconds')}">${v[k('lag-seconds')]}</dd>
      <dt>Handled on this instance</dt>
      <dd data-key="${k('handled')}">${v[k('handled')]}</dd>
      <dt>Last error</dt>
      <dd class="error" data-key="${k('error')}">${v[k('error')]}</dd>
    </dl>
    <h2>Actions</h2>
    <p class="actions">${controlButtons(ctx, status)}</p>
    <h2 id="dead-h">Dead letters</h2>
    ${
      deadLetters.length === 0
        ? html`<p>None: no event was given up on.</p>`
        : html`<table aria-labelledby="dead-h">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Stream</th>
                <th scope="col">Type</th>
                <th scope="col">Position</th>
                <th scope="col">Error</th>
                <th scope="col">Recorded</th>
                ${inspects && html`<th scope="col">Actions</th>`}
              </tr>
            </thead>
            <tbody>
              ${deadLetters.map(
                (letter) =>
                  html`<tr>
                    <th scope="row">
                      <a href="${path}/dead-letters/${enc(letter.eventId)}">${letter.eventId}</a>
                    </th>
                    <td><a href="streams/${enc(letter.streamId)}">${letter.streamId}</a></td>
                    <td>${letter.eventType}</td>
                    <td>${letter.globalPosition}</td>
                    <td class="error">${letter.error}</td>
                    <td>${letter.recordedAt}</td>
                    ${inspects && html`<td class="actions">${letterButtons(ctx, status.name, letter)}</td>`}
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    ${!inspects && deadLetters.length > 0 && html`<p>Retry and skip need a store inspection (the <code>inspection</code> option).</p>`}`;
  return layout(ctx, {
    title: `Projection ${status.name}`,
    section: 'projections',
    body,
    live: true,
    done,
  });
}

function letterButtons(ctx: ViewContext, projection: string, letter: DeadLetter): SafeHtml {
  const path = `projections/${enc(projection)}/dead-letters/${enc(letter.eventId)}`;
  return html`${actionButton(ctx, `${path}/retry`, 'Retry', `Retry event ${letter.eventId}`)}
  ${actionButton(ctx, `${path}/skip`, 'Skip', `Skip event ${letter.eventId}`)}`;
}

export function rebuildPage(ctx: ViewContext, status: ProjectionStatus): string {
  const path = `projections/${enc(status.name)}`;
  const body = html`<p>
      Rebuilding <strong>${status.name}</strong> empties its read model and replays the whole log
      into it. Readers see an incomplete read model until it has caught up.
    </p>
    <form method="post" action="${path}/rebuild">
      ${csrfField(ctx)}
      <input type="hidden" name="confirm" value="rebuild" />
      <button type="submit" class="danger">Rebuild ${status.name}</button>
      <a href="${path}">Cancel</a>
    </form>`;
  return layout(ctx, { title: `Rebuild ${status.name}?`, section: 'projections', body });
}

export function deadLetterPage(
  ctx: ViewContext,
  projection: string,
  letter: DeadLetter,
  event: RecordedEvent | undefined,
  inspects: boolean,
): string {
  const body = html`<dl class="facts">
      <dt>Projection</dt>
      <dd><a href="projections/${enc(projection)}">${projection}</a></dd>
      <dt>Error</dt>
      <dd class="error">${letter.error}</dd>
      <dt>Recorded</dt>
      <dd>${letter.recordedAt}</dd>
    </dl>
    ${inspects && html`<p class="actions">${letterButtons(ctx, projection, letter)}</p>`}
    <h2>Event</h2>
    ${event === undefined ? html`<p>Event ${letter.eventId} is not in the store any more.</p>` : eventDetails(event)}`;
  return layout(ctx, { title: `Dead letter ${letter.eventId}`, section: 'projections', body });
}

function eventDetails(event: RecordedEvent): SafeHtml {
  return html`<dl class="facts">
      <dt>Stream</dt>
      <dd>
        <a href="streams/${enc(event.streamId)}">${event.streamId}</a> version
        ${event.streamVersion}
      </dd>
      <dt>Type</dt>
      <dd>${event.type} (schema version ${event.schemaVersion})</dd>
      <dt>Global position</dt>
      <dd>${event.globalPosition}</dd>
      <dt>Correlation id</dt>
      <dd>
        <a href="trace?correlationId=${enc(event.metadata.correlationId)}"
          >${event.metadata.correlationId}</a
        >
      </dd>
      <dt>Causation id</dt>
      <dd>${event.metadata.causationId}</dd>
    </dl>
    <pre>${json(event.data)}</pre>`;
}

export function streamsPage(
  ctx: ViewContext,
  prefix: string | undefined,
  results: readonly StreamSummary[] | undefined,
  more: boolean,
  inspects: boolean,
): string {
  const last = results?.[results.length - 1];
  const body = html`<form method="get" action="streams" role="search">
      <label for="prefix">Stream id${inspects ? ' prefix' : ''}</label>
      <input
        id="prefix"
        name="prefix"
        value="${prefix ?? ''}"
        autocomplete="off"
        spellcheck="false"
      />
      <button type="submit">Search</button>
    </form>
    ${!inspects && html`<p>Without a store inspection only an exact stream id is found.</p>`}
    ${
      results !== undefined &&
      (results.length === 0
        ? html`<p>No stream id starts with “${prefix}”.</p>`
        : html`<table>
              <caption>
                Streams starting with “${prefix}”
              </caption>
              <thead>
                <tr>
                  <th scope="col">Stream</th>
                  <th scope="col">Version</th>
                </tr>
              </thead>
              <tbody>
                ${results.map(
                  (s) =>
                    html`<tr>
                      <th scope="row"><a href="streams/${enc(s.streamId)}">${s.streamId}</a></th>
                      <td>${s.version}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
            ${more && last && html`<p><a href="streams?prefix=${enc(prefix ?? '')}&amp;after=${enc(last.streamId)}">Next streams</a></p>`}`)
    }`;
  return layout(ctx, { title: 'Streams', section: 'streams', body });
}

export function streamPage(ctx: ViewContext, page: StreamPage, pageSize: number): string {
  const path = `streams/${enc(page.streamId)}`;
  const previous = page.from > 1 ? Math.max(1, page.from - pageSize) : undefined;
  const next =
    page.from + page.events.length <= page.version ? page.from + page.events.length : undefined;
  const body =
    page.version === 0
      ? html`<p>This stream has no events.</p>`
      : html`<p>
            Version ${page.version}: events ${page.from} to ${page.from + page.events.length - 1}.
          </p>
          <table class="events">
            <caption>
              Events of ${page.streamId}
            </caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Type</th>
                <th scope="col">Position</th>
                <th scope="col">Recorded</th>
                <th scope="col">Metadata</th>
                <th scope="col">Data</th>
              </tr>
            </thead>
            <tbody>
              ${page.events.map(
                (event) =>
                  html`<tr id="v${event.streamVersion}">
                    <th scope="row">${event.streamVersion}</th>
                    <td>
                      ${event.type}${event.schemaVersion !== 1 && html` (v${event.schemaVersion})`}
                    </td>
                    <td>${event.globalPosition}</td>
                    <td>${event.recordedAt}</td>
                    <td>${metadataView(event)}</td>
                    <td><pre>${json(event.data)}</pre></td>
                  </tr>`,
              )}
            </tbody>
          </table>
          <p class="pager">
            ${previous !== undefined && html`<a href="${path}?from=${previous}">Earlier events</a>`}
            ${next !== undefined && html`<a href="${path}?from=${next}">Later events</a>`}
          </p>`;
  return layout(ctx, { title: `Stream ${page.streamId}`, section: 'streams', body });
}

function metadataView(event: RecordedEvent): SafeHtml {
  const m = event.metadata;
  const custom = Object.keys(m.custom ?? {}).length > 0;
  return html`<dl class="meta">
    <dt>Correlation</dt>
    <dd>
      <a
        href="trace?correlationId=${enc(m.correlationId)}"
        aria-label="Trace correlation ${m.correlationId}"
        >${m.correlationId}</a
      >
    </dd>
    <dt>Causation</dt>
    <dd>${m.causationId}</dd>
    ${
      m.userId !== null &&
      html`<dt>User</dt>
        <dd>${m.userId}</dd>`
    }
    <dt>Event id</dt>
    <dd>${event.id}</dd>
    ${
      event.tags.length > 0 &&
      html`<dt>Tags</dt>
        <dd>${event.tags.join(', ')}</dd>`
    }
    ${
      custom &&
      html`<dt>Custom</dt>
        <dd><pre>${json(m.custom)}</pre></dd>`
    }
  </dl>`;
}

export function tracePage(
  ctx: ViewContext,
  correlationId: string | undefined,
  trace: { roots: TraceRoot[]; events: number; cut: boolean } | undefined,
  inspects: boolean,
): string {
  const body = html`<form method="get" action="trace" role="search">
      <label for="correlationId">Correlation id</label>
      <input
        id="correlationId"
        name="correlationId"
        value="${correlationId ?? ''}"
        autocomplete="off"
        spellcheck="false"
      />
      <button type="submit">Trace</button>
    </form>
    ${!inspects && html`<p>Tracing needs a store inspection (the <code>inspection</code> option).</p>`}
    ${
      trace !== undefined &&
      (trace.events === 0
        ? html`<p>No event carries correlation id “${correlationId}”.</p>`
        : html`<p>
              ${trace.events} events${trace.cut && ' (the first ones only)'} in
              ${new Set(collectStreams(trace.roots)).size} streams, by cause:
            </p>
            <ul class="tree">
              ${trace.roots.map(
                (root) =>
                  html`<li>
                    <span class="cause">Command ${root.causationId}</span>
                    <ul>
                      ${root.events.map(traceNode)}
                    </ul>
                  </li>`,
              )}
            </ul>`)
    }`;
  return layout(ctx, { title: 'Trace', section: 'trace', body });
}

function traceNode(node: TraceNode): SafeHtml {
  const e = node.event;
  return html`<li>
    <a href="streams/${enc(e.streamId)}#v${e.streamVersion}">${e.streamId} @ ${e.streamVersion}</a>
    <span class="type">${e.type}</span>
    <span class="muted">position ${e.globalPosition}, ${e.recordedAt}</span> ${
      node.children.length > 0 &&
      html`<ul>
        ${node.children.map(traceNode)}
      </ul>`
    }
  </li>`;
}

function collectStreams(roots: readonly TraceRoot[]): string[] {
  const out: string[] = [];
  const walk = (node: TraceNode) => {
    out.push(node.event.streamId);
    node.children.forEach(walk);
  };
  roots.forEach((root) => root.events.forEach(walk));
  return out;
}

export function signInPage(ctx: ViewContext, next: string, failed: boolean): string {
  const body = html`${failed && html`<p class="flash error" role="alert">That is not the admin token.</p>`}
    <form method="post" action="sign-in">
      ${csrfField(ctx)}
      <input type="hidden" name="next" value="${next}" />
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required />
      <button type="submit">Sign in</button>
    </form>`;
  return layout({ ...ctx, signOut: false }, { title: 'Sign in', section: 'none', body });
}

export function errorPage(ctx: ViewContext, status: number, title: string, detail: string): string {
  const body = html`<p class="error" role="alert">${detail}</p>
    <p>HTTP status ${status}. <a href="./">Back to the overview</a></p>`;
  return layout(ctx, { title, section: 'none', body });
}

function seconds(value: number): string {
  return value < 10 ? `${value.toFixed(1)} s` : `${Math.round(value)} s`;
}

/** Event data as indented JSON; bytes of a binary encoding arrive as base64 text. */
function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'undefined';
}
