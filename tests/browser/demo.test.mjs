// The demo shop page (www/index.html) with the loader (www/loader.js) in
// headless Chromium, against the built Worker under workerd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, client, TOKEN } from '../e2e/worker.mjs';
import { seedDemo } from '../../scripts/seed-demo.mjs';
import { launch, openPage, screenshot } from './browser.mjs';

let worker;
let browser;
let api;
before(async () => {
  worker = await startWorker({ assets: true });
  browser = await launch();
  api = client(worker.base, 'demo');
  // The project dev.sh seeds, with 3 codes so that the pool runs dry.
  await seedDemo(worker.base, TOKEN, { codes: 3 });
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

/** Opens the demo page and waits until the loader has settled. */
async function visit() {
  const visit = await openPage(browser);
  await visit.page.goto(worker.base + '/');
  await visit.page.locator('script[data-layer="welcome"][data-state]').waitFor({ state: 'attached' });
  return visit;
}

test('the demo page shows the welcome layer with a real code, in a dialog that closes', async () => {
  const { page, problems } = await visit();
  assert.equal(await page.locator('script[data-layer="welcome"]').getAttribute('data-state'), 'shown');
  const dialog = page.getByRole('dialog', { name: 'Welcome to Northwind Linen' });
  await dialog.waitFor();
  const code = (await dialog.locator('.codepool-code').textContent()).trim();
  assert.match(code, /^WELCOME-000[1-3]$/);
  // The code was really handed out, to this browser's customer.
  const pool = (await api.getPool('welcome10')).json;
  assert.deepEqual([pool.available, pool.assigned], [2, 1]);
  const customer = await page.evaluate(() => localStorage.getItem('codepoolDemoCustomer'));
  assert.match(customer, /^visitor-/);
  assert.equal(await page.locator('script[data-layer="welcome"]').getAttribute('data-customer'), customer);
  // Focus moved into the dialog, so a keyboard user lands on it.
  assert.equal(await dialog.evaluate((d) => d.contains(d.getRootNode().activeElement)), true);
  await screenshot(page, 'demo-layer');

  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  // The dialog leaves the accessibility tree when it closes, a task before
  // its close event runs: wait for the state, not only for the dialog.
  await page.locator('script[data-layer="welcome"][data-state="closed"]').waitFor({ state: 'attached' });

  // A second visit takes a new code; the layer's own close button closes it.
  await page.reload();
  await dialog.waitFor();
  const second = (await dialog.locator('.codepool-code').textContent()).trim();
  assert.notEqual(second, code);
  await dialog.getByRole('button', { name: 'Start shopping' }).click();
  await dialog.waitFor({ state: 'detached' });
  // The shop works with and after the layer.
  await page.getByRole('button', { name: 'Add to bag' }).click();
  assert.equal(await page.locator('#bag').textContent(), 'Bag (1)');
  assert.deepEqual(problems, []);
});

test('once the pool is exhausted the page shows no layer and logs no error', async () => {
  // Take what is left, as other visitors would.
  while ((await api.render('welcome', 'someone-else')).status === 200);
  assert.equal((await api.getPool('welcome10')).json.available, 0);

  const { page, problems } = await visit();
  assert.equal(await page.locator('script[data-layer="welcome"]').getAttribute('data-state'), 'empty');
  assert.equal(await page.getByRole('dialog').count(), 0);
  assert.equal(await page.locator('dialog').count(), 0);
  await page.getByRole('button', { name: 'Add to bag' }).click();
  assert.equal(await page.locator('#bag').textContent(), 'Bag (1)');
  await screenshot(page, 'demo-empty');
  assert.deepEqual(problems, []);
});
