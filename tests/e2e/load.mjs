// Load for the end-to-end tests: pools of numbered codes, and clients that
// render a layer until its pool is empty.
import assert from 'node:assert/strict';

/** Requests one client may make at most (bounds every loop). */
const MAX_REQUESTS = 2010;
/** Requests each client makes after its first 204, to see they stay 204. */
export const AFTER_EMPTY = 2;

export const codeNames = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`);

export async function poolWith(api, pool, codes) {
  assert.equal((await api.putPool(pool)).status, 200);
  const res = await api.importCsv(pool, `code\n${codes.join('\n')}\n`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.imported, codes.length);
}

/**
 * Runs `clients` loops that render `layer` with a new customer id per
 * request until the layer answers 204, then a few more. Each answer is
 * recorded with whether a 204 had been received (by anyone) before the
 * request was sent: such a request must be answered 204 too, since an empty
 * pool stays empty.
 */
export async function renderUntilEmpty(base, project, layer, clients, label, onCode = () => {}) {
  const answers = [];
  let emptySeen = false;
  const loop = async (n) => {
    let after204 = 0;
    for (let i = 0; i < MAX_REQUESTS && after204 <= AFTER_EMPTY; i++) {
      const customer = `${label}${n}-${i}`;
      const sentAfterEmpty = emptySeen;
      const res = await fetch(`${base}/v1/projects/${project}/layers/${layer}/render?customer_id=${customer}`);
      const text = await res.text();
      answers.push({ customer, status: res.status, text, sentAfterEmpty });
      if (res.status === 200) onCode(text);
      if (res.status === 204) {
        emptySeen = true;
        after204++;
      } else if (res.status !== 200) {
        return; // Reported by the checks below.
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, n) => loop(n)));
  return answers;
}

