import type { INestApplication } from '@nestjs/common';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { ProjectionRegistry } from '@eventcore/nestjs';
import {
  type Browser,
  describeWithBrowser,
  launchBrowser,
  screenshot,
  startBankWithConsole,
} from './support/browser';

const TOKEN = 'console-browser-admin-token';
const CORRELATION = 'transfer-a-to-b';

/**
 * The console of the running sample bank, driven through headless Chromium as an operator would:
 * sign in, pause a projection by clicking, watch a state change arrive without reloading, open a
 * stream, follow a trace. Screenshots go to `.ci/out/`.
 */
describeWithBrowser('operations console in Chromium', () => {
  let app: INestApplication;
  let url: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ({ app, url } = await startBankWithConsole({ console: { token: TOKEN, refreshMs: 250 } }));
    const http = request(url);
    await http.post('/accounts').send({ accountId: 'a', owner: 'Ann' }).expect(201);
    await http.post('/accounts').send({ accountId: 'b', owner: 'Bob' }).expect(201);
    await http.post('/accounts/a/deposits').send({ amount: 100 }).expect(201);
    await http
      .post('/transfers')
      .set('X-Correlation-Id', CORRELATION)
      .send({ from: 'a', to: 'b', amount: 30 })
      .expect(201);
    browser = await launchBrowser();
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  const state = (name: string) => page.locator(`[data-key="p:${name}:state"]`).first();

  it('asks for the admin token, then shows the overview', async () => {
    await page.goto(`${url}/eventcore/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.locator('[data-key="store:status"]').textContent()).toBe('up');
    expect(await page.locator('[data-key="log:head"]').textContent()).toBe('5');
    await page.getByText('nothing holds subscribers back').waitFor();
    await expect(waitForText(state('account-balances'), 'live')).resolves.toBe('live');
    // The rate needs two samples of the log head: the first live update brings it.
    await page
      .locator('[data-key="log:rate"]')
      .filter({ hasText: /^\d+\.\d$/ })
      .waitFor();
    await screenshot(page, 'overview');
  });

  it('is usable with the keyboard: skip link, then a search typed and sent without a mouse', async () => {
    await page.goto(`${url}/eventcore/streams`);
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Skip to main content');
    await page.keyboard.press('Enter');
    // The skip link stays on this page and moves focus to its content.
    expect(page.url()).toBe(`${url}/eventcore/streams#main`);
    expect(await page.locator(':focus').getAttribute('id')).toBe('main');
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').getAttribute('id')).toBe('prefix');
    await page.keyboard.type('account-');
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'account-b', exact: true }).waitFor();
  });

  it('pauses a projection by clicking, and shows the new state', async () => {
    await page.getByRole('link', { name: 'Projections' }).click();
    await page.getByRole('heading', { name: 'Projections' }).waitFor();
    await page.getByRole('button', { name: 'Pause account-balances' }).click();

    await page.getByRole('heading', { name: 'Projection account-balances' }).waitFor();
    await page.getByText('The projection is paused.').waitFor();
    expect(await state('account-balances').textContent()).toBe('paused');
    expect(app.get(ProjectionRegistry).get('account-balances').state).toBe('paused');
    await screenshot(page, 'projection-paused');
  });

  it('updates a live page when the state changes elsewhere', async () => {
    await page.getByRole('link', { name: 'Projections' }).click();
    expect(await state('account-balances').textContent()).toBe('paused');
    // Resumed by someone else (another operator, the API): no reload here.
    await app.get(ProjectionRegistry).resume('account-balances');
    await expect(waitForText(state('account-balances'), 'live')).resolves.toBe('live');
    expect(await state('account-balances').getAttribute('data-state')).toBe('live');
    await screenshot(page, 'projections');
  });

  it('searches streams by prefix and opens one with its events, versions, metadata and data', async () => {
    await page.getByRole('link', { name: 'Streams' }).click();
    await page.getByLabel('Stream id prefix').fill('account-');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'account-a', exact: true }).click();

    await page.getByRole('heading', { name: 'Stream account-a' }).waitFor();
    const rows = page.locator('table.events tbody tr');
    expect(await rows.count()).toBe(3);
    expect(await rows.nth(0).locator('th').textContent()).toBe('1');
    expect(await rows.nth(2).textContent()).toContain(CORRELATION);
    expect(await rows.nth(1).locator('pre').first().textContent()).toContain('"amount": 100');
    await screenshot(page, 'stream');
  });

  it('follows a trace from an event to every event its correlation id caused, across streams', async () => {
    await page.getByRole('link', { name: `Trace correlation ${CORRELATION}` }).click();
    await page.getByRole('heading', { name: 'Trace' }).waitFor();
    expect(await page.getByLabel('Correlation id').inputValue()).toBe(CORRELATION);
    const tree = page.locator('ul.tree');
    await tree.waitFor();
    const text = await tree.textContent();
    expect(text).toContain('account-a @ 3');
    expect(text).toContain('account-b @ 2');
    expect(await page.locator('main').innerText()).toContain('2 events in 2 streams, by cause');
    await screenshot(page, 'trace');
    // The tree's links lead back to the streams.
    await page.getByRole('link', { name: 'account-b @ 2' }).click();
    await page.getByRole('heading', { name: 'Stream account-b' }).waitFor();
  });

  it('refuses a POST without the CSRF token with 403, even from a signed-in browser', async () => {
    const forged = await page.request.post(`${url}/eventcore/projections/account-balances/pause`, {
      form: { reason: 'no token' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain('no valid CSRF token');
    expect(app.get(ProjectionRegistry).get('account-balances').state).toBe('live');
  });
});

/** Waits (up to 10 s) until the element's whole text is `expected`; resolves with the text. */
async function waitForText(
  locator: ReturnType<Page['locator']>,
  expected: string,
): Promise<string | null> {
  await locator.filter({ hasText: new RegExp(`^${expected}$`) }).waitFor({ timeout: 10_000 });
  return locator.textContent();
}
