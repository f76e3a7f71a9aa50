// Signed ids with an expiry through the loader, and deleting a layer from
// the admin console, in headless Chromium against the built Worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { startWorker, createProject, TOKEN } from '../e2e/worker.mjs';
import { launch, openPage, screenshot } from './browser.mjs';

let worker;
let browser;
let shopServer;
let shopOrigin;

before(async () => {
  // The layer editor's preview runs the wasm package from www/pkg/.
  if (!fs.existsSync(new URL('../../www/pkg/index.js', import.meta.url))) {
    throw new Error('www/pkg/ is missing: run `bash scripts/build-www.sh` (scripts/test.sh does)');
  }
  worker = await startWorker({ assets: true });
  // The shop is another origin on loopback, as in loader.test.mjs.
  shopServer = http.createServer((req, res) => {
    const tag = new URL(req.url, 'http://x').searchParams.get('tag');
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>Shop</title><link rel="icon" href="data:,"><div id="offer"></div>${tag}`);
  });
  await new Promise((resolve) => shopServer.listen(0, '127.0.0.1', resolve));
  shopOrigin = `http://localhost:${shopServer.address().port}`;
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  shopServer?.close();
});

/** A console page signed in to `project`. */
async function signedIn(project) {
  const visit = await openPage(browser);
  await visit.page.goto(`${worker.base}/admin/`);
  await visit.page.getByLabel('Admin token').fill(TOKEN);
  await visit.page.getByLabel('Project').fill(project);
  await visit.page.getByRole('button', { name: 'Sign in' }).click();
  await visit.page.getByRole('navigation', { name: 'Console' }).waitFor();
  return visit;
}

test('the loader passes data-exp: a layer that requires an expiry shows for a fresh signature only', async () => {
  const api = await createProject(worker.base, 'shop');
  const key = crypto.randomBytes(32).toString('hex');
  assert.equal((await api.call('PUT', '/settings', { customer_signing_key: key })).status, 200);
  await api.putPool('p');
  await api.importJson('p', ['E-1', 'E-2']);
  await api.putLayer('strict', {
    template: '<h2>For {{ customer.id }}</h2><p>{{ vouchers["p"].assign_available_code() }}</p>',
    assignment: 'per_customer', signed_customer: true, require_expiry: true,
  });
  const shop = async (id, exp, sig) => {
    const visit = await openPage(browser);
    const tag = `<script async src="${worker.base}/loader.js" data-project="shop" data-layer="strict" ` +
      `data-customer="${id}" data-sig="${sig}" ${exp ? `data-exp="${exp}"` : ''} data-target="#offer"></script>`;
    await visit.page.goto(`${shopOrigin}/?tag=${encodeURIComponent(tag)}`);
    const state = visit.page.locator('script[data-state]');
    await state.waitFor({ state: 'attached' });
    return { ...visit, state: await state.getAttribute('data-state') };
  };
  const exp = Math.floor(Date.now() / 1000) + 600;
  const sign = (message) => crypto.createHmac('sha256', key).update(message).digest('hex');
  const fresh = await shop('bob', exp, sign(`bob.${exp}`));
  assert.equal(fresh.state, 'shown');
  await fresh.page.getByRole('region', { name: 'For bob' }).waitFor();
  assert.deepEqual(fresh.problems, []);
  // The same id signed without exp, or past its exp: nothing shown, nothing taken.
  const stale = Math.floor(Date.now() / 1000) - 60;
  for (const [label, visit] of [
    ['signed without exp', await shop('bob', undefined, sign('bob'))],
    ['expired', await shop('bob', stale, sign(`bob.${stale}`))],
  ]) {
    assert.equal(visit.state, 'failed', label);
    assert.ok(visit.debug.some((line) => /HTTP 403/.test(line)), `${label}: ${visit.debug.join('\n')}`);
    assert.equal(await visit.page.getByRole('region').count(), 0);
  }
  assert.equal((await api.getPool('p')).json.assigned, 1);
});

test('a layer is deleted from its editor after a confirm; dismissing the confirm keeps it', async () => {
  const api = await createProject(worker.base, 'console');
  assert.equal((await api.putLayer('spring', { template: '<p>Spring</p>' })).status, 200);
  const { page, problems } = await signedIn('console');

  // A layer not saved yet has nothing to delete.
  await page.goto(`${worker.base}/admin/#/layers/draft`);
  await page.getByText('New layer: not saved yet').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Delete layer' }).count(), 0);

  await page.goto(`${worker.base}/admin/#/layers/spring`);
  await page.getByText(/^Version 1/).waitFor();
  const remove = page.getByRole('button', { name: 'Delete layer' });
  const answers = [];
  page.on('dialog', async (dialog) => {
    answers.push(dialog.message());
    await (answers.length === 1 ? dialog.dismiss() : dialog.accept());
  });
  // The click returns once the confirm is answered; dismissed, nothing is sent.
  await remove.click();
  assert.equal(answers.length, 1);
  assert.equal((await api.call('GET', '/layers/spring')).status, 200, 'dismissed: still there');

  await remove.click();
  await page.getByRole('heading', { name: 'Layers', exact: true }).waitFor();
  assert.match(answers[1], /^Delete layer spring\?/);
  assert.equal((await api.call('GET', '/layers/spring')).json.error.code, 'unknown_layer');
  await page.getByText('No layers yet.').waitFor();
  await screenshot(page, 'admin-layer-deleted');
  assert.deepEqual(problems, []);
});

test('the editor saves signed ids with a required expiry, and lists them so', async () => {
  const api = await createProject(worker.base, 'expiry');
  const { page, problems } = await signedIn('expiry');
  await page.goto(`${worker.base}/admin/#/layers/strict`);
  await page.getByText('New layer: not saved yet').waitFor();
  const expiry = page.getByLabel('Only signatures with an expiry (exp)');
  assert.equal(await expiry.isDisabled(), true, 'an expiry needs signed ids');
  await page.getByLabel('Only for signed customer ids (sig)').check();
  await expiry.check();
  await page.getByRole('button', { name: 'Save layer' }).click();
  await page.getByText(/^Saved: version 1/).waitFor();
  const saved = (await api.call('GET', '/layers/strict')).json;
  assert.deepEqual([saved.signed_customer, saved.require_expiry], [true, true]);
  await page.getByRole('link', { name: 'Layers' }).first().click();
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'strict' }) });
  await row.getByText('Signed, with expiry').waitFor();
  assert.deepEqual(problems, []);
});
