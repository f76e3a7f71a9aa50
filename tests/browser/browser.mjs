// Headless Chromium (Debian's /usr/bin/chromium, installed by
// `scripts/setup.sh --browser`) driven by playwright-core, for the tests of
// www/: the demo page with the loader, and the admin console.
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where screenshots go (git-ignored). */
export const SCREENSHOTS = path.join(root, 'tests/screenshots');

/** Flags from TOOLCHAIN.md: no sandbox (root in CI), nothing reaching the internet. */
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * Launches Chromium. Playwright gives every launch a fresh temporary
 * --user-data-dir of its own (and refuses one in `args`), removed on close.
 */
export async function launch() {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    throw new Error(`${executablePath} is missing: run \`bash scripts/setup.sh --browser\``);
  }
  return chromium.launch({ executablePath, args: FLAGS, headless: true });
}

/**
 * A new page in a fresh context (its own storage), laptop-sized, that
 * records console errors and uncaught page errors in `problems`.
 */
export async function openPage(browser, { width = 1366, height = 860 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  // Nothing here takes long: fail in seconds, not Playwright's default 30.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const problems = [];
  const debug = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`);
    if (msg.type() === 'debug') debug.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  return { page, context, problems, debug };
}

/** Saves a screenshot under tests/screenshots/ and returns its path. */
export async function screenshot(page, name, options = {}) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, ...options });
  return file;
}
