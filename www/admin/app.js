// The codepool admin console: pools, CSV import, generated codes, codes, activity, layers with
// live preview, settings and project keys. Plain DOM, no framework: a handful
// of views behind hash routes (#/pools, #/pools/NAME, #/layers,
// #/layers/NAME, #/settings, #/keys).
import { h, num, when, debounce } from './dom.js';
import { session, call, uploadCsv, seg } from './api.js';
import { activityChart } from './chart.js';
import { renderPreview, PREVIEW_ENGINE } from './preview.js';

const app = document.getElementById('app');
const NAME_PATTERN = '[A-Za-z0-9_.%\\-]{1,64}';
const NAME_HINT = '1–64 letters, digits, _ - . or %';
const PAGE_SIZE = 25;

// ---------------------------------------------------------------- errors --

/** An inline error line under a form or a section (role=alert: read out). */
function errorLine() {
  return h('p', { class: 'error', role: 'alert', hidden: true });
}

/**
 * Shows a failed call in `line` as "What failed: the API's message (code)".
 * A refused token ends the session: back to sign-in with the reason. A
 * project that was never created gets a button that creates it (with
 * `token`, the one signing in; by default the session's).
 */
function showError(line, doing, err, { token } = {}) {
  if (err?.status === 401) {
    session.signOut();
    signIn(`The edge refused the token: ${err.message}. Sign in again.`);
    return;
  }
  if (!line.isConnected) return; // the view was left meanwhile
  line.hidden = false;
  line.textContent = `${doing}: ${err?.message ?? err}` + (err?.code && err.status ? ` (${err.code})` : '');
  if (err?.code === 'unknown_project') line.append(' ', createProjectButton(line, err.project ?? session.project, token));
}

/**
 * "Create project NAME": only the operator's token may (a project key is
 * told so); then the pools of the new project.
 */
function createProjectButton(line, project, token) {
  const button = h('button', { type: 'button' }, `Create project ${project}`);
  button.addEventListener('click', async () => {
    button.disabled = true;
    const ok = await attempt(line, `Could not create project ${project}`, () =>
      call('PUT', '', { project, token: token ?? session.token, json: {} }));
    if (!ok) return;
    if (token) session.signIn(token, project);
    session.setProject(project);
    go('#/pools');
  });
  return button;
}

function clearError(line) {
  line.hidden = true;
  line.textContent = '';
}

/** Runs `fn`, showing its failure in `line`; answers whether it succeeded. */
async function attempt(line, doing, fn, options) {
  clearError(line);
  try {
    await fn();
    return true;
  } catch (err) {
    showError(line, doing, err, options);
    return false;
  }
}

// --------------------------------------------------------------- sign-in --

function signIn(reason) {
  const token = h('input', { id: 'token', type: 'password', required: true, autocomplete: 'current-password' });
  const project = h('input', { id: 'project', required: true, pattern: NAME_PATTERN, value: session.project, title: NAME_HINT });
  const error = errorLine();
  const button = h('button', { class: 'primary', type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'codepool console'),
    h('p', { class: 'muted' }, 'Voucher pools, imports and web layers of one project.'),
    h('label', { for: 'token' }, 'Admin token or key'), token,
    h('label', { for: 'project' }, 'Project'), project,
    button, error,
    h('p', { class: 'hint' }, 'The Worker’s ADMIN_TOKEN (in .dev.vars when you run scripts/dev.sh) opens every project ' +
      'and creates new ones; a project key (cpk_…) opens its own project, as far as its scope reaches. ' +
      'It is kept in this tab only.'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    // A cheap reading call checks the token and the project before anything is kept.
    const given = token.value.trim();
    const ok = await attempt(error, 'Could not sign in', () =>
      call('GET', '', { token: given, project: project.value }).catch((err) => {
        if (err.status === 401) err.status = 403; // stay here, say why
        err.project = project.value;
        throw err;
      }), { token: given });
    button.disabled = false;
    if (!ok) return;
    session.signIn(token.value.trim(), project.value);
    go(/^#\/\w/.test(location.hash) ? location.hash : '#/pools');
  });
  if (reason) showError(error, 'Signed out', { message: reason });
  app.replaceChildren(h('main', { class: 'signin-page' }, form));
  token.focus();
}

// ---------------------------------------------------------------- layout --

const NAV = [['#/pools', 'Pools'], ['#/layers', 'Layers'], ['#/settings', 'Settings'], ['#/keys', 'Keys']];

function shell(view) {
  const project = h('input', { id: 'switch-project', required: true, pattern: NAME_PATTERN, value: session.project, title: NAME_HINT, size: 14 });
  const switcher = h('form', { class: 'project' },
    h('label', { for: 'switch-project' }, 'Project'), project, h('button', { type: 'submit' }, 'Open'));
  switcher.addEventListener('submit', (e) => {
    e.preventDefault();
    session.setProject(project.value);
    go('#/pools');
  });
  const signOut = h('button', { type: 'button', class: 'link', onclick: () => { session.signOut(); signIn(); } }, 'Sign out');
  const current = location.hash.split('/').slice(0, 2).join('/');
  app.replaceChildren(
    h('header', { class: 'top' },
      h('a', { class: 'brand', href: '#/pools' }, 'codepool'),
      h('nav', { 'aria-label': 'Console' }, NAV.map(([href, text]) =>
        h('a', { href, 'aria-current': href === current ? 'page' : null }, text))),
      switcher, signOut),
    h('main', { id: 'view' }, view),
  );
}

// ----------------------------------------------------------------- pools --

/**
 * "83%" of codes available; never "100%" while some are gone, nor "0%"
 * while some are left, so that a glance does not mislead.
 */
function share(n, total) {
  const p = Math.round((100 * n) / total);
  if (p === 100 && n < total) return '99%';
  if (p === 0 && n > 0) return '<1%';
  return `${p}%`;
}

/** "3 dispensers", "1 dispenser". */
const dispensersText = (n) => `${num(n)} ${n === 1 ? 'dispenser' : 'dispensers'}`;

/**
 * The availability bar: available / leased / assigned / redeemed shares of
 * total. The share shown is of the codes left (available, or leased to a
 * layer's dispensers and not handed out yet: what count_available_codes()
 * answers); leased codes are named only when there are some.
 */
function availabilityBar(p) {
  const pct = (n) => (p.total ? (100 * n) / p.total : 0);
  const left = p.available + p.leased;
  const leased = p.leased ? `, ${num(p.leased)} leased to ${dispensersText(p.dispensers)}` : '';
  const text = p.total
    ? `${share(left, p.total)} ${p.leased ? 'left' : 'available'}: ${num(p.available)} available${leased}, ` +
      `${num(p.assigned)} assigned, ${num(p.redeemed)} redeemed of ${num(p.total)}`
    : 'No codes yet';
  const part = (cls, n) => {
    const span = h('span', { class: cls });
    span.style.width = `${pct(n)}%`;
    return span;
  };
  return h('div', { class: 'availability' },
    h('div', { class: 'bar', role: 'img', 'aria-label': text, title: text },
      part('available', p.available), part('leased', p.leased), part('assigned', p.assigned),
      part('redeemed', p.redeemed)),
    h('span', { class: 'pct' }, p.total ? share(left, p.total) : '—'));
}

const LEGEND = h('p', { class: 'legend' },
  h('span', { class: 'key available' }), 'available ',
  h('span', { class: 'key leased' }), 'leased to dispensers ',
  h('span', { class: 'key assigned' }), 'assigned ',
  h('span', { class: 'key redeemed' }), 'redeemed');

async function poolsView() {
  const error = errorLine();
  const body = h('tbody');
  const table = h('table', { class: 'pools' },
    h('caption', { class: 'sr-only' }, 'Pools with their counts'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Pool'),
      ['Total', 'Available', 'Leased', 'Assigned', 'Redeemed'].map((t) => h('th', { scope: 'col', class: 'n' }, t)),
      h('th', { scope: 'col', class: 'bar-col' }, 'Availability'))),
    body);
  const lead = h('p', { class: 'muted' }, 'Loading…');
  const view = h('section', {},
    h('div', { class: 'title-row' }, h('h1', {}, 'Pools'), lead),
    error, table, LEGEND.cloneNode(true), newPoolForm());
  shell(view);
  await attempt(error, 'Could not load the pools', async () => {
    const { pools } = await call('GET', '/pools');
    lead.textContent = `${pools.length} ${pools.length === 1 ? 'pool' : 'pools'} in project ${session.project}`;
    body.replaceChildren(...pools.map((p) => h('tr', {},
      h('th', { scope: 'row' }, h('a', { href: `#/pools/${seg(p.name)}` }, p.name), ' ', alertBadges(p),
        p.description ? h('div', { class: 'desc' }, p.description) : null),
      [p.total, p.available].map((n) => h('td', { class: 'n' }, num(n))),
      h('td', { class: 'n', 'data-leased': p.leased, 'data-dispensers': p.dispensers },
        num(p.leased), p.dispensers ? h('div', { class: 'desc' }, dispensersText(p.dispensers)) : null),
      [p.assigned, p.redeemed].map((n) => h('td', { class: 'n' }, num(n))),
      h('td', {}, availabilityBar(p)))));
    if (!pools.length) {
      body.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No pools yet: create the first one below.')));
    }
  });
}

function newPoolForm() {
  const name = h('input', { id: 'pool-name', required: true, pattern: NAME_PATTERN, title: NAME_HINT, placeholder: 'spring10' });
  const description = h('input', { id: 'pool-description', placeholder: '10% off, spring campaign', size: 40 });
  const error = errorLine();
  const form = h('form', { class: 'card inline-form', 'aria-labelledby': 'new-pool-title' },
    h('h2', { id: 'new-pool-title' }, 'New pool'),
    h('div', { class: 'fields' },
      h('div', {}, h('label', { for: 'pool-name' }, 'Name'), name),
      h('div', { class: 'grow' }, h('label', { for: 'pool-description' }, 'Description'), description),
      h('button', { class: 'primary', type: 'submit' }, 'Create pool')),
    h('p', { class: 'hint' }, `Names: ${NAME_HINT}. A code is unique in the whole project.`),
    error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const pool = name.value;
    const ok = await attempt(error, `Could not create pool ${pool}`, () =>
      call('PUT', `/pools/${seg(pool)}`, { json: { description: description.value } }));
    if (ok) location.hash = `#/pools/${seg(pool)}`;
  });
  return form;
}

// ------------------------------------------------------------------ pool --

async function poolView(pool) {
  const error = errorLine();
  const stats = h('div', { class: 'stats' });
  const description = h('p', { class: 'muted' });
  const actions = h('div', { class: 'tools pool-actions' });
  const alerts = alertsCard(pool, () => refresh());
  const lifecycle = lifecycleCard(pool, () => refresh());
  const view = h('section', {},
    h('p', { class: 'crumbs' }, h('a', { href: '#/pools' }, 'Pools'), ' / ', pool),
    h('div', { class: 'title-row' }, h('h1', {}, pool), description, actions),
    error, stats,
    h('div', { class: 'two' }, uploadCard(pool, refresh), activityCard(pool)),
    generateCard(pool, refresh),
    lifecycle.card,
    alerts.card,
    codesCard(pool, refresh));
  shell(view);

  async function refresh() {
    await attempt(error, `Could not load pool ${pool}`, async () => {
      const p = await call('GET', `/pools/${seg(pool)}`);
      description.textContent = `${p.description || `Created ${when(p.created_at)}`} · ${statusText(p)}`;
      description.dataset.poolStatus = p.status;
      actions.replaceChildren(...poolActions(pool, p, refresh, error));
      const stat = (label, n, cls, note) => h('div', { class: `stat ${cls}`, 'data-stat': cls },
        h('span', { class: 'label' }, label), h('span', { class: 'value' }, num(n)),
        note ? h('span', { class: 'note' }, note) : null);
      // Leased: held by the dispensers of layers that have some, not handed out yet.
      const leasedTo = p.dispensers ? `to ${dispensersText(p.dispensers)}` : 'no dispenser';
      stats.replaceChildren(
        stat('Total', p.total, 'total'), stat('Available', p.available, 'available'),
        stat('Leased', p.leased, 'leased', leasedTo),
        stat('Assigned', p.assigned, 'assigned'), stat('Redeemed', p.redeemed, 'redeemed'),
        stat('Expired', p.expired, 'expired', p.stop_assigning_before_expiry
          ? `incl. within ${p.stop_assigning_before_expiry} of expiry` : null),
        stat('Void', p.void, 'void'),
        h('div', { class: 'stat wide' }, h('span', { class: 'label' }, 'Availability'), availabilityBar(p)));
      alerts.show(p);
      lifecycle.show(p);
    });
  }
  await refresh();
}

/**
 * A pool's lifecycle buttons: Delete while it has handed out nothing (no
 * assigned or redeemed codes), else Archive; Unarchive when archived.
 */
function poolActions(pool, p, refresh, error) {
  const buttons = [];
  const archive = (archived) => {
    const button = h('button', { type: 'button' }, archived ? 'Archive' : 'Unarchive');
    button.addEventListener('click', async () => {
      button.disabled = true;
      await attempt(error, `Could not ${archived ? 'archive' : 'unarchive'} pool ${pool}`, async () => {
        await call('PUT', `/pools/${seg(pool)}`, { json: { ...poolSettingsOf(p), archived } });
        await refresh();
      });
      button.disabled = false;
    });
    return button;
  };
  if (p.archived) buttons.push(archive(false));
  if (p.assigned + p.redeemed === 0) {
    const remove = h('button', { class: 'danger', type: 'button' }, 'Delete pool');
    remove.addEventListener('click', async () => {
      const sure = window.confirm(`Delete pool ${pool} and its ${num(p.total)} ${p.total === 1 ? 'code' : 'codes'}? ` +
        'They can be imported again afterwards. Templates that still use the pool fail (404 unknown_pool).');
      if (!sure) return;
      remove.disabled = true;
      const deleted = await attempt(error, `Could not delete pool ${pool}`, () => call('DELETE', `/pools/${seg(pool)}`));
      remove.disabled = false;
      if (deleted) location.hash = '#/pools';
    });
    buttons.push(remove);
  } else if (!p.archived) {
    const button = archive(true);
    button.title = 'It has handed out codes, so it cannot be deleted: archived, it hands out nothing and its codes can still be redeemed.';
    buttons.push(button);
  }
  return buttons;
}

/** Whether a pool hands out codes now, in words. */
function statusText(p) {
  switch (p.status) {
    case 'scheduled': return `scheduled: hands out codes from ${when(p.valid_from)}`;
    case 'expired': return `expired: handed out codes until ${p.stop_assigning_before_expiry
      ? `${p.stop_assigning_before_expiry} before ` : ''}${when(p.expires_at)}`;
    case 'archived': return 'archived: hands out nothing, keeps its codes for redemption';
    default: return p.expires_at ? `active until ${when(p.expires_at)}` : 'active';
  }
}

/**
 * A pool's window, expiry margin and archiving (`PUT /pools/{pool}`, sent
 * whole). `card`, and `show(pool)` to follow the pool as the page reads it
 * (another card, or the Archive button, may have changed it since), unless
 * the card is being edited.
 */
function lifecycleCard(pool, afterSave) {
  const local = (iso) => (iso ? iso.slice(0, 16) : '');
  const from = h('input', { id: 'pool-valid-from', type: 'datetime-local' });
  const until = h('input', { id: 'pool-expires-at', type: 'datetime-local' });
  const margin = h('input', { id: 'pool-stop-before', placeholder: '7d', size: 6 });
  const archived = h('input', { id: 'pool-archived', type: 'checkbox' });
  const error = errorLine();
  const saved = h('span', { class: 'muted', role: 'status' });
  let current = {};
  const form = h('form', { class: 'card', 'aria-labelledby': 'lifecycle-title' },
    h('h2', { id: 'lifecycle-title' }, 'Validity'),
    h('p', { class: 'hint' }, 'Times are UTC. Before “valid from” and after “expires at” the pool hands out nothing; ' +
      'codes (and the pool) stop being handed out the given time before they expire, e.g. 7d or 12h. ' +
      'Codes can carry their own expiry in an “expires_at” column of the import file.'),
    h('div', { class: 'fields' },
      h('div', {}, h('label', { for: 'pool-valid-from' }, 'Valid from'), from),
      h('div', {}, h('label', { for: 'pool-expires-at' }, 'Expires at'), until),
      h('div', {}, h('label', { for: 'pool-stop-before' }, 'Stop before expiry'), margin),
      h('div', {}, h('label', { for: 'pool-archived' }, archived, ' Archived'))),
    h('button', { class: 'primary', type: 'submit' }, 'Save'), ' ', saved, error);
  const utc = (value) => (value ? `${value}:00Z` : undefined);
  const fill = (p) => {
    current = p;
    from.value = local(p.valid_from);
    until.value = local(p.expires_at);
    margin.value = p.stop_assigning_before_expiry ?? '';
    archived.checked = !!p.archived;
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    saved.textContent = '';
    attempt(error, 'Could not save', async () => {
      const body = {
        ...poolSettingsOf(current),
        valid_from: utc(from.value), expires_at: utc(until.value),
        stop_assigning_before_expiry: margin.value.trim() || undefined, archived: archived.checked,
      };
      fill(await call('PUT', `/pools/${seg(pool)}`, { json: body }));
      saved.textContent = 'Saved.';
      await afterSave();
    });
  });
  const show = (p) => {
    if (form.contains(document.activeElement)) current = p;
    else fill(p);
  };
  return { card: form, show };
}

// ---------------------------------------------------------------- alerts --

const ALERT_NAMES = { low_stock: 'Low stock', out_of_codes: 'Out of codes', near_expiry: 'Near expiry' };

/**
 * What `PUT /pools/{pool}` takes, from the pool as `GET` shows it: a PUT
 * replaces every setting, so a form that changes one sends the others as
 * they are. Settings added to pools later belong in this list.
 */
const POOL_SETTINGS = ['description', 'alerts', 'valid_from', 'expires_at', 'stop_assigning_before_expiry', 'archived'];
function poolSettingsOf(p) {
  return Object.fromEntries(POOL_SETTINGS.filter((k) => p[k] !== undefined).map((k) => [k, p[k]]));
}

/** "Fired 25 Nov 2025, 19:00 · delivered (1 attempt)", per alert kind. */
function alertStateText(state) {
  if (!state) return 'Not set';
  const parts = [];
  if (state.state === 'armed') parts.push('Armed');
  if (state.state === 'fired') parts.push(`Fired ${when(state.fired_at)}`);
  if (state.state === 'unarmed') parts.push('Holds, not fired: fires after a refill past it');
  if (state.state === 'armed' && state.fired_at) parts.push(`last fired ${when(state.fired_at)}`);
  const d = state.delivery;
  if (d) {
    const attempts = `${d.attempts} ${d.attempts === 1 ? 'attempt' : 'attempts'}`;
    const text = {
      pending: d.attempts ? `webhook retrying (${attempts}${d.at ? `, next ${when(d.at)}` : ''})` : 'webhook pending',
      delivered: `webhook delivered (${attempts})`,
      failed: `webhook failed after ${attempts}`,
      skipped: 'no webhook: logged only',
    }[d.status];
    parts.push(text + (d.last_error && d.status !== 'delivered' ? `: ${d.last_error}` : ''));
  }
  return parts.join(' · ');
}

/** Small tags for the pools table: the alerts that fired and still hold. */
function alertBadges(p) {
  const fired = Object.entries(p.alert_state ?? {}).filter(([, s]) => s.state === 'fired');
  return fired.map(([kind]) => h('span', { class: `alert-badge ${kind}`, 'data-alert': kind }, ALERT_NAMES[kind] ?? kind));
}

/**
 * A pool's alerts: the thresholds a marketer sets (low stock as a count or
 * a percentage, out of codes, near expiry as a duration) and where each
 * stands (armed or fired, how its webhook went). `card`, and `show(pool)`
 * to fill it from the pool's JSON.
 */
function alertsCard(pool, afterSave) {
  const lowStock = h('input', { id: 'alert-low-stock', placeholder: '100 or 10%', size: 12, pattern: '\\s*(\\d+(\\.\\d{1,2})?\\s*%|\\d+)\\s*' });
  const outOfCodes = h('input', { id: 'alert-out-of-codes', type: 'checkbox' });
  const nearExpiry = h('input', { id: 'alert-near-expiry', placeholder: '7d', size: 8, pattern: '\\s*\\d+[hdw]\\s*' });
  const states = h('dl', { class: 'alert-states' });
  const error = errorLine();
  const done = h('p', { class: 'ok', role: 'status' });
  const save = h('button', { class: 'primary', type: 'submit' }, 'Save alerts');
  let current = null;
  const card = h('form', { class: 'card alerts', 'aria-labelledby': 'alerts-title' },
    h('h2', { id: 'alerts-title' }, 'Alerts'),
    h('p', { class: 'hint' }, 'Each alert fires once when the pool crosses it, goes to the event log and to the ' +
      'project’s webhook (Settings), and is re-armed when the pool is refilled past it.'),
    h('div', { class: 'fields' },
      h('div', {}, h('label', { for: 'alert-low-stock' }, 'Low stock at'), lowStock),
      h('div', {}, h('label', { for: 'alert-near-expiry' }, 'Near expiry within'), nearExpiry),
      h('label', { class: 'check' }, outOfCodes, ' Out of codes')),
    h('p', { class: 'hint' }, 'Low stock: codes left to hand out, as a count (100) or a share of the total (10%). ' +
      'Near expiry: hours, days or weeks before the first code left expires (12h, 7d, 2w). Empty: no alert.'),
    states,
    h('div', { class: 'actions' }, save),
    error, done);
  card.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!current) return;
    done.textContent = '';
    const alerts = {};
    const low = lowStock.value.trim();
    if (low) alerts.low_stock = /^\d+$/.test(low) ? Number(low) : low;
    if (outOfCodes.checked) alerts.out_of_codes = true;
    if (nearExpiry.value.trim()) alerts.near_expiry = nearExpiry.value.trim();
    const body = { ...poolSettingsOf(current), alerts: Object.keys(alerts).length ? alerts : null };
    save.disabled = true;
    const ok = await attempt(error, 'Could not save the alerts', () =>
      call('PUT', `/pools/${seg(pool)}`, { json: body }));
    save.disabled = false;
    if (ok) {
      done.textContent = 'Alerts saved.';
      await afterSave();
    }
  });
  const show = (p) => {
    current = p;
    const a = p.alerts ?? {};
    if (!card.contains(document.activeElement)) {
      lowStock.value = a.low_stock ?? '';
      outOfCodes.checked = Boolean(a.out_of_codes);
      nearExpiry.value = a.near_expiry ?? '';
    }
    const rows = Object.entries(ALERT_NAMES).filter(([kind]) => p.alert_state?.[kind]).map(([kind, name]) => {
      const state = p.alert_state[kind];
      return [h('dt', {}, name),
        h('dd', { 'data-alert-state': kind, class: `alert-${state.state}` }, alertStateText(state))];
    });
    states.replaceChildren(...(rows.length ? rows.flat() : [h('dd', { class: 'muted' }, 'No alert is set.')]));
  };
  return { card, show };
}

function uploadCard(pool, afterImport) {
  const file = h('input', { id: 'csv-file', type: 'file', accept: '.csv,.txt,text/csv,text/plain', required: true });
  const column = h('input', { id: 'csv-column', placeholder: 'the only column, or “code”', size: 22 });
  const bar = h('progress', { id: 'upload-progress', max: 1, value: 0 });
  const barText = h('span', {});
  const progress = h('div', { class: 'progress', hidden: true }, h('label', { for: 'upload-progress' }, barText), bar);
  const result = h('div', { class: 'import-result', role: 'status' });
  const error = errorLine();
  const button = h('button', { class: 'primary', type: 'submit' }, 'Upload and import');
  const form = h('form', { class: 'card', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload codes'),
    h('p', { class: 'hint' }, 'A CSV file with a header row: one column, or a column named “code”, or the column you name. ' +
      'Codes already in the project are skipped and counted.'),
    h('div', { class: 'fields' },
      h('div', { class: 'grow' }, h('label', { for: 'csv-file' }, 'CSV file'), file),
      h('div', {}, h('label', { for: 'csv-column' }, 'Code column (optional)'), column)),
    button, progress, error, result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    button.disabled = true;
    progress.hidden = false;
    result.replaceChildren();
    const onProgress = (f) => {
      bar.value = f;
      barText.textContent = f < 1 ? `Uploading ${chosen.name}: ${Math.round(f * 100)}%` : 'Importing…';
    };
    onProgress(0);
    await attempt(error, `Could not import ${chosen.name}`, async () => {
      const report = await uploadCsv(pool, chosen, { column: column.value.trim(), onProgress });
      result.replaceChildren(importReport(chosen.name, report));
      form.reset();
      await afterImport();
    });
    progress.hidden = true;
    button.disabled = false;
  });
  return form;
}

function importReport(fileName, r) {
  const row = (label, n, cls) => [h('dt', {}, label), h('dd', { class: cls, 'data-count': cls }, num(n))];
  const samples = r.invalid_samples ?? [];
  return h('div', {},
    h('h3', {}, `Imported ${num(r.imported)} new ${r.imported === 1 ? 'code' : 'codes'} from ${fileName}`),
    h('dl', { class: 'counts' },
      row('Rows in the file', r.total_rows, 'total_rows'),
      row('Imported', r.imported, 'imported'),
      row('Duplicates in the file', r.duplicates_in_file, 'duplicates_in_file'),
      row('Already in the project', r.already_in_project, 'already_in_project'),
      row('Invalid', r.invalid, 'invalid'),
      r.column ? [h('dt', {}, 'Code column'), h('dd', {}, r.column)] : null),
    samples.length ? h('table', { class: 'samples' },
      h('caption', {}, r.invalid > samples.length ? `First ${samples.length} of ${num(r.invalid)} invalid rows` : 'Invalid rows'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Why'))),
      h('tbody', {}, samples.map((s) => h('tr', {}, h('td', { class: 'n' }, s.line), h('td', {}, s.reason))))) : null);
}

/** The named charsets of `POST /pools/{pool}/generate`, with their sizes. */
const CHARSETS = [
  ['readable', 'Readable: A–Z and 2–9 without 0 O 1 I L (31)', 31],
  ['alphanumeric', 'A–Z and 0–9 (36)', 36],
  ['letters', 'A–Z (26)', 26],
  ['digits', '0–9 (10)', 10],
  ['custom', 'These characters…', 0],
];

/** How many codes a pattern holds: the charset's size to the power of its `#`s. */
function capacityText(pattern, size, count) {
  const placeholders = [...pattern].filter((c) => c === '#').length;
  if (!placeholders) return 'Each # in the pattern is one random character; the pattern has none yet.';
  if (size < 2) return 'Type at least 2 characters to draw from.';
  const holds = size ** placeholders;
  const shown = holds > Number.MAX_SAFE_INTEGER ? `more than ${num(Number.MAX_SAFE_INTEGER)}` : num(holds);
  const needs = 100 * (count || 1);
  return `The pattern holds ${shown} codes (${size}^${placeholders}); ${num(count || 1)} `
    + `${count === 1 ? 'code needs' : 'codes need'} at least ${num(needs)} (100× the count)`
    + (holds >= needs ? '.' : ': add placeholders.');
}

function generateCard(pool, afterGenerate) {
  const count = h('input', { id: 'gen-count', type: 'number', min: 1, max: 1_000_000, value: 1000, required: true });
  const pattern = h('input', { id: 'gen-pattern', required: true, value: 'SPRING-####-####', size: 24, spellcheck: 'false' });
  const charset = h('select', { id: 'gen-charset' }, CHARSETS.map(([value, text]) => h('option', { value }, text)));
  const custom = h('input', { id: 'gen-custom', placeholder: 'ACDEFHJKMNPRTWXY34679', size: 24, spellcheck: 'false' });
  const customField = h('div', { hidden: true }, h('label', { for: 'gen-custom' }, 'Characters'), custom);
  const capacity = h('p', { class: 'hint', 'data-capacity': '' });
  const result = h('div', { class: 'import-result', role: 'status' });
  const error = errorLine();
  const button = h('button', { class: 'primary', type: 'submit' }, 'Generate');
  const size = () => (charset.value === 'custom' ? [...custom.value].length : CHARSETS.find(([v]) => v === charset.value)[2]);
  const update = () => {
    customField.hidden = charset.value !== 'custom';
    custom.required = charset.value === 'custom';
    capacity.textContent = capacityText(pattern.value, size(), Number(count.value));
  };
  for (const input of [count, pattern, charset, custom]) input.addEventListener('input', update);
  update();
  const form = h('form', { class: 'card', 'aria-labelledby': 'generate-title' },
    h('h2', { id: 'generate-title' }, 'Generate codes'),
    h('p', { class: 'hint' }, 'Random codes of a pattern: each # is one character drawn from the charset, ' +
      'anything else is kept as it is. Codes are unique in the project: one that exists is drawn again.'),
    h('div', { class: 'fields' },
      h('div', {}, h('label', { for: 'gen-count' }, 'How many'), count),
      h('div', {}, h('label', { for: 'gen-pattern' }, 'Pattern'), pattern),
      h('div', {}, h('label', { for: 'gen-charset' }, 'Charset'), charset),
      customField),
    capacity, button, error, result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    button.textContent = 'Generating…';
    result.replaceChildren();
    const json = { count: Number(count.value), pattern: pattern.value };
    if (charset.value !== 'readable') json.charset = charset.value === 'custom' ? custom.value : charset.value;
    await attempt(error, `Could not generate codes of ${pattern.value}`, async () => {
      const report = await call('POST', `/pools/${seg(pool)}/generate`, { json });
      result.replaceChildren(generateReport(json.pattern, report));
      await afterGenerate();
    });
    button.textContent = 'Generate';
    button.disabled = false;
  });
  return form;
}

/** A generation's report: an import's, where a row is a candidate drawn. */
function generateReport(pattern, r) {
  const row = (label, n, cls) => [h('dt', {}, label), h('dd', { class: cls, 'data-count': cls }, num(n))];
  return h('div', {},
    h('h3', {}, `Generated ${num(r.imported)} new ${r.imported === 1 ? 'code' : 'codes'} of ${pattern}`),
    h('dl', { class: 'counts' },
      row('Candidates drawn', r.total_rows, 'total_rows'),
      row('Added to the pool', r.imported, 'imported'),
      row('Already in the project (drawn again)', r.already_in_project, 'already_in_project'),
      row('Drawn twice (drawn again)', r.duplicates_in_file, 'duplicates_in_file')));
}

function activityCard(pool) {
  const days = h('select', { id: 'activity-days' },
    [7, 30, 90].map((d) => h('option', { value: d, selected: d === 30 }, `${d} days`)));
  const holder = h('div', { class: 'chart-holder' });
  const summary = h('p', { class: 'muted', 'data-activity-summary': '' });
  const error = errorLine();
  const card = h('section', { class: 'card', 'aria-labelledby': 'activity-title' },
    h('div', { class: 'title-row' }, h('h2', { id: 'activity-title' }, 'Assignments and redemptions per day'),
      h('label', { for: 'activity-days', class: 'sr-only' }, 'Days shown'), days),
    holder,
    h('p', { class: 'legend' }, h('span', { class: 'key assigned' }), 'assigned ', h('span', { class: 'key redeemed' }), 'redeemed (UTC days)'),
    summary, error);
  const load = () => attempt(error, 'Could not load the activity', async () => {
    const activity = await call('GET', `/pools/${seg(pool)}/activity?days=${days.value}`);
    const { chart, summary: text } = activityChart(activity.days);
    holder.replaceChildren(chart);
    summary.textContent = text;
  });
  days.addEventListener('change', load);
  load();
  return card;
}

function codesCard(pool, afterChange) {
  const state = h('select', { id: 'codes-state' },
    [['', 'All states'], ['available', 'Available'], ['leased', 'Leased'], ['assigned', 'Assigned'],
      ['redeemed', 'Redeemed'], ['expired', 'Expired'], ['void', 'Void']]
      .map(([value, text]) => h('option', { value }, text)));
  const body = h('tbody');
  const prev = h('button', { type: 'button', disabled: true }, '← Previous');
  const next = h('button', { type: 'button', disabled: true }, 'Next →');
  const page = h('span', { class: 'muted', 'aria-live': 'polite' });
  const exportButton = h('button', { type: 'button' }, 'Export CSV');
  const error = errorLine();
  const card = h('section', { class: 'card', 'aria-labelledby': 'codes-title' },
    h('div', { class: 'title-row' }, h('h2', { id: 'codes-title' }, 'Codes'),
      h('div', { class: 'tools' }, h('label', { for: 'codes-state' }, 'State'), state, exportButton)),
    error,
    h('table', { class: 'codes' },
      h('thead', {}, h('tr', {}, ['Code', 'State', 'Assigned', 'Customer', 'Source', 'Redeemed', 'Expires']
        .map((t) => h('th', { scope: 'col' }, t)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      body),
    h('div', { class: 'pager' }, prev, page, next));

  // Cursor paging: cursors[i] fetches page i (null: the first).
  let cursors = [null];
  let index = 0;
  const query = (extra = {}) => {
    const q = new URLSearchParams(extra);
    if (state.value) q.set('state', state.value);
    return q.toString();
  };
  const load = () => attempt(error, 'Could not load the codes', async () => {
    const cursor = cursors[index];
    const answer = await call('GET', `/pools/${seg(pool)}/codes?${query({ limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) })}`);
    body.replaceChildren(...answer.codes.map((c) => h('tr', {},
      h('td', { class: 'code' }, c.code),
      h('td', {}, h('span', { class: `state ${c.state}` }, c.state)),
      h('td', {}, when(c.assigned_at)), h('td', {}, c.customer_id ?? '—'),
      h('td', {}, c.source ?? '—'), h('td', {}, when(c.redeemed_at)), h('td', {}, when(c.expires_at)),
      h('td', { class: 'row-actions' }, codeAction(c)))));
    if (!answer.codes.length) {
      body.append(h('tr', {}, h('td', { colspan: 8, class: 'empty' }, index ? 'No more codes.' : 'No codes in this state.')));
    }
    cursors = cursors.slice(0, index + 1);
    if (answer.next_cursor) cursors.push(answer.next_cursor);
    prev.disabled = index === 0;
    next.disabled = !answer.next_cursor;
    page.textContent = `Page ${index + 1}`;
  });
  // Void any code not redeemed or void yet; roll a redemption back.
  const codeAction = (c) => {
    const path = `/pools/${seg(pool)}/codes/${seg(c.code)}`;
    const act = (label, question, doing, route) => {
      const button = h('button', { type: 'button', class: 'small', 'aria-label': `${label} ${c.code}` }, label);
      button.addEventListener('click', async () => {
        if (!window.confirm(question)) return;
        button.disabled = true;
        const done = await attempt(error, `Could not ${doing} ${c.code}`, () => call('POST', `${path}/${route}`));
        button.disabled = false;
        if (done) await Promise.all([load(), afterChange?.()]);
      });
      return button;
    };
    if (c.state === 'redeemed') {
      return act('Roll back', `Roll back the redemption of ${c.code}? It becomes assigned to ` +
        `${c.customer_id ?? 'its holder'} again, who can redeem it once more.`, 'roll back', 'rollback');
    }
    if (c.state === 'void') return null;
    const who = c.state === 'assigned' ? ` ${c.customer_id ?? 'Its holder'} can no longer redeem it.` : '';
    const held = c.state === 'leased' ? ' The dispensers that hold it give it back first.' : '';
    return act('Void', `Void ${c.code}? It will never be handed out or redeemed.${who}${held}`, 'void', 'void');
  };
  state.addEventListener('change', () => { cursors = [null]; index = 0; load(); });
  prev.addEventListener('click', () => { index -= 1; load(); });
  next.addEventListener('click', () => { index += 1; load(); });
  exportButton.addEventListener('click', () => attempt(error, 'Could not export the codes', async () => {
    const blob = await call('GET', `/pools/${seg(pool)}/codes?${query()}`, { accept: 'text/csv' });
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: `${pool}-${state.value || 'all'}-codes.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }));
  load();
  return card;
}

// ---------------------------------------------------------------- layers --

async function layersView() {
  const error = errorLine();
  const body = h('tbody');
  const name = h('input', { id: 'layer-name', required: true, pattern: NAME_PATTERN, title: NAME_HINT, placeholder: 'welcome' });
  const form = h('form', { class: 'card inline-form', 'aria-labelledby': 'new-layer-title' },
    h('h2', { id: 'new-layer-title' }, 'New layer'),
    h('div', { class: 'fields' },
      h('div', {}, h('label', { for: 'layer-name' }, 'Name'), name),
      h('button', { class: 'primary', type: 'submit' }, 'Open the editor')),
    h('p', { class: 'hint' }, 'The layer is stored when you save it in the editor.'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/layers/${seg(name.value)}`;
  });
  shell(h('section', {},
    h('div', { class: 'title-row' }, h('h1', {}, 'Layers')),
    error,
    h('table', {},
      h('thead', {}, h('tr', {}, ['Layer', 'Status', 'Assignment', 'Customer ids', 'Served by', 'Version', 'Updated']
        .map((t) => h('th', { scope: 'col' }, t)))),
      body),
    form));
  await attempt(error, 'Could not load the layers', async () => {
    const { layers } = await call('GET', '/layers');
    body.replaceChildren(...layers.map((l) => h('tr', {},
      h('th', { scope: 'row' }, h('a', { href: `#/layers/${seg(l.name)}` }, l.name)),
      h('td', {}, h('span', { class: `badge ${l.active ? 'on' : 'off'}` }, l.active ? 'Active' : 'Paused')),
      h('td', {}, l.assignment === 'per_customer' ? 'Same code per customer' : 'New code per display'),
      h('td', {}, l.require_expiry ? 'Signed, with expiry' : l.signed_customer ? 'Signed' : 'Any'),
      h('td', {}, l.dispensers ? dispensersText(l.dispensers) : 'The store'),
      h('td', { class: 'n' }, l.version), h('td', {}, when(l.updated_at)))));
    if (!layers.length) body.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No layers yet.')));
  });
}

/** The most dispensers a layer may have (MAX_DISPENSERS in src/dispenser/mod.rs). */
const MAX_DISPENSERS = 64;
const DISPENSERS_HINT = '0: the project’s store serves every display. 1–64: spread displays over this many ' +
  'dispensers holding leased blocks of codes, for layers with more traffic than one store handles ' +
  '(roughly above 500 displays/s).';

const FUNCTIONS = [
  ['assign_available_code', 'Assign a code'],
  ['count_available_codes', 'Codes left'],
  ['count_total_codes', 'Codes in pool'],
  ['fallback', 'Code, or fallback when the pool is empty'],
];

/**
 * What the insert-voucher helper inserts: a call of `fn` on `pool`, or for
 * `fallback` a code while the pool has one and other content when it is
 * empty (shown instead of no layer; that branch takes no code).
 */
function voucherSnippet(pool, fn) {
  const v = `vouchers['${pool}']`;
  if (fn !== 'fallback') return `{{ ${v}.${fn}() }}`;
  return `{% if ${v}.count_available_codes() > 0 %}{{ ${v}.assign_available_code() }}` +
    '{% else %}Shown when the pool is empty (takes no code){% endif %}';
}

const STARTER = `<div class="codepool-layer">
  <h2>A gift for you</h2>
  <p>Your code: <strong class="codepool-code"></strong></p>
  <button type="button" data-codepool-close>Close</button>
</div>`;

/** The preview's document: the loader's base styles, then the layer. */
function previewDocument(output) {
  return `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src * data:; font-src * data:">
<style>body{margin:0;padding:1.25rem;background:#eef1f6;font:16px/1.5 system-ui,sans-serif;color:#1d2433}
.box{background:#fff;border-radius:12px;padding:1.25rem 1.5rem;box-shadow:0 6px 24px rgba(0,0,0,.15);max-width:30rem;margin:0 auto}
.codepool-code{font:700 1.5rem/1.2 ui-monospace,monospace;letter-spacing:.05em}button,a{font:inherit}</style>
</head><body><div class="box">${output}</div></body></html>`;
}

async function layerView(name) {
  const error = errorLine();
  const saved = h('span', { class: 'muted', role: 'status' });
  const template = h('textarea', { id: 'template', spellcheck: 'false', rows: 20, wrap: 'off' });
  const pool = h('select', { id: 'insert-pool' });
  const fn = h('select', { id: 'insert-function' }, FUNCTIONS.map(([value, text]) => h('option', { value }, text)));
  const insert = h('button', { type: 'button' }, 'Insert voucher');
  const snippet = () => voucherSnippet(pool.value, fn.value);
  const snippetShown = h('code', { 'aria-live': 'polite' });
  const showSnippet = () => { snippetShown.textContent = pool.value ? `Inserts ${snippet()}` : 'Create a pool first.'; };
  pool.addEventListener('change', showSnippet);
  fn.addEventListener('change', showSnippet);
  const active = h('input', { id: 'layer-active', type: 'checkbox', checked: true });
  const assignment = h('select', { id: 'layer-assignment' },
    h('option', { value: 'per_display' }, 'New code on every display'),
    h('option', { value: 'per_customer' }, 'Same code for the same customer'));
  const signed = h('input', { id: 'layer-signed', type: 'checkbox' });
  const requireExpiry = h('input', { id: 'layer-require-expiry', type: 'checkbox', disabled: true });
  // An expiry applies to signed ids only.
  const syncExpiry = () => {
    requireExpiry.disabled = !signed.checked;
    if (!signed.checked) requireExpiry.checked = false;
  };
  signed.addEventListener('change', syncExpiry);
  const dispensers = h('input', { id: 'layer-dispensers', type: 'number', min: 0, max: MAX_DISPENSERS, step: 1,
    required: true, value: '0', size: 4, 'aria-describedby': 'layer-dispensers-hint' });
  const save = h('button', { class: 'primary', type: 'submit' }, 'Save layer');
  const remove = h('button', { class: 'danger', type: 'button', hidden: true }, 'Delete layer');
  const variables = h('textarea', { id: 'layer-variables', spellcheck: 'false', rows: 4, wrap: 'off',
    placeholder: '{"products": [{"name": "Linen shirt"}], "customer": {"first_name": "there"}}' });
  const customer = h('input', { id: 'preview-customer', value: 'preview-customer', size: 18 });
  const params = h('input', { id: 'preview-params', placeholder: 'utm_source=mail', size: 22 });
  const frame = h('iframe', { title: 'Layer preview', sandbox: '', class: 'preview' });
  const previewError = errorLine();
  const previewState = h('span', { class: 'muted', 'aria-live': 'polite' });

  const form = h('form', { class: 'card editor', 'aria-labelledby': 'editor-title' },
    h('h2', { id: 'editor-title' }, 'Template'),
    h('fieldset', { class: 'toolbar' },
      h('legend', {}, 'Insert voucher'),
      h('label', { for: 'insert-pool' }, 'Pool'), pool,
      h('label', { for: 'insert-function' }, 'Function'), fn,
      insert, snippetShown),
    h('label', { for: 'template', class: 'sr-only' }, 'Template (Jinja, HTML)'),
    template,
    h('p', { class: 'hint' }, 'Jinja with autoescaped HTML. Variables: customer.id, params (the page’s query parameters). ' +
      'An element with data-codepool-close closes the layer.'),
    h('label', { for: 'layer-variables' }, 'Variables (JSON object)'),
    variables,
    h('p', { class: 'hint' }, 'Every display sees these; "customer" holds default customer attributes.'),
    h('fieldset', { class: 'layer-settings' },
      h('legend', {}, 'Display'),
      h('label', { class: 'check' }, active, ' Active (a paused layer shows nothing)'),
      h('div', {}, h('label', { for: 'layer-assignment' }, 'Codes'), assignment),
      h('label', { class: 'check' }, signed, ' Only for signed customer ids (sig)'),
      h('label', { class: 'check' }, requireExpiry, ' Only signatures with an expiry (exp)')),
    h('fieldset', { class: 'layer-serving' },
      h('legend', {}, 'Serving'),
      h('div', {}, h('label', { for: 'layer-dispensers' }, 'Dispensers'), dispensers),
      h('p', { class: 'hint', id: 'layer-dispensers-hint' }, DISPENSERS_HINT)),
    h('div', { class: 'actions' }, save, saved, remove),
    error);
  const preview = h('section', { class: 'card preview-card', 'aria-labelledby': 'preview-title' },
    h('div', { class: 'title-row' }, h('h2', { id: 'preview-title' }, 'Preview'), previewState),
    h('div', { class: 'fields' },
      h('div', {}, h('label', { for: 'preview-customer' }, 'Customer id'), customer),
      h('div', {}, h('label', { for: 'preview-params' }, 'Page parameters'), params)),
    frame, previewError,
    h('p', { class: 'hint' }, `Preview ${PREVIEW_ENGINE}.`));
  shell(h('section', {},
    h('p', { class: 'crumbs' }, h('a', { href: '#/layers' }, 'Layers'), ' / ', name),
    h('div', { class: 'title-row' }, h('h1', {}, `Layer ${name}`)),
    h('div', { class: 'editor-grid' }, form, preview)));

  /** The variables as an object; a clear error when they are not one. */
  const parseVariables = () => {
    if (!variables.value.trim()) return {};
    let value;
    try {
      value = JSON.parse(variables.value);
    } catch (err) {
      throw new Error(`the variables are not JSON (${err.message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error('the variables must be a JSON object, e.g. {"products": []}');
    }
    return value;
  };

  // What a display sees: the layer's variables, the customer's id over the
  // default customer attributes, and the page's query as params.
  const displayContext = () => {
    const vars = parseVariables();
    const defaults = vars.customer && typeof vars.customer === 'object' ? vars.customer : {};
    return {
      ...vars,
      customer: { ...defaults, id: customer.value || null },
      params: Object.fromEntries(new URLSearchParams(params.value)),
    };
  };

  // Live preview; answers that come back out of order are dropped.
  let sequence = 0;
  const refreshPreview = async () => {
    const mine = ++sequence;
    previewState.textContent = 'Rendering…';
    try {
      const output = await renderPreview(template.value, displayContext());
      if (mine !== sequence) return;
      clearError(previewError);
      frame.classList.remove('stale');
      frame.srcdoc = previewDocument(output);
      previewState.textContent = output.trim() ? 'Up to date' : 'The template renders nothing';
    } catch (err) {
      if (mine !== sequence) return;
      frame.classList.add('stale');
      previewState.textContent = 'Not rendered';
      showError(previewError, 'The template does not render', err);
    }
  };
  const later = debounce(refreshPreview, 250);
  for (const input of [template, variables, customer, params]) input.addEventListener('input', later);

  // The insert-voucher helper, as in the platform's personalisation wizard:
  // the Jinja call goes where the cursor is, replacing any selection.
  insert.addEventListener('click', () => {
    template.focus();
    template.setRangeText(snippet(), template.selectionStart, template.selectionEnd, 'end');
    template.dispatchEvent(new Event('input'));
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    await attempt(error, `Could not save layer ${name}`, async () => {
      const layer = await call('PUT', `/layers/${seg(name)}`, {
        json: {
          template: template.value, variables: parseVariables(),
          active: active.checked, assignment: assignment.value, signed_customer: signed.checked,
          require_expiry: requireExpiry.checked, dispensers: dispensers.valueAsNumber,
        },
      });
      saved.textContent = `Saved: version ${layer.version}, ${when(layer.updated_at)}`;
      remove.hidden = false;
    });
    save.disabled = false;
  });

  remove.addEventListener('click', async () => {
    const sure = window.confirm(`Delete layer ${name}? Pages that show it will show nothing ` +
      '(404 unknown_layer). Codes it handed out stay assigned to their customers.');
    if (!sure) return;
    remove.disabled = true;
    const deleted = await attempt(error, `Could not delete layer ${name}`, () => call('DELETE', `/layers/${seg(name)}`));
    remove.disabled = false;
    if (deleted) location.hash = '#/layers';
  });

  await attempt(error, 'Could not load the pools for the voucher helper', async () => {
    const { pools } = await call('GET', '/pools');
    pool.replaceChildren(...pools.map((p) => h('option', { value: p.name }, `${p.name} (${num(p.available + p.leased)} left)`)));
    insert.disabled = !pools.length;
    if (!pools.length) pool.append(h('option', { value: '' }, 'No pools yet'));
    showSnippet();
  });
  await attempt(error, `Could not load layer ${name}`, async () => {
    // From the list, so that opening a layer not saved yet is no failed call.
    const { layers } = await call('GET', '/layers');
    const layer = layers.find((l) => l.name === name);
    if (!layer) {
      template.value = STARTER;
      saved.textContent = 'New layer: not saved yet';
      return;
    }
    template.value = layer.template;
    active.checked = layer.active;
    assignment.value = layer.assignment;
    signed.checked = Boolean(layer.signed_customer);
    requireExpiry.checked = Boolean(layer.require_expiry);
    syncExpiry();
    dispensers.value = String(layer.dispensers ?? 0);
    remove.hidden = false;
    const vars = layer.variables ?? {};
    variables.value = Object.keys(vars).length ? JSON.stringify(vars, null, 2) : '';
    saved.textContent = `Version ${layer.version}, saved ${when(layer.updated_at)}`;
  });
  refreshPreview();
}

// -------------------------------------------------------------- settings --

async function settingsView() {
  const error = errorLine();
  const done = h('p', { class: 'ok', role: 'status' });
  const redeem = h('input', { id: 'redeem-on', type: 'checkbox' });
  const eventType = h('input', { id: 'redeem-event', value: 'purchase', required: true });
  const property = h('input', { id: 'redeem-property', value: 'voucher_code', required: true });
  const holder = h('input', { id: 'redeem-holder', type: 'checkbox' });
  const rollbackType = h('input', { id: 'rollback-event', placeholder: 'refund' });
  const example = h('pre', { class: 'example' });
  const keyState = h('p', {});
  const key = h('input', { id: 'signing-key', autocomplete: 'off', minlength: 32, size: 48, spellcheck: 'false' });
  const removeKey = h('input', { id: 'signing-key-remove', type: 'checkbox' });
  const generate = h('button', { type: 'button' }, 'Generate a key');
  const webhookUrl = h('input', { id: 'webhook-url', type: 'url', size: 48, placeholder: 'https://example.com/hooks/codepool', spellcheck: 'false' });
  const secretState = h('p', {});
  const secret = h('input', { id: 'webhook-secret', autocomplete: 'off', minlength: 32, size: 48, spellcheck: 'false' });
  const removeSecret = h('input', { id: 'webhook-secret-remove', type: 'checkbox' });
  const generateSecret = h('button', { type: 'button' }, 'Generate a secret');
  const save = h('button', { class: 'primary', type: 'submit' }, 'Save settings');

  const showExample = () => {
    const fields = [eventType, property, holder, rollbackType];
    for (const f of fields) f.disabled = !redeem.checked;
    const event = (type) => JSON.stringify({
      customer_id: 'c1', type, properties: { [property.value]: 'SPRING-0001' },
    }, null, 2);
    const refund = rollbackType.value.trim();
    example.textContent = redeem.checked
      ? `POST /v1/projects/${session.project}/events\n` + event(eventType.value) +
        (refund ? `\n\nRolls the redemption back:\n${event(refund)}` : '')
      : 'No tracked event redeems codes: assigned codes stay assigned.';
  };
  redeem.addEventListener('change', showExample);
  eventType.addEventListener('input', showExample);
  property.addEventListener('input', showExample);
  rollbackType.addEventListener('input', showExample);
  const randomHex = () => Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, '0')).join('');
  generate.addEventListener('click', () => {
    key.value = randomHex();
    removeKey.checked = false;
  });
  generateSecret.addEventListener('click', () => {
    secret.value = randomHex();
    removeSecret.checked = false;
  });

  const form = h('form', { class: 'card settings', 'aria-labelledby': 'redemption-title' },
    h('h2', { id: 'redemption-title' }, 'Redemption'),
    h('p', { class: 'hint' }, 'A code becomes redeemed when the shop’s back end posts a tracked event of this type ' +
      'with the code in this property.'),
    h('label', { class: 'check' }, redeem, ' Redeem codes from tracked events'),
    h('div', { class: 'fields' },
      h('div', {}, h('label', { for: 'redeem-event' }, 'Event type'), eventType),
      h('div', {}, h('label', { for: 'redeem-property' }, 'Property with the code'), property)),
    h('div', { class: 'fields' },
      h('div', {}, h('label', { for: 'rollback-event' }, 'Roll back on this event (optional)'), rollbackType)),
    h('p', { class: 'hint' }, 'A tracked event of this type (a refund, say) with a redeemed code in the same property ' +
      'makes the code assigned to its holder again. Leave it empty: only the code list rolls back.'),
    h('label', { class: 'check' }, holder, ' Only the customer a code was handed to can redeem it'),
    h('p', { class: 'hint' }, 'A purchase by another customer is logged as holder_mismatch either way. Unchecked, it ' +
      'still redeems the code (for shops that track purchases under another id than their layers use); checked, the ' +
      'code stays with its holder.'),
    example,
    h('h2', {}, 'Customer signing key'),
    h('p', { class: 'hint' }, 'Layers that only show for signed customer ids check sig = HMAC-SHA256 of the id under this key. ' +
      'The key is never shown again once saved: copy it to the shop’s back end first.'),
    keyState,
    h('div', { class: 'fields' },
      h('div', { class: 'grow' }, h('label', { for: 'signing-key' }, 'New key (at least 32 characters)'), key),
      generate),
    h('label', { class: 'check' }, removeKey, ' Remove the stored key'),
    h('h2', {}, 'Alert webhook'),
    h('p', { class: 'hint' }, 'Pools’ alerts (low stock, out of codes, near expiry: set on each pool’s page) are POSTed ' +
      'here as JSON, signed: X-Codepool-Signature is sha256= and the HMAC-SHA256 of X-Codepool-Timestamp, a dot and ' +
      'the body under this secret. Failed deliveries are retried for about an hour. Without a URL, alerts are only logged.'),
    h('div', { class: 'fields' },
      h('div', { class: 'grow' }, h('label', { for: 'webhook-url' }, 'Webhook URL (http or https)'), webhookUrl)),
    secretState,
    h('div', { class: 'fields' },
      h('div', { class: 'grow' }, h('label', { for: 'webhook-secret' }, 'New webhook secret (at least 32 characters)'), secret),
      generateSecret),
    h('label', { class: 'check' }, removeSecret, ' Remove the stored secret'),
    h('div', { class: 'actions' }, save),
    error, done);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    done.textContent = '';
    const body = {
      redemption: redeem.checked
        ? {
          event_type: eventType.value, property: property.value, require_holder: holder.checked,
          ...(rollbackType.value.trim() ? { rollback_event_type: rollbackType.value.trim() } : {}),
        }
        : null,
    };
    if (removeKey.checked) body.customer_signing_key = '';
    else if (key.value) body.customer_signing_key = key.value;
    body.webhook_url = webhookUrl.value.trim() || null;
    if (removeSecret.checked) body.webhook_secret = '';
    else if (secret.value) body.webhook_secret = secret.value;
    save.disabled = true;
    await attempt(error, 'Could not save the settings', async () => {
      show(await call('PUT', '/settings', { json: body }));
      key.value = '';
      removeKey.checked = false;
      secret.value = '';
      removeSecret.checked = false;
      done.textContent = 'Settings saved.';
    });
    save.disabled = false;
  });
  const show = (s) => {
    redeem.checked = Boolean(s.redemption);
    if (s.redemption) {
      eventType.value = s.redemption.event_type;
      property.value = s.redemption.property;
      holder.checked = s.redemption.require_holder;
      rollbackType.value = s.redemption.rollback_event_type ?? '';
    }
    keyState.textContent = s.customer_signing_key_set ? 'A key is stored.' : 'No key is stored.';
    webhookUrl.value = s.webhook_url ?? '';
    secretState.textContent = s.webhook_secret_set ? 'A webhook secret is stored.' : 'No webhook secret is stored.';
    showExample();
  };
  shell(h('section', {}, h('div', { class: 'title-row' }, h('h1', {}, 'Settings'),
    h('p', { class: 'muted' }, `Project ${session.project}`)), form));
  await attempt(error, 'Could not load the settings', async () => show(await call('GET', '/settings')));
}

// ------------------------------------------------------------------ keys --

const SCOPES = [
  ['read', 'read: pools, codes and exports, activity, layers, settings, events'],
  ['tracking', 'tracking: only posting events (POST /events)'],
  ['admin', 'admin: everything in this project, keys included'],
];

async function keysView() {
  const error = errorLine();
  const body = h('tbody');
  const name = h('input', { id: 'key-name', required: true, maxlength: 100, placeholder: 'shop back end', size: 28 });
  const scope = h('select', { id: 'key-scope' }, SCOPES.map(([value, text]) => h('option', { value }, text)));
  const formError = errorLine();
  const shown = h('div', { class: 'new-key', hidden: true, role: 'status' });
  const form = h('form', { class: 'card inline-form', 'aria-labelledby': 'new-key-title' },
    h('h2', { id: 'new-key-title' }, 'New key'),
    h('div', { class: 'fields' },
      h('div', {}, h('label', { for: 'key-name' }, 'Name'), name),
      h('div', {}, h('label', { for: 'key-scope' }, 'Scope'), scope),
      h('button', { class: 'primary', type: 'submit' }, 'Create key')),
    h('p', { class: 'hint' }, 'A key opens this project only. It is shown once, when it is made: ' +
      'the project keeps only its hash. Revoke a key that leaked; it stops working at once.'),
    formError, shown);
  const list = async () => attempt(error, 'Could not load the keys', async () => {
    const { keys } = await call('GET', '/keys');
    body.replaceChildren(...keys.map((k) => {
      const revoke = h('button', { type: 'button' }, 'Revoke');
      revoke.setAttribute('aria-label', `Revoke key ${k.name}`);
      revoke.addEventListener('click', async () => {
        if (!confirm(`Revoke key “${k.name}”? Whatever uses it stops working at once.`)) return;
        revoke.disabled = true;
        if (await attempt(error, `Could not revoke key ${k.name}`, () => call('DELETE', `/keys/${seg(k.id)}`))) await list();
        revoke.disabled = false;
      });
      return h('tr', {},
        h('th', { scope: 'row' }, k.name),
        h('td', {}, h('span', { class: `badge scope ${k.scope}` }, k.scope)),
        h('td', { class: 'code' }, `cpk_${k.id}_…`),
        h('td', {}, when(k.created_at)),
        h('td', { class: 'n' }, revoke));
    }));
    if (!keys.length) body.append(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No keys yet.')));
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    shown.hidden = true;
    await attempt(formError, 'Could not create the key', async () => {
      const made = await call('POST', '/keys', { json: { name: name.value, scope: scope.value } });
      name.value = ''; // not form.reset(): that would empty the key shown below
      showNewKey(shown, made);
      await list();
    });
  });
  shell(h('section', {},
    h('div', { class: 'title-row' }, h('h1', {}, 'Keys'), h('p', { class: 'muted' }, `Project ${session.project}`)),
    error,
    h('table', { class: 'keys' },
      h('caption', { class: 'sr-only' }, 'Keys of the project'),
      h('thead', {}, h('tr', {}, ['Name', 'Scope', 'Key', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))),
      body),
    form));
  await list();
}

/** The key just made, once: to read, select or copy, never shown again. */
function showNewKey(holder, made) {
  const value = h('input', { id: 'new-key-value', readonly: true, value: made.key, size: 48, spellcheck: 'false' });
  const copied = h('span', { class: 'ok', role: 'status' });
  const copy = h('button', { type: 'button' }, 'Copy');
  copy.addEventListener('click', async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(made.key);
      copied.textContent = 'Copied.';
    } catch {
      // No clipboard access (an insecure origin, a denied permission): the key is selected, to copy by hand.
      copied.textContent = 'Selected: copy it with Ctrl+C (⌘C).';
    }
  });
  holder.replaceChildren(
    h('h3', {}, `Key “${made.name}” (${made.scope})`),
    h('p', {}, h('strong', {}, 'Copy the key now: it is not shown again.')),
    h('div', { class: 'fields' },
      h('div', { class: 'grow' }, h('label', { for: 'new-key-value' }, 'The key'), value), copy, copied),
    h('p', { class: 'hint' }, `Send it as Authorization: Bearer ${made.key.slice(0, 8)}… to /v1/projects/${session.project}/…`));
  holder.hidden = false;
  value.focus();
  value.select();
}

// ---------------------------------------------------------------- routes --

const ROUTES = [
  [/^#\/pools\/?$/, () => poolsView()],
  [/^#\/pools\/([^/]+)$/, (m) => poolView(decodeURIComponent(m[1]))],
  [/^#\/layers\/?$/, () => layersView()],
  [/^#\/layers\/([^/]+)$/, (m) => layerView(decodeURIComponent(m[1]))],
  [/^#\/settings$/, () => settingsView()],
  [/^#\/keys$/, () => keysView()],
];

/** Shows a route, also when it is the one already in the address bar. */
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  if (!session.token) return signIn();
  for (const [pattern, view] of ROUTES) {
    const m = location.hash.match(pattern);
    if (m) return view(m);
  }
  location.replace('#/pools');
}

window.addEventListener('hashchange', route);
route();
