// The admin console's alerts (issue 16, part 3) in headless Chromium: a
// pool's thresholds set from its page and its alert state shown there and
// in the pools list; the settings' webhook URL and its write-only secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, client, createProject, TOKEN } from '../e2e/worker.mjs';
import { launch, openPage, screenshot } from './browser.mjs';

let worker;
let browser;

before(async () => {
  worker = await startWorker({ assets: true });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

async function signedIn(project) {
  await createProject(worker.base, project);
  const visit = await openPage(browser);
  await visit.page.goto(`${worker.base}/admin/`);
  await visit.page.getByLabel('Admin token').fill(TOKEN);
  await visit.page.getByLabel('Project').fill(project);
  await visit.page.getByRole('button', { name: 'Sign in' }).click();
  await visit.page.getByRole('navigation', { name: 'Console' }).waitFor();
  return visit;
}

test('a pool’s alerts are set from its page, and their state shows there and in the list', async () => {
  const project = 'alerts-console';
  const { page, problems } = await signedIn(project);
  const api = client(worker.base, project);
  await api.putPool('spring', { description: '10% off' });
  await api.importJson('spring', Array.from({ length: 10 }, (_, i) => `SPRING-${i}`));
  await api.putLayer('l', { template: "{{ vouchers['spring'].assign_available_code() }}" });

  await page.goto(`${worker.base}/admin/#/pools/spring`);
  await page.getByText('No alert is set.').waitFor();
  await page.getByLabel('Low stock at').fill('20%');
  await page.getByLabel('Out of codes').check();
  await page.getByLabel('Near expiry within').fill('7d');
  await page.getByRole('button', { name: 'Save alerts' }).click();
  await page.getByText('Alerts saved.').waitFor();
  const pool = (await api.getPool('spring')).json;
  assert.deepEqual(pool.alerts, { low_stock: '20%', out_of_codes: true, near_expiry: '7d' });
  assert.equal(pool.description, '10% off', 'the other settings are kept');
  const state = (kind) => page.locator(`[data-alert-state="${kind}"]`);
  assert.equal(await state('low_stock').innerText(), 'Armed');

  // Eight displays leave 2 of 10: at 20%, low stock fires (no webhook: logged only).
  for (let i = 0; i < 8; i++) assert.equal((await api.render('l', `c${i}`)).status, 200);
  await page.reload();
  await state('low_stock').filter({ hasText: 'Fired' }).waitFor();
  assert.match(await state('low_stock').innerText(), /no webhook: logged only/);
  assert.equal(await state('out_of_codes').innerText(), 'Armed');
  await screenshot(page, 'admin-pool-alerts', { fullPage: true });

  // A refused threshold gets the API's message.
  await page.getByLabel('Low stock at').fill('150%');
  await page.getByRole('button', { name: 'Save alerts' }).click();
  await page.getByRole('alert').filter({ hasText: 'invalid_alerts' }).waitFor();

  await page.getByRole('link', { name: 'Pools' }).first().click();
  await page.locator('[data-alert="low_stock"]').waitFor();
  assert.deepEqual(problems.filter((p) => !p.includes('422')), []);
});

test('the webhook URL is saved and its secret written, never shown again', async () => {
  const project = 'alerts-settings';
  const { page, problems } = await signedIn(project);
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByText('No webhook secret is stored.').waitFor();
  await page.getByLabel('Webhook URL (http or https)').fill('https://example.com/hooks/codepool');
  await page.getByRole('button', { name: 'Generate a secret' }).click();
  const secret = await page.getByLabel('New webhook secret (at least 32 characters)').inputValue();
  assert.match(secret, /^[0-9a-f]{64}$/);
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Settings saved.').waitFor();
  await page.getByText('A webhook secret is stored.').waitFor();
  assert.equal(await page.getByLabel('New webhook secret (at least 32 characters)').inputValue(), '');
  const settings = await client(worker.base, project).call('GET', '/settings');
  assert.equal(settings.json.webhook_url, 'https://example.com/hooks/codepool');
  assert.equal(settings.json.webhook_secret_set, true);
  assert.ok(!settings.text.includes(secret));

  await page.reload();
  await page.getByText('A webhook secret is stored.').waitFor();
  assert.equal(await page.getByLabel('Webhook URL (http or https)').inputValue(), 'https://example.com/hooks/codepool');
  await screenshot(page, 'admin-settings-webhook', { fullPage: true });
  // Removing the secret while the URL stays is refused, with the reason.
  await page.getByLabel('Remove the stored secret').check();
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByRole('alert').filter({ hasText: 'webhook_secret' }).waitFor();
  assert.deepEqual(problems.filter((p) => !p.includes('400')), []);
});
