import type { Page } from '@playwright/test';
import { test, expect, addToCart, admin, chooseMarket, expectAccessible, resetSandbox, sandboxState, signUp, uniqueEmail } from './helpers';

// The back office (/admin): an administrator ships a Vipps order (the
// capture Norway allows only once the goods ship), captures and refunds
// parts of it, and sees the amounts; a customer is refused; an amount above
// what is left is refused by the shop beside its field, and nothing is sent.

const shots = process.env.E2E_SCREENSHOTS; // a directory: save screenshots of the flow there

async function shot(page: Page, name: string): Promise<void> {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

test.beforeEach(async ({ request, page }) => {
  await resetSandbox(request);
  await chooseMarket(page, 'Norway (NOK)');
});

// payAuthorized buys one Stoneware Mug (NOK 229.00) with Vipps MobilePay as
// a new customer and returns the order's id: authorized, nothing captured.
async function payAuthorized(page: Page): Promise<string> {
  await signUp(page, uniqueEmail('shipped'));
  await addToCart(page, 'Stoneware Mug');
  await page.goto('/checkout');
  await page.getByRole('button', { name: 'Pay with Vipps MobilePay' }).click();
  await page.getByLabel('Your mobile number').fill('912 34 567');
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  return new URL(page.url()).pathname.split('/').pop()!;
}

async function signInAsAdmin(page: Page, next: string): Promise<void> {
  await page.goto(`/signin?next=${next}`);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`${next}$`));
}

test('an administrator captures part, ships the rest, refunds part, and sees the amounts', async ({ page, browser, request }) => {
  const orderID = await payAuthorized(page);
  // A customer may not open the back office.
  const refused = await page.goto('/admin');
  expect(refused?.status()).toBe(403);
  await expect(page.getByRole('main')).toContainText("This page is for the shop's administrators.");

  const context = await browser.newContext();
  const office = await context.newPage();
  await signInAsAdmin(office, '/admin');
  const orders = office.getByRole('table', { name: /^Orders, page 1 of/ });
  const row = orders.getByRole('row').filter({ has: office.locator(`a[href="/admin/orders/${orderID}"]`) });
  await expect(row.getByTestId('admin-status')).toHaveText('Payment authorized');
  await expect(row.getByTestId('admin-authorized')).toHaveText('NOK 229.00');
  await expect(row.getByTestId('admin-captured')).toHaveText('NOK 0.00');
  await expectAccessible(office);
  await shot(office, 'admin-orders');
  await row.getByRole('link').first().click();
  await expect(office).toHaveURL(new RegExp(`/admin/orders/${orderID}$`));

  // A bad amount is refused beside its field, the typed value kept.
  const capture = office.getByTestId('admin-capture');
  await capture.getByLabel('Capture part (NOK)').fill('12,5x');
  await capture.getByRole('button', { name: 'Capture part' }).click();
  await expect(office.getByLabel('Capture part (NOK)')).toHaveAttribute('aria-invalid', 'true');
  await expect(office.getByLabel('Capture part (NOK)')).toHaveValue('12,5x');
  expect((await sandboxState(request)).calls['vipps.capture'] ?? 0).toBe(0);

  // Capture part, then ship the rest.
  await office.getByLabel('Capture part (NOK)').fill('100.00');
  await office.getByTestId('admin-capture').getByRole('button', { name: 'Capture part' }).click();
  await expect(office.getByRole('status').first()).toContainText('Vipps MobilePay captured NOK 100.00');
  await expect(office.getByTestId('admin-captured')).toHaveText('NOK 100.00');
  await office.getByTestId('admin-ship').getByRole('button', { name: 'Ship' }).click();
  await expect(office.getByRole('status').first()).toContainText('Vipps MobilePay captured NOK 129.00');
  await expect(office.getByTestId('order-status')).toHaveText('Paid');
  await expect(office.getByTestId('admin-captured')).toHaveText('NOK 229.00');

  // Refund part: more than was captured is refused by the shop beside its
  // field, the typed value kept, nothing sent; a part within it is refunded.
  const refund = office.getByLabel('Refund (NOK)');
  await refund.fill('300.00');
  await office.getByTestId('admin-refund').getByRole('button', { name: 'Refund' }).click();
  await expect(office.getByLabel('Refund (NOK)')).toHaveAttribute('aria-invalid', 'true');
  await expect(office.getByLabel('Refund (NOK)')).toHaveValue('300.00');
  await expect(office.getByTestId('admin-refund')).toContainText('That is more than can be refunded: at most NOK 229.00');
  await expect(office.getByTestId('admin-refunded')).toHaveText('NOK 0.00');
  expect((await sandboxState(request)).calls['vipps.refund'] ?? 0).toBe(0);
  await office.getByLabel('Refund (NOK)').fill('50.00');
  await office.getByTestId('admin-refund').getByRole('button', { name: 'Refund' }).click();
  await expect(office.getByRole('status').first()).toContainText('Vipps MobilePay refunded NOK 50.00');
  await expect(office.getByTestId('admin-refunded')).toHaveText('NOK 50.00');
  await expect(office.getByTestId('order-status')).toHaveText('Partly refunded');
  // Nothing is left to cancel once captured.
  await expect(office.getByTestId('admin-cancel').getByRole('button')).toBeDisabled();

  // Each operation with its own stored key, and the provider's events.
  const ops = office.getByTestId('admin-operations-table');
  // Newest first: the refund, the ship, the part capture (the refund above
  // what was captured was never an operation).
  await expect(ops.getByTestId('operation-state')).toHaveText(['Done', 'Done', 'Done']);
  const keys = await ops.getByTestId('operation-key').allTextContents();
  expect(new Set(keys).size).toBe(keys.length);
  // Vipps' own events carry the same keys: the two captures and the refund.
  const events = office.getByTestId('admin-events-table');
  await expect(events.getByRole('row').filter({ hasText: 'Payment taken' })).toHaveCount(2);
  await expect(events.getByRole('row').filter({ hasText: 'Refunded' })).toHaveCount(1);
  const doneKeys = await ops.getByRole('row').filter({ hasText: 'Done' }).getByTestId('operation-key').allTextContents();
  for (const key of doneKeys) await expect(events).toContainText(key);
  await expectAccessible(office);
  await shot(office, 'admin-order');
  const calls = (await sandboxState(request)).calls;
  expect(calls['vipps.capture']).toBe(2);
  await context.close();
});
