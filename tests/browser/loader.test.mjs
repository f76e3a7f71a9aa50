// The loader (www/loader.js) embedded in a page of another origin, as a shop
// embeds it: container mode, parameters, CORS, failures, and its size.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { startWorker, createProject } from '../e2e/worker.mjs';
import { launch, openPage, screenshot } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let worker;
let browser;
let api;
let shopServer;
let shopOrigin;
before(async () => {
  worker = await startWorker({ assets: true });
  // The shop is another origin (another port) on loopback too: Chromium
  // refuses scripts from loopback on pages from public addresses.
  shopServer = http.createServer((req, res) => {
    const tag = new URL(req.url, 'http://x').searchParams.get('tag');
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>Shop</title><link rel="icon" href="data:,"><h1>Shop</h1>
      <button id="buy">Buy</button><p id="text">Shop text</p><div id="offer"></div>
      ${tag}<script>document.title = 'Shop ready';</script>`);
  });
  await new Promise((resolve) => shopServer.listen(0, '127.0.0.1', resolve));
  shopOrigin = `http://localhost:${shopServer.address().port}`;
  browser = await launch();
  api = await createProject(worker.base, 'shop');
  await api.putPool('p');
  await api.importJson('p', ['P-1', 'P-2', 'P-3']);
  // No close button of its own, and a style that would restyle every button
  // of the host page if it were not scoped.
  await api.putLayer('box', {
    template: '<style>button { background: rgb(255, 0, 0); } p { color: rgb(0, 128, 0); }</style>' +
      '<h2>Hello {{ customer.id }}</h2><p>Language {{ params.lang }}, code ' +
      '<b class="codepool-code">{{ vouchers["p"].assign_available_code() }}</b></p>',
  });
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  shopServer?.close();
});

/** A shop page on another origin embedding the loader with these attributes. */
async function shop(attributes, { abortApi = false } = {}) {
  const visit = await openPage(browser);
  const tag = `<script async src="${worker.base}/loader.js" ${attributes}></script>`;
  if (abortApi) await visit.page.route(`${worker.base}/v1/**`, (route) => route.abort());
  await visit.page.goto(`${shopOrigin}/product?tag=${encodeURIComponent(tag)}`);
  await visit.page.locator('script[data-state]').waitFor({ state: 'attached' });
  visit.state = () => visit.page.locator('script[data-state]').getAttribute('data-state');
  return visit;
}

test('minified with esbuild, the loader is at most 3 KB', () => {
  const minified = execFileSync(path.join(root, 'node_modules/.bin/esbuild'), ['--minify', 'www/loader.js'], { cwd: root });
  assert.ok(minified.length <= 3 * 1024, `loader.js minified is ${minified.length} bytes`);
});

test('in a container the page names, from another origin, with customer and parameters', async () => {
  const { page, problems, state } = await shop('data-project="shop" data-layer="box" data-customer="ada" data-params="lang=fr" data-target="#offer"');
  assert.equal(await state(), 'shown');
  const region = page.locator('#offer').getByRole('region', { name: 'Hello ada' });
  await region.waitFor();
  assert.equal(await region.locator('p').textContent(), 'Language fr, code P-1');
  // The layer's styles stay in its shadow root, and the page's stay out of it.
  assert.notEqual(await page.locator('#buy').evaluate((b) => getComputedStyle(b).backgroundColor), 'rgb(255, 0, 0)');
  assert.equal(await page.locator('#text').evaluate((p) => getComputedStyle(p).color), 'rgb(0, 0, 0)');
  assert.equal(await region.locator('p').evaluate((p) => getComputedStyle(p).color), 'rgb(0, 128, 0)');
  await screenshot(page, 'loader-container');
  // The template has no close button, so the loader adds one.
  await region.getByRole('button', { name: 'Close' }).click();
  await region.waitFor({ state: 'detached' });
  assert.equal(await state(), 'closed');
  assert.equal(await page.title(), 'Shop ready');
  assert.deepEqual(problems, []);
});

test('as an overlay without a customer: a modal dialog, closed by a click on the backdrop', async () => {
  const { page, problems } = await shop('data-project="shop" data-layer="box"');
  const dialog = page.getByRole('dialog', { name: 'Hello' });
  await dialog.waitFor();
  assert.match(await dialog.locator('p').textContent(), /^Language , code P-\d$/);
  await page.mouse.click(5, 5);
  await dialog.waitFor({ state: 'detached' });
  assert.deepEqual(problems, []);
});

test('a layer that needs signed customer ids shows for the signature the back end computed', async () => {
  const key = crypto.randomBytes(32).toString('hex');
  assert.equal((await api.call('PUT', '/settings', { customer_signing_key: key })).status, 200);
  await api.putLayer('signed', { template: '<h2>For {{ customer.id }}</h2>', signed_customer: true });
  const sig = crypto.createHmac('sha256', key).update('bob').digest('hex');
  const signed = await shop(`data-project="shop" data-layer="signed" data-customer="bob" data-sig="${sig}" data-target="#offer"`);
  assert.equal(await signed.state(), 'shown');
  await signed.page.getByRole('region', { name: 'For bob' }).waitFor();
  assert.deepEqual(signed.problems, []);
  // Without the signature the edge refuses, and the page shows nothing.
  const unsigned = await shop('data-project="shop" data-layer="signed" data-customer="bob" data-target="#offer"');
  assert.equal(await unsigned.state(), 'failed');
  assert.equal(await unsigned.page.getByRole('region').count(), 0);
});

test('an unknown layer, an unreachable edge or a missing container show nothing and break nothing', async () => {
  const cases = [
    ['data-project="shop" data-layer="nope"', {}, /HTTP 404/],
    ['data-project="shop" data-layer="box"', { abortApi: true }, /TypeError/],
    ['data-project="shop" data-layer="box" data-target="#nowhere"', {}, /no element #nowhere/],
  ];
  for (const [attributes, options, reason] of cases) {
    const { page, problems, debug, state } = await shop(attributes, options);
    assert.equal(await state(), 'failed', attributes);
    assert.equal(await page.locator('dialog, [role=region]').count(), 0);
    // The page's own script after the tag ran, and nothing was thrown.
    assert.equal(await page.title(), 'Shop ready');
    assert.ok(debug.some((line) => line.startsWith('codepool: no layer') && reason.test(line)), debug.join('\n'));
    // Chromium itself reports a failed request as a console error; the loader adds none.
    assert.deepEqual(problems.filter((p) => !p.includes('Failed to load resource')), [], attributes);
  }
});
