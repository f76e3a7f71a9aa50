// Reading a project's whole state through the API: every code of a pool
// page by page, the event log, and a snapshot of everything to compare
// before and after a request that must change nothing.
import assert from 'node:assert/strict';

/** Every code of a pool, in listing order, following `next_cursor`. */
export async function allCodes(api, pool, params = {}) {
  const codes = [];
  let cursor;
  for (let page = 0; page < 100_000; page++) {
    const res = await api.listCodes(pool, { ...params, limit: 1000, ...(cursor ? { cursor } : {}) });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    codes.push(...res.json.codes);
    cursor = res.json.next_cursor;
    if (!cursor) return codes;
  }
  throw new Error('the listing did not end');
}

/** Every event of the log (newest first), following `next_cursor`. */
export async function allEvents(api, query = {}) {
  const events = [];
  let cursor;
  for (let page = 0; page < 100_000; page++) {
    const params = new URLSearchParams({ ...query, limit: '1000', ...(cursor ? { cursor } : {}) });
    const res = await api.call('GET', `/events?${params}`);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    events.push(...res.json.events);
    cursor = res.json.next_cursor;
    if (!cursor) return events;
  }
  throw new Error('the event log did not end');
}

/**
 * Checks a pool's counters against its codes: the listing of each state
 * holds as many codes as the counter says, no code is listed in two states,
 * and together they are the whole listing. Answers the codes by name.
 */
export async function checkPool(api, pool) {
  const info = await api.getPool(pool);
  assert.equal(info.status, 200, info.text);
  const all = await allCodes(api, pool);
  const byCode = new Map(all.map((c) => [c.code, c]));
  assert.equal(byCode.size, all.length, `${pool}: a code is listed twice`);
  let listed = 0;
  for (const state of ['available', 'leased', 'assigned', 'redeemed', 'expired', 'void']) {
    const codes = await allCodes(api, pool, { state });
    assert.equal(codes.length, info.json[state], `${pool}: ${state} counter against the listing`);
    for (const c of codes) {
      assert.equal(byCode.get(c.code)?.state, state, `${pool}: ${c.code} listed as ${state}`);
      // A code is in one state, and its fields say the same.
      if (state !== 'void') {
        // A void code keeps what it was when voided (handed out or not).
        assert.equal(c.assigned_at === null, ['available', 'leased', 'expired'].includes(state), `${c.code}: assigned_at in ${state}`);
        assert.equal(c.redeemed_at === null, state !== 'redeemed', `${c.code}: redeemed_at in ${state}`);
      }
    }
    listed += codes.length;
  }
  assert.equal(listed, all.length, `${pool}: the states add up to the listing`);
  assert.equal(info.json.total, all.length, `${pool}: total counter against the listing`);
  return byCode;
}

/**
 * Everything a project holds that the API shows: pools with counts, every
 * code with its state, layers, settings and the event log.
 */
export async function snapshot(api) {
  const get = async (route) => {
    const res = await api.call('GET', route);
    assert.equal(res.status, 200, `${route}: ${res.text.slice(0, 300)}`);
    return res.json;
  };
  const { pools } = await get('/pools');
  const codes = {};
  for (const pool of pools) codes[pool.name] = await allCodes(api, pool.name);
  return {
    pools,
    codes,
    layers: await get('/layers'),
    settings: await get('/settings'),
    events: await allEvents(api),
  };
}
