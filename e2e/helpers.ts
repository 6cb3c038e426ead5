import * as fs from 'node:fs';
import { test as base, expect, type APIRequestContext, type Locator, type Page } from '@playwright/test';

export const sandboxURL = process.env.E2E_SANDBOX_URL ?? 'http://localhost:18081';

// shopLog is what the shop has logged so far (playwright.config.ts keeps its
// stderr in this file).
export function shopLog(): string {
  const file = process.env.E2E_SHOP_LOG;
  return file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

// test is Playwright's test with one automatic check on every page of every
// spec that imports it: no request may leave localhost. The shop must work
// offline, against the embedded sandbox, with everything served locally.
export const test = base.extend<{ offlineOnly: void }>({
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
});
export { expect };

let counter = 0;
// uniqueEmail makes an address no earlier test used (the database lives for the run).
export function uniqueEmail(prefix = 'customer'): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}@example.com`;
}

export const password = 'correct horse battery';

// resetSandbox puts the sandbox's settings, clock, faults and counts back to the start.
export async function resetSandbox(request: APIRequestContext): Promise<void> {
  const res = await request.post(`${sandboxURL}/control/reset`);
  expect(res.ok()).toBeTruthy();
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

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible();
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
