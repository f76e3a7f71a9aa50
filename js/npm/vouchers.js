// Reads the caller's vouchers for js/src/supply.rs: one call per voucher
// function that runs, so that a render crosses the JS/wasm boundary once
// per code or count instead of once per property. (wasm-bindgen copies this
// file into pkg/snippets/.) The Rust side turns the answers into errors
// that name the template's line.

let problem = '';

/**
 * The code for the `index`-th assign call on `pool`: a string, `undefined`
 * when there is none, or '' when the vouchers are unusable (then
 * `voucherProblem()` says how). Exceptions of the caller's code propagate.
 */
export function voucherCode(vouchers, pool, index) {
  let code;
  if (typeof vouchers === 'function') {
    code = vouchers(pool);
  } else {
    const codes = vouchers?.[pool]?.codes;
    if (typeof codes === 'function') code = codes();
    else if (Array.isArray(codes)) code = codes[index];
    else if (codes !== undefined && codes !== null) {
      problem = 'codes';
      return '';
    }
  }
  if (code === undefined || code === null) return undefined;
  if (typeof code !== 'string' || code === '') {
    problem = 'code';
    return '';
  }
  return code;
}

/** What was wrong with the vouchers when `voucherCode` answered ''. */
export function voucherProblem() {
  return problem;
}

/**
 * `vouchers[pool][field]` as a count: the number, or -1 when it is not
 * given, -2 when it is not a whole number of 0 or more, -3 when the
 * vouchers are a function (which gives no counts).
 */
export function voucherCount(vouchers, pool, field) {
  if (typeof vouchers === 'function') return -3;
  const n = vouchers?.[pool]?.[field];
  if (n === undefined || n === null) return -1;
  if (!Number.isSafeInteger(n) || n < 0) return -2;
  return n;
}
