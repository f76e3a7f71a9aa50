// The admin console (www/admin/) in headless Chromium, against the built
// Worker under workerd: sign-in, pools, CSV import, generated codes, codes
// (voided, rolled back), pools deleted or archived, activity, the layer
// editor with its preview, and the settings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, client, createProject, TOKEN } from '../e2e/worker.mjs';
import { seedDemo } from '../../scripts/seed-demo.mjs';
import { launch, openPage, screenshot } from './browser.mjs';
import fs from 'node:fs';

let worker;
let browser;
let demo;

before(async () => {
  // The layer editor's preview runs the wasm package from www/pkg/.
  if (!fs.existsSync(new URL('../../www/pkg/index.js', import.meta.url))) {
    throw new Error('www/pkg/ is missing: run `bash scripts/build-www.sh` (scripts/test.sh does)');
  }
  worker = await startWorker({ assets: true });
  browser = await launch();
  demo = client(worker.base, 'demo');
  await seedDemo(worker.base, TOKEN, { codes: 40 });
  for (let i = 1; i <= 7; i++) assert.equal((await demo.render('welcome', `shopper-${i}`)).status, 200);
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

/** A console page signed in to `project`, created first if need be. */
async function signedIn(project = 'demo') {
  await createProject(worker.base, project);
  const visit = await openPage(browser);
  await visit.page.goto(`${worker.base}/admin/`);
  await visit.page.getByLabel('Admin token').fill(TOKEN);
  await visit.page.getByLabel('Project').fill(project);
  await visit.page.getByRole('button', { name: 'Sign in' }).click();
  await visit.page.getByRole('navigation', { name: 'Console' }).waitFor();
  return visit;
}

/**
 * The counts of a pool row of the pools table, as numbers (a cell's leading
 * number: the leased cell also names the dispensers, which `leasedTo` holds).
 */
async function poolRow(page, pool) {
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: pool, exact: true }) });
  const cells = await row.getByRole('cell').allInnerTexts(); // the dispensers on a line of their own
  const [total, available, leased, assigned, redeemed] = cells.slice(0, 5).map((t) => Number(t.match(/^[\d,]+/)[0].replace(/,/g, '')));
  const leasedTo = cells[2].replace(/^[\d,]+/, '').trim() || null;
  return { total, available, leased, leasedTo, assigned, redeemed, bar: await row.getByRole('img').getAttribute('aria-label') };
}

test('a wrong token is refused with the API’s reason; the right one shows the pools', async () => {
  const { page, problems } = await openPage(browser);
  await page.goto(`${worker.base}/admin/`);
  await page.getByLabel('Admin token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.filter({ hasText: 'Could not sign in' }).waitFor();
  assert.match(await alert.textContent(), /token is wrong.*\(unauthorized\)/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('codepool.token')), null);

  await page.getByLabel('Admin token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Pools' }).waitFor();
  await page.getByRole('link', { name: 'welcome10' }).waitFor();
  assert.deepEqual(await poolRow(page, 'welcome10'), {
    total: 40, available: 33, leased: 0, leasedTo: null, assigned: 7, redeemed: 0,
    bar: '83% available: 33 available, 7 assigned, 0 redeemed of 40',
  });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('codepool.token')), TOKEN);
  await screenshot(page, 'admin-pools');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('codepool.token')), null);
  // The browser reports the refused sign-in call itself; nothing else went wrong.
  assert.deepEqual(problems.filter((p) => !p.includes('status of 401')), []);
});

test('a new pool is created from the form and opens, empty', async () => {
  const { page, problems } = await signedIn();
  await page.getByLabel('Name').fill('spring10');
  await page.getByLabel('Description').fill('Spring campaign <b>20%</b>');
  await page.getByRole('button', { name: 'Create pool' }).click();
  await page.getByRole('heading', { name: 'spring10', level: 1 }).waitFor();
  assert.equal(await page.locator('[data-stat=total] .value').textContent(), '0');
  // Shown as text, not as markup.
  await page.getByText('Spring campaign <b>20%</b>').waitFor();
  assert.equal((await demo.getPool('spring10')).json.description, 'Spring campaign <b>20%</b>');
  assert.deepEqual(problems, []);
});

test('the CSV upload imports a file, shows its counts, and the pool’s counts update', async () => {
  await demo.putPool('autumn');
  const { page, problems } = await signedIn();
  await page.goto(`${worker.base}/admin/#/pools/autumn`);
  await page.getByRole('heading', { name: 'autumn', level: 1 }).waitFor();
  // Record what the progress bar goes through, whatever the speed.
  await page.locator('#upload-progress').evaluate((bar) => {
    window.progressSeen = [];
    new MutationObserver(() => window.progressSeen.push({
      shown: !bar.parentElement.hidden, value: bar.value, text: bar.parentElement.textContent,
    })).observe(bar.parentElement, { attributes: true, subtree: true, characterData: true, childList: true });
  });
  const rows = ['code', 'AUT-1', 'AUT-2', 'AUT-2', 'WELCOME-0001', 'AUT-3', 'X'.repeat(200), 'AUT-4'];
  await page.getByLabel('CSV file').setInputFiles({ name: 'autumn.csv', mimeType: 'text/csv', buffer: Buffer.from(rows.join('\n') + '\n') });
  await page.getByRole('button', { name: 'Upload and import' }).click();
  const report = page.getByRole('status').filter({ hasText: 'Imported' });
  await report.getByRole('heading', { name: 'Imported 4 new codes from autumn.csv' }).waitFor();
  const count = async (name) => Number(await report.locator(`[data-count=${name}]`).textContent());
  assert.deepEqual(
    [await count('total_rows'), await count('imported'), await count('duplicates_in_file'), await count('already_in_project'), await count('invalid')],
    [7, 4, 1, 1, 1],
  );
  await report.getByRole('cell', { name: '7', exact: true }).waitFor(); // the invalid row's line
  await screenshot(page, 'admin-import');
  const seen = await page.evaluate(() => window.progressSeen);
  assert.ok(seen.some((s) => s.shown && s.value === 1 && s.text.includes('Importing')), JSON.stringify(seen));
  // The pool's counts follow, on this page and in the pools view.
  await page.locator('[data-stat=total] .value').filter({ hasText: '4' }).waitFor();
  await page.getByRole('link', { name: 'Pools', exact: true }).first().click();
  await page.getByRole('link', { name: 'autumn' }).waitFor();
  assert.deepEqual(await poolRow(page, 'autumn'), {
    total: 4, available: 4, leased: 0, leasedTo: null, assigned: 0, redeemed: 0,
    bar: '100% available: 4 available, 0 assigned, 0 redeemed of 4',
  });
  await screenshot(page, 'admin-pools-after-import');
  assert.deepEqual(problems, []);
});

test('the generate form fills a pool with codes of a pattern and shows the report', async () => {
  await demo.putPool('generated');
  const { page, problems } = await signedIn();
  await page.goto(`${worker.base}/admin/#/pools/generated`);
  await page.getByRole('heading', { name: 'generated', level: 1 }).waitFor();
  const capacity = page.locator('[data-capacity]');
  await page.getByLabel('How many').fill('50');
  await page.getByLabel('Pattern', { exact: true }).fill('##');
  assert.equal(await capacity.textContent(),
    'The pattern holds 961 codes (31^2); 50 codes need at least 5,000 (100× the count): add placeholders.');
  // The Worker says the same, and nothing is generated.
  await page.getByRole('button', { name: 'Generate' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'Could not generate' });
  await alert.waitFor();
  assert.match(await alert.textContent(), /holds 961 codes; generating 50 needs a pattern that holds at least 5000.*\(pattern_too_small\)/);
  // A charset of one's own: two characters that are one in a code are refused.
  await page.getByLabel('Charset').selectOption('custom');
  await page.getByLabel('Characters').fill('aA');
  await page.getByLabel('Pattern', { exact: true }).fill('GEN-########');
  await page.getByRole('button', { name: 'Generate' }).click();
  await alert.filter({ hasText: 'invalid_charset' }).waitFor();
  // Digits, four placeholders: 10,000 codes hold 50 × 100.
  await page.getByLabel('Charset').selectOption('digits');
  await page.getByLabel('Pattern', { exact: true }).fill('GEN-####');
  assert.match(await capacity.textContent(), /holds 10,000 codes \(10\^4\); 50 codes need at least 5,000 \(100× the count\)\.$/);
  await page.getByRole('button', { name: 'Generate' }).click();
  const report = page.getByRole('status').filter({ hasText: 'Generated' });
  await report.getByRole('heading', { name: 'Generated 50 new codes of GEN-####' }).waitFor();
  const count = async (name) => Number(await report.locator(`[data-count=${name}]`).textContent());
  assert.equal(await count('imported'), 50);
  assert.equal(await count('total_rows'), 50 + await count('already_in_project') + await count('duplicates_in_file'));
  await page.locator('[data-stat=total] .value').filter({ hasText: '50' }).waitFor();
  await screenshot(page, 'admin-generate');
  const codes = (await demo.listCodes('generated', { limit: 100 })).json.codes.map((c) => c.code);
  assert.equal(new Set(codes).size, 50);
  for (const code of codes) assert.match(code, /^GEN-\d{4}$/);
  // The refused requests are the browser's only complaints.
  assert.deepEqual(problems.filter((p) => !p.includes('status of 422')), []);
});

test('the code table filters by state, pages, and exports CSV', async () => {
  const { page, problems } = await signedIn();
  await page.goto(`${worker.base}/admin/#/pools/welcome10`);
  const table = page.locator('table.codes');
  const codes = () => table.locator('tbody td.code').allTextContents();
  await table.locator('tbody td.code').first().waitFor();
  // 40 codes, 25 a page: two pages.
  assert.equal((await codes()).length, 25);
  await page.getByRole('button', { name: 'Next →' }).click();
  await page.getByText('Page 2').waitFor();
  assert.equal((await codes()).length, 15);
  assert.equal(await page.getByRole('button', { name: 'Next →' }).isDisabled(), true);
  await page.getByRole('button', { name: '← Previous' }).click();
  await page.getByText('Page 1').waitFor();

  await page.getByLabel('State').selectOption('assigned');
  // shopper-1 is on the unfiltered page too: wait until the table shows only
  // assigned codes, not for a row that may be there already.
  await page.waitForFunction(() => {
    const states = [...document.querySelectorAll('table.codes tbody .state')].map((e) => e.textContent);
    return states.length > 0 && states.every((state) => state === 'assigned');
  });
  await page.getByRole('cell', { name: 'shopper-1', exact: true }).waitFor();
  assert.equal((await codes()).length, 7);
  assert.deepEqual(new Set(await table.locator('tbody .state').allTextContents()), new Set(['assigned']));

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'welcome10-assigned-codes.csv');
  const chunks = [];
  for await (const chunk of await download.createReadStream()) chunks.push(chunk);
  const lines = Buffer.concat(chunks).toString('utf8').trim().split(/\r?\n/);
  assert.match(lines[0], /code/);
  assert.equal(lines.length, 1 + 7);
  assert.deepEqual(problems, []);
});

test('a pool shows the codes leased to dispensers, in the list and on its page; the codes filter by leased', async () => {
  const api = await createProject(worker.base, 'leasing');
  await api.putPool('busy10');
  await api.call('POST', '/pools/busy10/import', { codes: Array.from({ length: 100 }, (_, i) => `BUSY-${i}`) });
  for (let i = 0; i < 30; i++) await api.call('POST', '/render', { template: "{{ vouchers['busy10'].assign_available_code() }}" });
  const { page, problems } = await signedIn('leasing');
  // Leases come and go by the second (a dispenser reports what it handed out
  // within one, and gives back what it holds when its layer changes), so the
  // pools' answers are the Worker's own with 50 available codes moved to
  // leased, held by 3 dispensers: what the console shows is then fixed.
  const leasing = (p) => ({ ...p, available: p.available - 50, leased: p.leased + 50, dispensers: 3 });
  await page.route(/\/v1\/projects\/leasing\/pools(\/busy10)?$/, async (route) => {
    const answer = await route.fetch();
    const json = await answer.json();
    await route.fulfill({ response: answer, json: json.pools ? { pools: json.pools.map(leasing) } : leasing(json) });
  });
  await page.reload(); // the pools were shown on signing in, before the route
  await page.getByRole('link', { name: 'busy10' }).waitFor();
  assert.deepEqual(await poolRow(page, 'busy10'), {
    total: 100, available: 20, leased: 50, leasedTo: '3 dispensers', assigned: 30, redeemed: 0,
    bar: '70% left: 20 available, 50 leased to 3 dispensers, 30 assigned, 0 redeemed of 100',
  });
  await screenshot(page, 'admin-pools-leased');

  await page.getByRole('link', { name: 'busy10' }).click();
  await page.getByRole('heading', { name: 'busy10', level: 1 }).waitFor();
  const stat = page.locator('[data-stat=leased]');
  await stat.locator('.value').filter({ hasText: '50' }).waitFor();
  assert.equal(await stat.locator('.note').textContent(), 'to 3 dispensers');
  await screenshot(page, 'admin-pool-leased');
  assert.equal(await page.locator('[data-stat=available] .value').textContent(), '20');
  assert.equal(await page.getByRole('img', { name: /left:/ }).getAttribute('aria-label'),
    '70% left: 20 available, 50 leased to 3 dispensers, 30 assigned, 0 redeemed of 100');

  // The state filter asks the Worker for leased codes (none really are).
  await page.locator('table.codes tbody td.code').first().waitFor();
  const asked = page.waitForRequest((r) => r.url().includes('/pools/busy10/codes?') && r.url().includes('state=leased'));
  await page.getByLabel('State').selectOption('leased');
  await asked;
  await page.getByText('No codes in this state.').waitFor();
  assert.deepEqual(problems, []);
});

test('codes are voided and redemptions rolled back from the code list; pools deleted or archived', async () => {
  const api = await createProject(worker.base, 'voiding');
  await api.putPool('leak');
  await api.importJson('leak', ['LEAK-1', 'LEAK-2', 'LEAK-3']);
  await api.putPool('spare');
  await api.importJson('spare', ['SPARE-1']);
  await api.call('PUT', '/settings', { redemption: { event_type: 'purchase', property: 'voucher_code' } });
  for (const customer of ['ann', 'bob']) {
    await api.call('POST', '/render', { template: "{{ vouchers['leak'].assign_available_code() }}", customer_id: customer });
  }
  await api.call('POST', '/events', { customer_id: 'bob', type: 'purchase', properties: { voucher_code: 'LEAK-2' } });
  const { page, problems } = await signedIn('voiding');
  const questions = [];
  page.on('dialog', (dialog) => { questions.push(dialog.message()); dialog.accept(); });
  await page.goto(`${worker.base}/admin/#/pools/leak`);
  await page.locator('[data-pool-status=active]').waitFor();
  // It has handed out codes: archive, not delete.
  assert.equal(await page.getByRole('button', { name: 'Delete pool' }).count(), 0);
  const row = (code) => page.getByRole('row').filter({ has: page.getByRole('cell', { name: code, exact: true }) });

  await page.getByRole('button', { name: 'Void LEAK-1' }).click();
  await row('LEAK-1').locator('.state.void').waitFor();
  assert.match(questions.at(-1), /^Void LEAK-1\? .*ann can no longer redeem it\.$/);
  await page.locator('[data-stat=void] .value').filter({ hasText: '1' }).waitFor();
  assert.equal(await row('LEAK-1').getByRole('button').count(), 0);

  await page.getByRole('button', { name: 'Roll back LEAK-2' }).click();
  await row('LEAK-2').locator('.state.assigned').waitFor();
  assert.match(questions.at(-1), /assigned to bob again/);
  await page.locator('[data-stat=redeemed] .value').filter({ hasText: '0' }).waitFor();
  await screenshot(page, 'admin-pool-void');

  await page.getByRole('button', { name: 'Archive' }).click();
  await page.locator('[data-pool-status=archived]').waitFor();
  assert.equal((await api.getPool('leak')).json.status, 'archived');
  await page.getByRole('button', { name: 'Unarchive' }).click();
  await page.locator('[data-pool-status=active]').waitFor();
  assert.deepEqual((await api.getPool('leak')).json.archived, false);

  // A pool that handed out nothing is deleted, after a confirm.
  await page.goto(`${worker.base}/admin/#/pools/spare`);
  await page.getByRole('button', { name: 'Delete pool' }).click();
  await page.getByRole('heading', { name: 'Pools', level: 1 }).waitFor();
  assert.match(questions.at(-1), /^Delete pool spare and its 1 code\?/);
  assert.equal((await api.getPool('spare')).status, 404);
  assert.deepEqual(problems, []);
});

test('the activity chart shows the assignments and redemptions of today', async () => {
  await demo.call('PUT', '/settings', { redemption: { event_type: 'purchase', property: 'voucher_code' } });
  const shown = (await demo.render('welcome', 'buyer')).text.match(/WELCOME-\d{4}/)[0];
  const tracked = await demo.call('POST', '/events', { customer_id: 'buyer', type: 'purchase', properties: { voucher_code: shown } });
  assert.equal(tracked.json.results[0].redemption, 'redeemed');

  const { page, problems } = await signedIn();
  await page.goto(`${worker.base}/admin/#/pools/welcome10`);
  const chart = page.getByRole('img', { name: /^Last 30 days:/ });
  await chart.waitFor();
  assert.equal(await chart.getAttribute('aria-label'), 'Last 30 days: 8 assigned, 1 redeemed');
  await page.getByLabel('Days shown').selectOption('7');
  await page.getByRole('img', { name: 'Last 7 days: 8 assigned, 1 redeemed' }).waitFor();
  const today = new Date().toISOString().slice(0, 10);
  const bars = page.locator('svg.chart g[data-date]');
  assert.equal(await bars.count(), 7);
  assert.equal(await bars.last().getAttribute('data-date'), today);
  assert.equal(await bars.last().locator('title').textContent(), `${today}: 8 assigned, 1 redeemed`);
  assert.equal(await page.locator('[data-stat=redeemed] .value').textContent(), '1');
  await screenshot(page, 'admin-pool', { fullPage: true });
  assert.deepEqual(problems, []);
});

test('the layer editor inserts vouchers at the cursor and previews without taking codes', async () => {
  const before = (await demo.getPool('welcome10')).json;
  const { page, problems } = await signedIn();
  // The preview renders in the browser (wasm): no render reaches the edge.
  const renders = [];
  page.on('request', (r) => { if (/\/render(\?|$)/.test(new URL(r.url()).pathname)) renders.push(r.url()); });
  await page.goto(`${worker.base}/admin/#/layers/welcome`);
  const preview = page.frameLocator('iframe[title="Layer preview"]');
  await preview.locator('.codepool-code').filter({ hasText: 'SAMPLE-WELCOME10-1' }).waitFor();
  assert.equal(await page.locator('iframe[title="Layer preview"]').getAttribute('sandbox'), '');

  // Start a line before the button, insert a count at the cursor, go on typing.
  const editor = page.getByLabel('Template (Jinja, HTML)');
  await editor.evaluate((t) => {
    const at = t.value.indexOf('  <button');
    t.setSelectionRange(at, at);
  });
  await editor.pressSequentially('  <p class="hurry">Only ');
  await page.getByLabel('Pool', { exact: true }).selectOption('welcome10');
  await page.getByLabel('Function').selectOption('count_available_codes');
  await page.getByRole('button', { name: 'Insert voucher' }).click();
  await editor.pressSequentially(' left today!</p>');
  await editor.press('Enter');
  const line = `<p class="hurry">Only {{ vouchers['welcome10'].count_available_codes() }} left today!</p>`;
  assert.ok((await editor.inputValue()).includes(`  ${line}\n  <button`), await editor.inputValue());
  // The live preview follows, with the pool's real count.
  await preview.locator('.hurry').filter({ hasText: `Only ${before.available} left today!` }).waitFor();
  await editor.evaluate((t) => { t.scrollTop = 0; t.scrollLeft = 0; });
  await screenshot(page, 'admin-layer-preview');

  // A template error is explained where the preview is; fixing it brings it back.
  await editor.press('End');
  await editor.pressSequentially('{% if %}');
  const previewError = page.getByRole('alert').filter({ hasText: 'The template does not render' });
  await previewError.waitFor();
  assert.match(await previewError.textContent(), /line \d+/);
  for (let i = 0; i < '{% if %}'.length; i++) await editor.press('Backspace');
  await previewError.waitFor({ state: 'hidden' });

  // Markup in the preview cannot run script (sandboxed, and a CSP): had the
  // script run, it would have marked the body before the next element parsed.
  await editor.press('End');
  await editor.pressSequentially('<script>document.body.dataset.ran = "yes"</script><i id="after-script"></i>');
  await preview.locator('#after-script').waitFor({ state: 'attached' });
  assert.equal(await preview.locator('body[data-ran]').count(), 0);

  await page.getByRole('button', { name: 'Save layer' }).click();
  await page.getByText(/^Saved: version 2/).waitFor();
  assert.ok((await demo.call('GET', '/layers/welcome')).json.template.includes(line));

  // Previews took no code, and none was rendered by the edge.
  const after = (await demo.getPool('welcome10')).json;
  assert.deepEqual(after, before);
  assert.deepEqual(renders, []);
  // Chromium reports the blocked script of the sandboxed preview.
  assert.deepEqual(problems.filter((p) => !p.includes("Blocked script execution in 'about:srcdoc'")), []);
});

test('the insert helper inserts a code with a fallback, shown when the pool is empty and taking no code', async () => {
  const api = await createProject(worker.base, 'fallback');
  await api.putPool('gift');
  await api.importJson('gift', ['GIFT-1']);
  await api.putPool('gone');
  const { page, problems } = await signedIn('fallback');
  await page.goto(`${worker.base}/admin/#/layers/signup`);
  await page.getByText('New layer: not saved yet').waitFor();
  const editor = page.getByLabel('Template (Jinja, HTML)');
  await editor.fill('');
  const fallback = (pool) => `{% if vouchers['${pool}'].count_available_codes() > 0 %}` +
    `{{ vouchers['${pool}'].assign_available_code() }}` +
    '{% else %}Shown when the pool is empty (takes no code){% endif %}';
  // One line for a pool with a code, one for an empty pool.
  for (const pool of ['gift', 'gone']) {
    await page.getByLabel('Pool', { exact: true }).selectOption(pool);
    await page.getByLabel('Function').selectOption({ label: 'Code, or fallback when the pool is empty' });
    await page.getByText(`Inserts ${fallback(pool)}`, { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Insert voucher' }).click();
    await editor.press('Enter');
  }
  assert.equal(await editor.inputValue(), `${fallback('gift')}\n${fallback('gone')}\n`);
  // The preview uses the pools' real counts: a sample code, and the fallback.
  const preview = page.frameLocator('iframe[title="Layer preview"]');
  await preview.locator('.box').filter({ hasText: /^SAMPLE-GIFT-1\s+Shown when the pool is empty \(takes no code\)\s*$/ }).waitFor();
  await screenshot(page, 'admin-layer-fallback');
  await page.getByRole('button', { name: 'Save layer' }).click();
  await page.getByText(/^Saved: version 1/).waitFor();

  // Through the public route: the code, then the fallback (200, not 204),
  // which takes nothing from either pool.
  const first = await api.render('signup', 'ada');
  // (Jinja drops the template's last newline.)
  const shown = 'Shown when the pool is empty (takes no code)';
  assert.deepEqual([first.status, first.text], [200, `GIFT-1\n${shown}`]);
  const fallbackOnly = `${shown}\n${shown}`;
  for (const customer of ['bob', 'cy']) {
    const res = await api.render('signup', customer);
    assert.deepEqual([res.status, res.text], [200, fallbackOnly]);
  }
  const { pools } = (await api.listPools()).json;
  assert.deepEqual(pools.map((p) => [p.name, p.total, p.available, p.assigned]), [['gift', 1, 0, 1], ['gone', 0, 0, 0]]);
  assert.deepEqual(problems, []);
});

test('the layer editor saves the number of dispensers and shows it again', async () => {
  const { page, problems } = await signedIn('dispensing');
  const api = client(worker.base, 'dispensing');
  await page.goto(`${worker.base}/admin/#/layers/busy`);
  await page.getByText('New layer: not saved yet').waitFor();
  const field = page.getByLabel('Dispensers');
  assert.equal(await field.inputValue(), '0');
  assert.match(await page.locator(`#${await field.getAttribute('aria-describedby')}`).textContent(),
    /^0: the project’s store serves every display\. 1–64: spread displays over this many dispensers/);
  await page.getByLabel('Template (Jinja, HTML)').fill('<p>Busy</p>');
  await field.fill('8');
  await page.getByRole('button', { name: 'Save layer' }).click();
  await page.getByText(/^Saved: version 1/).waitFor();
  assert.equal((await api.call('GET', '/layers/busy')).json.dispensers, 8);

  // Shown again when the layer is opened, and in the list.
  await page.reload();
  await page.getByText(/^Version 1/).waitFor();
  assert.equal(await page.getByLabel('Dispensers').inputValue(), '8');
  await screenshot(page, 'admin-layer-dispensers', { fullPage: true });
  await page.getByRole('link', { name: 'Layers', exact: true }).first().click();
  await page.getByRole('row').filter({ hasText: 'busy' }).getByRole('cell', { name: '8 dispensers' }).waitFor();

  // Past 64 the form does not send; back to 0, the store serves the layer again.
  await page.goto(`${worker.base}/admin/#/layers/busy`);
  await page.getByText(/^Version 1/).waitFor();
  await page.getByLabel('Dispensers').fill('65');
  await page.getByRole('button', { name: 'Save layer' }).click();
  assert.equal(await page.getByLabel('Dispensers').evaluate((input) => input.validity.rangeOverflow), true);
  assert.equal((await api.call('GET', '/layers/busy')).json.version, 1);
  await page.getByLabel('Dispensers').fill('0');
  await page.getByRole('button', { name: 'Save layer' }).click();
  await page.getByText(/^Saved: version 2/).waitFor();
  assert.equal((await api.call('GET', '/layers/busy')).json.dispensers, 0);
  assert.deepEqual(problems, []);
});

test('a template error on save gets the API’s message', async () => {
  const { page, problems } = await signedIn('editor');
  await page.goto(`${worker.base}/admin/#/layers/broken`);
  await page.getByText('New layer: not saved yet').waitFor();
  await page.getByLabel('Template (Jinja, HTML)').fill('{{ vouchers["nope"].assign_available_code( }}');
  await page.getByRole('button', { name: 'Save layer' }).click();
  const error = page.getByRole('alert').filter({ hasText: 'Could not save layer broken' });
  await error.waitFor();
  assert.match(await error.textContent(), /\(template_syntax_error\)$/);
  assert.equal((await client(worker.base, 'editor').call('GET', '/layers/broken')).status, 404);
  assert.deepEqual(problems.filter((p) => !p.includes('status of 422')), []);
});

test('layer variables and page parameters reach the preview, and are saved with the layer', async () => {
  const { page, problems } = await signedIn('catalog');
  await page.goto(`${worker.base}/admin/#/layers/shelf`);
  await page.getByText('New layer: not saved yet').waitFor();
  await page.getByLabel('Template (Jinja, HTML)').fill(
    '<p id="out">Hi {{ customer.first_name }} ({{ customer.id }}): {% for p in products %}{{ p.name }}{% endfor %} {{ params.utm_source }}</p>');
  const variables = { customer: { first_name: 'there' }, products: [{ name: 'Tote & bag' }] };
  await page.getByLabel('Variables (JSON object)').fill(JSON.stringify(variables));
  await page.getByLabel('Customer id', { exact: true }).fill('ada');
  await page.getByLabel('Page parameters').fill('utm_source=mail');
  const preview = page.frameLocator('iframe[title="Layer preview"]');
  await preview.locator('#out').filter({ hasText: 'Hi there (ada): Tote & bag mail' }).waitFor();

  // Variables that are not a JSON object are explained, and not saved.
  await page.getByLabel('Variables (JSON object)').fill('[1, 2]');
  await page.getByRole('alert').filter({ hasText: 'must be a JSON object' }).first().waitFor();
  await page.getByLabel('Variables (JSON object)').fill(JSON.stringify(variables));
  await page.getByRole('button', { name: 'Save layer' }).click();
  await page.getByText(/^Saved: version 1/).waitFor();
  assert.deepEqual((await client(worker.base, 'catalog').call('GET', '/layers/shelf')).json.variables, variables);
  await page.reload();
  await page.getByText(/^Version 1/).waitFor();
  assert.deepEqual(JSON.parse(await page.getByLabel('Variables (JSON object)').inputValue()), variables);
  assert.deepEqual(problems, []);
});

test('the redemption settings and the signing key are saved and shown again', async () => {
  const { page, problems } = await signedIn('settings');
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByText('No key is stored.').waitFor();
  await page.getByLabel('Redeem codes from tracked events').check();
  await page.getByLabel('Event type').fill('order');
  await page.getByLabel('Property with the code').fill('coupon');
  await page.getByLabel('Only the customer a code was handed to can redeem it').check();
  await page.getByLabel('Roll back on this event (optional)').fill('return');
  await page.getByRole('button', { name: 'Generate a key' }).click();
  const key = await page.getByLabel('New key (at least 32 characters)').inputValue();
  assert.match(key, /^[0-9a-f]{64}$/);
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Settings saved.').waitFor();
  await page.getByText('A key is stored.').waitFor();
  const api = client(worker.base, 'settings');
  assert.deepEqual((await api.call('GET', '/settings')).json, {
    redemption: { event_type: 'order', property: 'coupon', require_holder: true, rollback_event_type: 'return' },
    customer_signing_key_set: true, webhook_url: null, webhook_secret_set: false,
  });

  await page.reload();
  await page.getByText('A key is stored.').waitFor();
  assert.equal(await page.getByLabel('Event type').inputValue(), 'order');
  assert.equal(await page.getByLabel('Property with the code').inputValue(), 'coupon');
  assert.equal(await page.getByLabel('Only the customer a code was handed to can redeem it').isChecked(), true);
  assert.equal(await page.getByLabel('Roll back on this event (optional)').inputValue(), 'return');
  // Switching redemption off keeps the key.
  await page.getByLabel('Redeem codes from tracked events').uncheck();
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Settings saved.').waitFor();
  assert.deepEqual((await api.call('GET', '/settings')).json, {
    redemption: null, customer_signing_key_set: true, webhook_url: null, webhook_secret_set: false,
  });
  assert.deepEqual(problems, []);
});

test('signing in to a project that does not exist offers to create it', async () => {
  const { page, problems } = await openPage(browser);
  await page.goto(`${worker.base}/admin/`);
  await page.getByLabel('Admin token').fill(TOKEN);
  await page.getByLabel('Project').fill('brand-new');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'Could not sign in' });
  await alert.waitFor();
  assert.match(await alert.textContent(), /\(unknown_project\)/);
  // Nothing was created by looking.
  assert.equal((await client(worker.base, 'brand-new').listPools()).json.error.code, 'unknown_project');
  await page.getByRole('button', { name: 'Create project brand-new' }).click();
  await page.getByRole('heading', { name: 'Pools' }).waitFor();
  await page.getByText('0 pools in project brand-new').waitFor();
  assert.deepEqual((await client(worker.base, 'brand-new').listPools()).json, { pools: [] });
  assert.deepEqual(problems.filter((p) => !p.includes('status of 404')), []);
});

test('keys: made with a scope, shown once to copy, listed without the key, revoked', async () => {
  const { page, context, problems } = await signedIn('keys');
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: worker.base });
  await page.getByRole('link', { name: 'Keys' }).click();
  await page.getByRole('heading', { name: 'Keys' }).waitFor();
  await page.getByText('No keys yet.').waitFor();
  await page.getByLabel('Name').fill('dashboard');
  await page.getByLabel('Scope').selectOption('read');
  await page.getByRole('button', { name: 'Create key' }).click();
  await page.getByText('Copy the key now: it is not shown again.').waitFor();
  const key = await page.getByLabel('The key').inputValue();
  assert.match(key, /^cpk_[0-9a-f]{16}_[0-9a-f]{64}$/);
  await page.getByRole('button', { name: 'Copy', exact: true }).click();
  await page.getByText(/^(Copied\.|Selected: copy it)/).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
  const row = page.getByRole('row').filter({ hasText: 'dashboard' });
  await row.waitFor();
  assert.match(await row.textContent(), /dashboard\s*read\s*cpk_[0-9a-f]{16}_…/);
  await screenshot(page, 'admin-keys');

  // The key works, as far as its scope reaches.
  const reader = client(worker.base, 'keys', key);
  assert.equal((await reader.listPools()).status, 200);
  assert.equal((await reader.putPool('p')).status, 403);
  // Shown once: after a reload, the key is nowhere on the page.
  await page.reload();
  await page.getByRole('row').filter({ hasText: 'dashboard' }).waitFor();
  assert.ok(!(await page.content()).includes(key.slice(21)));

  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'Revoke key dashboard' }).click();
  await page.getByText('No keys yet.').waitFor();
  assert.equal((await reader.listPools()).status, 401);
  assert.deepEqual(problems, []);
});

test('signed in with a read key, the console shows the project and says what the key may not do', async () => {
  const api = await createProject(worker.base, 'readonly');
  await api.putPool('spring10', { description: 'read only' });
  const key = (await api.call('POST', '/keys', { name: 'viewer', scope: 'read' })).json.key;
  const { page, problems } = await openPage(browser);
  await page.goto(`${worker.base}/admin/`);
  await page.getByLabel('Admin token').fill(key);
  await page.getByLabel('Project').fill('readonly');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'spring10' }).waitFor();
  await page.getByLabel('Name').fill('summer');
  await page.getByRole('button', { name: 'Create pool' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'Could not create pool summer' });
  await alert.waitFor();
  assert.match(await alert.textContent(), /scope admin \(forbidden\)$/);
  // Still signed in: a scope that falls short is not a wrong token.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('codepool.token')), key);
  assert.deepEqual((await api.listPools()).json.pools.map((p) => p.name), ['spring10']);
  assert.deepEqual(problems.filter((p) => !p.includes('status of 403')), []);
});
