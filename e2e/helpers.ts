import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test as base, expect, type APIRequestContext, type Browser, type BrowserContext, type Locator, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';

export const sandboxURL = process.env.E2E_SANDBOX_URL ?? 'http://localhost:18081';

// shopLog is what the shop has logged so far (playwright.config.ts keeps its
// stderr in this file).
export function shopLog(): string {
  const file = process.env.E2E_SHOP_LOG;
  return file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

// test is Playwright's test with two automatic checks on every page of every
// spec that imports it. No request may leave localhost: the shop must work
// offline, against the embedded sandbox, with everything served locally. And
// no provider credential of this run may reach the browser (URLs, headers,
// bodies) or the shop's log. A third fixture keeps what the secret scan
// after the run (global-teardown.ts) reads: every page the shop served, and
// the sandbox's store as it was at the end of the test.
export const test = base.extend<{ offlineOnly: void; credentialsStayOnServer: void; keptForSecretScan: void }>({
  keptForSecretScan: [async ({ context, baseURL }, use) => {
    const shop = new URL(baseURL!).origin;
    const writes: Promise<unknown>[] = [];
    context.on('response', (r) => {
      if (new URL(r.url()).origin !== shop || (r.status() >= 300 && r.status() < 400)) return; // a redirect has no body
      const h = r.headers();
      const page = /^(text\/html|text\/plain|application\/([\w.-]+\+)?json)\b/.test(h['content-type'] ?? '');
      if (!page && !/^attachment/.test(h['content-disposition'] ?? '')) return; // not CSS, scripts or images
      // A body that cannot be read (a download, a closed page) is not kept
      // here and fails nothing; downloads are kept below.
      writes.push(r.body().then((body) => keepPage(r.url(), body), () => undefined));
    });
    context.on('page', (page) => page.on('download', (d) => {
      writes.push(d.path().then((file) => keepPage(d.url(), fs.readFileSync(file)), () => undefined));
    }));
    await use();
    await Promise.all(writes);
    keepSandboxStore();
  }, { auto: true }],
  offlineOnly: [async ({ context }, use) => {
    const outside: string[] = [];
    context.on('request', (req) => {
      const url = new URL(req.url());
      if (url.protocol === 'data:' || url.protocol === 'blob:' || url.protocol === 'about:') return;
      if (url.hostname !== 'localhost' && url.hostname !== '127.0.0.1') outside.push(req.url());
    });
    await use();
    expect(outside, 'requests that left localhost').toEqual([]);
  }, { auto: true }],
  credentialsStayOnServer: [async ({ context }, use) => {
    const seen = traffic(context);
    const logBefore = shopLog().length;
    await use();
    const browser = await seen.text();
    const log = shopLog().slice(logBefore);
    const creds = credentials();
    expect(creds.length, 'playwright.config.ts gave the shop its credentials').toBeGreaterThan(0);
    for (const { name, value } of creds) {
      expect(value.length, `${name} is set`).toBeGreaterThan(8);
      expect(browser.includes(value), `the browser received ${name}`).toBe(false);
      expect(log.includes(value), `the shop logged ${name}`).toBe(false);
    }
  }, { auto: true }],
});
export { expect };

let pagesKept = 0;
// keepPage writes a body the shop served to E2E_DATA_DIR/pages under a name
// of its own (the secret scan reads every file there).
function keepPage(url: string, body: Buffer): void {
  const dir = path.join(process.env.E2E_DATA_DIR!, 'pages');
  fs.mkdirSync(dir, { recursive: true });
  const slug = new URL(url).pathname.replace(/[^A-Za-z0-9.-]+/g, '_').slice(0, 80);
  fs.writeFileSync(path.join(dir, `${String(++pagesKept).padStart(5, '0')}-${process.pid}${slug}`), body);
}

// keepSandboxStore copies the sandbox's store aside (secretscan -keep):
// a reset forgets every token it holds, and the scan after the run must
// still know them.
function keepSandboxStore(): void {
  execFileSync(process.env.E2E_SECRETSCAN!, ['-keep', '-data', process.env.E2E_DATA_DIR!], { stdio: ['ignore', 'ignore', 'pipe'] });
}

// credentials are the provider secrets this run's shop holds
// (playwright.config.ts makes them), by variable name. Each must stay on the
// server: never in a page, a request the browser makes, or the log.
export function credentials(): { name: string; value: string }[] {
  return (process.env.E2E_CREDENTIALS ?? '').split(',').filter(Boolean)
    .map((name) => ({ name, value: process.env[`E2E_${name}`] ?? '' }));
}

// traffic records everything the browser sends and receives in a context
// (every page and frame of one test): URLs, headers, request bodies and text
// response bodies. Reading a body is asynchronous, so text() waits for every
// read to finish before it answers: an assertion never runs before the last
// body arrived.
export function traffic(context: BrowserContext): { text: () => Promise<string> } {
  const seen: string[] = [];
  const reads: Promise<unknown>[] = [];
  context.on('request', (r) => {
    seen.push(r.url(), JSON.stringify(r.headers()), r.postData() ?? '');
  });
  context.on('response', (r) => {
    seen.push(r.url(), JSON.stringify(r.headers()));
    const type = r.headers()['content-type'] ?? '';
    if (/json|html|javascript|text/.test(type)) {
      reads.push(r.text().then((body) => seen.push(body), () => seen.push(`(unread body of ${r.url()})`)));
    }
  });
  return {
    text: async () => {
      await Promise.all(reads);
      return seen.join('\n');
    },
  };
}

let counter = 0;
// uniqueEmail makes an address no earlier test used (the database lives for the run).
export function uniqueEmail(prefix = 'customer'): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}@example.com`;
}

export const password = 'correct horse battery';

// resetSandbox puts the sandbox's settings, clock, faults and counts back to
// the start, after keeping a copy of its store for the secret scan. A reset
// forgets the webhooks the shop registered; the shop registers them again at
// once (Vipps MobilePay's, and Alternative Payments' subscription), and the
// test starts when it has, so its call counts and events are its own.
export async function resetSandbox(request: APIRequestContext): Promise<void> {
  keepSandboxStore();
  const res = await request.post(`${sandboxURL}/control/reset`);
  expect(res.ok()).toBeTruthy();
  await expect.poll(async () => {
    const calls = (await sandboxState(request)).calls;
    return [calls['vipps.webhooks_register'] ?? 0, calls['altpay.create_webhook'] ?? 0];
  }, { message: 'the shop registers its webhooks again after a reset' }).toEqual([1, 1]);
}

export async function sandboxState(request: APIRequestContext): Promise<any> {
  const res = await request.get(`${sandboxURL}/control/state`);
  expect(res.ok()).toBeTruthy();
  return res.json();
}

export async function signUp(page: Page, email: string, name = 'Test Customer'): Promise<void> {
  await page.goto('/signup');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
}

export async function signIn(page: Page, email: string): Promise<void> {
  await page.goto('/signin');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
}

// admin is the back office's administrator, made at start from
// SHOP_ADMIN_EMAIL and SHOP_ADMIN_PASSWORD (playwright.config.ts).
export const admin = { email: 'admin@refshop.example', password: 'correct horse battery admin' };

// shipAsAdmin ships an order from the back office, in a browser context of
// its own (the customer's stays signed in): the administrator signs in,
// opens the order and presses Ship, which captures all that is reserved.
export async function shipAsAdmin(browser: Browser, orderID: string): Promise<void> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`/signin?next=/admin/orders/${orderID}`);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/orders/${orderID}$`));
  await page.getByTestId('admin-ship').getByRole('button', { name: 'Ship' }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  await context.close();
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible();
}

// Market is a market as the page header's picker names it.
export type Market = 'Germany (EUR)' | 'Norway (NOK)' | 'United States (USD)';

// chooseMarket picks a market with the page header's form, as a person
// does, and waits for the shop to confirm it.
export async function chooseMarket(page: Page, market: Market): Promise<void> {
  if (page.url() === 'about:blank') await page.goto('/');
  await page.getByLabel('Market').selectOption({ label: market });
  await page.getByRole('button', { name: 'Change', exact: true }).click();
  await expect(page.getByRole('status')).toContainText(`You are shopping in ${market.replace(/ \(.*/, '').replace('United', 'the United')}`);
}

// expectAccessible runs axe-core on the page as it is and fails on any
// violation, listing each rule and the elements it found.
export async function expectAccessible(page: Page): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  expect(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

// addToCart adds one of a product from the catalogue.
export async function addToCart(page: Page, productName: string): Promise<void> {
  await page.goto('/');
  await page.getByRole('button', { name: `Add ${productName} to cart` }).click();
  await expect(page.getByRole('heading', { name: 'Your cart' })).toBeVisible();
}

export async function cartCount(page: Page): Promise<number> {
  return Number(await page.getByTestId('cart-link').locator('.badge').innerText());
}

// tabTo presses Tab until target has the focus, the way a keyboard user
// moves through the page, and fails if it is not reached.
export async function tabTo(page: Page, target: Locator, maxPresses = 60): Promise<void> {
  for (let i = 0; i < maxPresses; i++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((el) => el === document.activeElement)) return;
  }
  throw new Error(`could not reach ${target} with the keyboard in ${maxPresses} presses`);
}
