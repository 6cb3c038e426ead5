import type { Page, Request } from '@playwright/test';
import { test, expect, addToCart, chooseMarket, credentials, expectAccessible, resetSandbox, sandboxState, sandboxURL, signOut, signUp, traffic, uniqueEmail } from './helpers';

// Pay by invoice with Alternative Payments: the shop mints checkout tokens,
// the page's snippet calls the provider's checkout API (the sandbox) from the
// browser, and the shop marks the order paid after checking the invoice itself.

// The configured client secret (helpers.ts credentials()), and the Basic
// credentials the shop builds from it for the OAuth token call.
const clientSecret = credentials().find((c) => c.name === 'ALTPAY_CLIENT_SECRET')!.value;
const basicAuth = Buffer.from(`refshop-sandbox-altpay:${clientSecret}`).toString('base64');

// Pay by invoice is offered in the United States, in USD (the one currency
// of Alternative Payments' invoices): a Stoneware Mug is $19.00 plus 8.25%
// sales tax, $20.57, which the invoice page reads back from the provider.
test.beforeEach(async ({ request, page }) => {
  await resetSandbox(request);
  await chooseMarket(page, 'United States (USD)');
});

// checkoutByInvoice buys one Stoneware Mug by invoice and waits for the
// invoice page to have loaded the invoice from the provider.
async function checkoutByInvoice(page: Page, query = ''): Promise<string> {
  await addToCart(page, 'Stoneware Mug');
  await page.goto('/checkout');
  await page.getByRole('button', { name: 'Pay by invoice' }).click();
  await expect(page.getByRole('heading', { name: 'Pay your invoice' })).toBeVisible();
  const orderID = new URL(page.url()).pathname.split('/').pop()!;
  if (query) await page.goto(`/invoices/${orderID}${query}`);
  await invoiceLoaded(page);
  return orderID;
}

async function invoiceLoaded(page: Page): Promise<void> {
  await expect(page.getByTestId('altpay-invoice-total')).toHaveText('$20.57');
  await expect(page.getByTestId('altpay-invoice-status')).toHaveText('Open');
}

async function fillCard(page: Page): Promise<void> {
  await page.getByText('Add a payment method', { exact: true }).click();
  await page.getByLabel('Test card').selectOption('tok_test_visa');
  await page.getByLabel('Billing street address').fill('1 Main Street');
  await page.getByLabel('City').fill('Springfield');
  await page.getByLabel('Postal code').fill('62701');
  await page.getByLabel('Country code').fill('US');
}

async function fillBank(page: Page): Promise<void> {
  await page.getByText('Add a payment method', { exact: true }).click();
  await page.getByLabel('US bank account').check();
  await page.getByLabel('Account holder').fill('Tess Tester');
  await page.getByLabel('Bank name').fill('Test Bank');
  await page.getByLabel('Routing number').fill('011000015');
  await page.getByLabel('Account number').fill('000123456789');
}

async function advanceSandboxClock(page: Page, by: string): Promise<void> {
  const res = await page.request.post(`${sandboxURL}/control/clock`, { data: { advance: by } });
  expect(res.ok()).toBeTruthy();
}

function countTokenRequests(page: Page): { count: () => number } {
  let n = 0;
  page.on('request', (r: Request) => {
    if (r.method() === 'POST' && /\/api\/altpay\/invoices\/[^/]+\/token$/.test(new URL(r.url()).pathname)) n++;
  });
  return { count: () => n };
}

async function payAndSeeOrderPaid(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Pay $20.57' }).click();
  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
  await expect(page.getByRole('status').first()).toHaveText('Thank you: your invoice is paid.');
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  await expect(page.getByTestId('altpay-order-invoice-status')).toHaveText('PAID');
}

test('pay an invoice, coming back to it from the account page', async ({ page }, testInfo) => {
  await signUp(page, uniqueEmail('invoice'));
  const orderID = await checkoutByInvoice(page);
  await expect(page.getByText('Add a payment method to pay.')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('invoice-page.png'), fullPage: true });
  await expectAccessible(page);

  // Leave, and come back from the account page.
  await page.goto('/account');
  const unpaid = page.getByTestId('altpay-unpaid');
  await expect(unpaid).toContainText('$20.57');
  await page.screenshot({ path: testInfo.outputPath('account-unpaid.png'), fullPage: true });
  await unpaid.getByRole('link', { name: 'Pay this invoice' }).click();
  await expect(page).toHaveURL(new RegExp(`/invoices/${orderID}$`));
  await invoiceLoaded(page);

  await fillCard(page);
  await page.screenshot({ path: testInfo.outputPath('invoice-add-card.png'), fullPage: true });
  await page.getByRole('button', { name: 'Save payment method' }).click();
  await expect(page.getByRole('radio', { name: 'Visa ending 4242 (default)' })).toBeChecked();
  await payAndSeeOrderPaid(page);
  await page.screenshot({ path: testInfo.outputPath('order-paid.png'), fullPage: true });

  await page.goto('/account');
  await expect(page.getByTestId('altpay-unpaid')).toHaveCount(0);
  const state = await sandboxState(page.request);
  expect(state.calls['altpay.checkout_payment']).toBe(1);
  expect(state.calls['altpay.create_customer']).toBe(1);
});

test('a guest pays by bank account; a declined card pays nothing', async ({ page }, testInfo) => {
  await addToCart(page, 'Stoneware Mug');
  await page.goto('/checkout');
  await page.getByLabel('Email for the invoice').fill('not-an-email');
  await page.getByLabel('Name on the invoice').fill('Gus Guest');
  await page.getByRole('button', { name: 'Pay by invoice' }).click();
  await expect(page.getByText('Enter the email address the invoice should go to')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('checkout-guest-refused.png'), fullPage: true });
  await expect(page.getByLabel('Name on the invoice')).toHaveValue('Gus Guest');
  await page.getByLabel('Email for the invoice').fill('gus@example.com');
  await page.getByRole('button', { name: 'Pay by invoice' }).click();
  await invoiceLoaded(page);

  await page.getByText('Add a payment method', { exact: true }).click();
  await page.getByLabel('Test card').selectOption('tok_test_declined');
  await page.getByLabel('Billing street address').fill('1 Main St');
  await page.getByLabel('City').fill('Springfield');
  await page.getByLabel('Postal code').fill('12345');
  await page.getByLabel('Country code').fill('US');
  await page.getByRole('button', { name: 'Save payment method' }).click();
  await expect(page.getByRole('radio', { name: 'Visa ending 0002 (default)' })).toBeChecked();
  await page.getByRole('button', { name: 'Pay $20.57' }).click();
  await expect(page.getByRole('alert')).toContainText('Your card was declined. Nothing was charged.');
  await expect(page.getByTestId('altpay-invoice-status')).toHaveText('Open');

  await fillBank(page);
  await page.getByLabel('Routing number').fill('123456789'); // fails the ABA checksum
  await page.getByRole('button', { name: 'Save payment method' }).click();
  await expect(page.getByRole('alert')).toContainText('Routing number: routing_number must be a valid 9-digit ABA routing number');
  await expect(page.getByLabel('Routing number')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Account holder')).toHaveValue('Tess Tester');
  await page.getByLabel('Routing number').fill('011000015');
  await page.getByRole('button', { name: 'Save payment method' }).click();
  await page.getByRole('radio', { name: 'Bank account ending 6789' }).check();
  await payAndSeeOrderPaid(page);
});

test('a reload after a payment that got no answer pays with the same Idempotency-Key', async ({ page }) => {
  await signUp(page, uniqueEmail('reload'));
  await checkoutByInvoice(page);
  const keys: string[] = [];
  page.on('request', (r: Request) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname.endsWith('/checkout/payments')) keys.push(r.headers()['idempotency-key']);
  });
  await fillCard(page);
  await page.getByRole('button', { name: 'Save payment method' }).click();
  await expect(page.getByRole('radio', { name: 'Visa ending 4242 (default)' })).toBeChecked();

  // The provider answers nothing useful to the first press (the snippet's
  // three tries all get 503), and the customer reloads the page.
  const fault = await page.request.post(`${sandboxURL}/control/faults`, { data: { operation: 'altpay.checkout_payment', status: 503, times: 3 } });
  expect(fault.ok()).toBeTruthy();
  await page.getByRole('button', { name: 'Pay $20.57' }).click();
  await expect(page.getByRole('alert')).toContainText('a payment is never made twice');
  expect(keys).toHaveLength(3);
  await page.reload();
  await invoiceLoaded(page);
  await expect(page.getByRole('radio', { name: 'Visa ending 4242 (default)' })).toBeChecked();
  await payAndSeeOrderPaid(page);

  expect(keys).toHaveLength(4);
  expect(new Set(keys).size, `keys sent: ${keys.join(', ')}`).toBe(1);
  // Paid: the attempt is forgotten, so a later payment would get a new key.
  expect(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('altpay-attempt:')))).toEqual([]);
});

test('the checkout token expires mid-page: one extra token request, the payment succeeds, and the order page shows the renewal', async ({ page }) => {
  // Checkout tokens live two minutes here (15 by default).
  const set = await page.request.post(`${sandboxURL}/control/settings`, { data: { altpay_checkout_token_ttl: '2m' } });
  expect(set.ok(), await set.text()).toBeTruthy();
  await signUp(page, uniqueEmail('expiry'));
  const tokens = countTokenRequests(page);
  await checkoutByInvoice(page);
  expect(tokens.count()).toBe(1);

  // The customer types, the token ages past its lifetime.
  await fillBank(page);
  await advanceSandboxClock(page, '3m');
  await page.getByRole('button', { name: 'Save payment method' }).click();
  await expect(page.getByRole('radio', { name: 'Bank account ending 6789 (default)' })).toBeChecked();
  await expect(page.getByRole('alert')).toBeHidden();
  expect(tokens.count()).toBe(2);

  await payAndSeeOrderPaid(page);
  expect(tokens.count()).toBe(2);
  const state = await sandboxState(page.request);
  expect(state.calls['altpay.checkout_auth_init']).toBe(2);
  // The add call was answered 401 once, then repeated with the new token.
  expect(state.calls['altpay.checkout_add_payment_method']).toBe(2);

  // "How this payment happened" shows the same: the snippet's call from the
  // browser refused with 401, the shop's one extra checkout token, the call
  // repeated; the browser's calls come from a lifeline of their own.
  const section = page.getByRole('region', { name: 'How this payment happened' });
  await expect(section.getByTestId('exchanges-browser-note')).toHaveText(
    "The browser's own calls to the provider are shown as the sandbox received them.");
  const rows = await section.getByTestId('exchange').evaluateAll((lis) => lis.map((li) =>
    `${li.getAttribute('data-origin')} ${li.getAttribute('data-operation')} ${li.getAttribute('data-status')}`));
  const listed = rows.join('\n');
  const refused = rows.indexOf('browser checkout_add_payment_method 401');
  expect(refused, listed).toBeGreaterThanOrEqual(0);
  const renewed = rows.findIndex((r, i) => i > refused && r.startsWith('shop checkout_auth_init 2'));
  expect(renewed, listed).toBeGreaterThan(refused);
  const repeated = rows.findIndex((r, i) => i > renewed && r.startsWith('browser checkout_add_payment_method 2'));
  expect(repeated, listed).toBeGreaterThan(renewed);
  expect(rows.filter((r) => r.startsWith('shop checkout_auth_init ')), listed).toHaveLength(2);
  // "Tokens this payment used": two checkout tokens; the first refused
  // with 401 when the browser presented it, the second the renewal's.
  const checkoutTokens = section.getByTestId('token').filter({ hasText: 'Alternative Payments checkout token' });
  await expect(checkoutTokens).toHaveCount(2);
  await expect(checkoutTokens.first().getByTestId('token-event').filter({ hasText: 'Refused' })).toHaveCount(1);
  const [first, second] = await checkoutTokens.getByTestId('token-fingerprint').allTextContents();
  expect(first).not.toBe(second);
  const diagram = section.getByTestId('sequence-diagram');
  await expect(diagram.locator('g.seq-head-browser')).toHaveCount(1);
  await expect(diagram.locator('g.seq-from-browser').first()).toBeVisible();
  await expectAccessible(page);
});

test('without onAccessTokenExpired the page shows AccessTokenExpiredError and a way to continue', async ({ page }, testInfo) => {
  await signUp(page, uniqueEmail('nocallback'));
  const tokens = countTokenRequests(page);
  await checkoutByInvoice(page, '?callback=off');
  const loaded = tokens.count();
  await fillCard(page);
  await advanceSandboxClock(page, '16m');
  await page.getByRole('button', { name: 'Save payment method' }).click();

  const alert = page.getByRole('alert');
  await expect(alert).toContainText('AccessTokenExpiredError: Access token has expired. Please provide a new token.');
  await expect(page.getByLabel('Billing street address')).toHaveValue('1 Main Street'); // nothing typed is lost
  await page.screenshot({ path: testInfo.outputPath('token-expired.png'), fullPage: true });

  await alert.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('radio', { name: 'Visa ending 4242 (default)' })).toBeChecked();
  await expect(alert).toBeHidden();
  await payAndSeeOrderPaid(page);
  expect(tokens.count()).toBe(loaded + 1); // only Continue asked for a new token
});

test("another customer's invoice is refused", async ({ page, browser }) => {
  await signUp(page, uniqueEmail('owner'));
  const orderID = await checkoutByInvoice(page);

  const other = await browser.newPage();
  await signUp(other, uniqueEmail('other'));
  const res = await other.goto(`/invoices/${orderID}`);
  expect(res?.status()).toBe(404);
  const forbidden = await other.evaluate(async (url) => {
    const r = await fetch(url, { method: 'POST', headers: { Accept: 'application/json' } });
    return { status: r.status, body: await r.json() };
  }, `/api/altpay/invoices/${orderID}/token`);
  expect(forbidden.status).toBe(403);
  expect(forbidden.body.message).toBe('This invoice belongs to another customer.');

  await signOut(other);
  const signedOut = await other.evaluate(async (url) => (await fetch(url, { method: 'POST' })).status, `/api/altpay/invoices/${orderID}/token`);
  expect(signedOut).toBe(401);
  await other.close();

  // The owner, signed out, does not see it either until signing in again.
  await signOut(page);
  expect((await page.goto(`/invoices/${orderID}`))?.status()).toBe(404);
});

test('the page source and the network never carry the client secret or the OAuth token', async ({ page }) => {
  const seen = traffic(page.context());
  const authHeaders: string[] = [];
  page.on('request', (r) => {
    const a = r.headers()['authorization'];
    if (a) authHeaders.push(a);
  });

  await signUp(page, uniqueEmail('secrets'));
  await checkoutByInvoice(page);
  await fillCard(page);
  await page.getByRole('button', { name: 'Save payment method' }).click();
  await expect(page.getByRole('radio', { name: 'Visa ending 4242 (default)' })).toBeChecked();
  const invoicePage = await page.content();
  await payAndSeeOrderPaid(page);

  const all = [await seen.text(), invoicePage, await page.content()].join('\n');
  expect(clientSecret.length).toBeGreaterThan(8);
  expect(all).not.toContain(clientSecret);
  expect(all).not.toContain(basicAuth);
  // The sandbox's OAuth access tokens are 64 hex digits; none may reach the browser.
  expect(all).not.toMatch(/\b[0-9a-f]{64}\b/);
  // The only bearer the browser holds is the checkout JWT.
  expect(authHeaders.length).toBeGreaterThan(0);
  for (const a of authHeaders) expect(a).toMatch(/^Bearer eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
});

async function fault(page: Page, body: object): Promise<void> {
  const res = await page.request.post(`${sandboxURL}/control/faults`, { data: body });
  expect(res.ok(), `fault: ${await res.text()}`).toBeTruthy();
}

test('a second "Pay by invoice" shows the same invoice; paying the cart with Vipps closes it', async ({ page }) => {
  await signUp(page, uniqueEmail('twice'));
  const orderID = await checkoutByInvoice(page);

  await page.goto('/checkout');
  await page.getByRole('button', { name: 'Pay by invoice' }).click();
  await expect(page).toHaveURL(new RegExp(`/invoices/${orderID}$`));
  await invoiceLoaded(page);
  expect((await sandboxState(page.request)).calls['altpay.create_invoice']).toBe(1);
  await page.goto('/account');
  await expect(page.getByTestId('altpay-unpaid').getByRole('link', { name: 'Pay this invoice' })).toHaveCount(1);

  // The same cart, paid with Vipps MobilePay in Norway instead (NOK 229.00).
  await chooseMarket(page, 'Norway (NOK)');
  await page.goto('/checkout');
  await page.getByRole('button', { name: 'Pay with Vipps MobilePay' }).click();
  await expect(page.getByTestId('vipps-amount')).toHaveText('NOK 229.00');
  await page.getByLabel('Your mobile number').fill('912 34 567');
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');

  await page.goto('/account');
  await expect(page.getByRole('link', { name: 'Pay this invoice' })).toHaveCount(0);
  await page.goto(`/invoices/${orderID}`);
  await expect(page.getByTestId('altpay-closed')).toContainText('This invoice is closed: there is nothing to pay.');
  await expect(page.getByRole('button', { name: /^Pay/ })).toHaveCount(0);
});

test('when the invoice snippet gives up, it says so in a sentence, not with the provider\'s title', async ({ page }) => {
  await signUp(page, uniqueEmail('gives-up'));
  await checkoutByInvoice(page);
  await fillCard(page);
  // Every try the snippet makes (three) is answered 503 "Service Unavailable".
  await fault(page, { operation: 'altpay.checkout_add_payment_method', status: 503, times: 3 });
  await page.getByRole('button', { name: 'Save payment method' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('Alternative Payments is not answering right now. Press Continue to try again; a payment is never made twice.');
  await expect(alert).not.toContainText('Service Unavailable');
  await expect(alert.getByRole('button', { name: 'Continue' })).toBeVisible();
});

test('no answer to the invoice request: the shop says it is confirming, then shows the one invoice made', async ({ page }) => {
  await signUp(page, uniqueEmail('confirming'));
  await addToCart(page, 'Stoneware Mug');
  // The provider makes the invoice but its answer is lost. POST /invoices is
  // not idempotent, so the shop does not send it again: it looks for the
  // invoice by its own reference, and here the provider is out for that too.
  await fault(page, { operation: 'altpay.create_invoice', lose_answer: true, times: 1 });
  await fault(page, { operation: 'altpay.list_invoices', status: 503, times: 50 });
  await page.goto('/checkout');
  await page.getByRole('button', { name: 'Pay by invoice' }).click();
  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
  await expect(page.getByTestId('altpay-order-notice')).toContainText('We are confirming your invoice with Alternative Payments.');
  await expect(page.getByTestId('order-status')).toHaveText('Awaiting payment');
  await expect(page.locator('main')).not.toContainText('could not be created');

  // The provider answers again, and the page asks again once its last ask
  // is 10 s old: the shop finds the invoice the lost request made.
  expect((await page.request.delete(`${sandboxURL}/control/faults/altpay.list_invoices`)).ok()).toBeTruthy();
  await advanceSandboxClock(page, '10s');
  await page.reload();
  await page.getByRole('link', { name: 'Pay the invoice' }).click();
  await invoiceLoaded(page);
  await expect(page.getByRole('heading', { name: /^Invoice / })).toHaveText('Invoice INV-00001');
  // The provider made no other.
  expect((await sandboxState(page.request)).calls['altpay.create_invoice']).toBe(1);
});

test('the invoice is paid and the tab closed before the shop hears of it: the invoice_paid webhook marks the order paid', async ({ page, request }) => {
  await signUp(page, uniqueEmail('invoice-webhook'));
  const orderID = await checkoutByInvoice(page);
  await fillCard(page);
  await page.getByRole('button', { name: 'Save payment method' }).click();
  await expect(page.getByRole('radio', { name: 'Visa ending 4242 (default)' })).toBeChecked();
  // The page's own confirmation never reaches the shop: the customer closes
  // the tab as soon as the provider took the payment.
  await page.route(`**/invoices/${orderID}/confirm`, (route) => route.abort());
  await page.getByRole('button', { name: 'Pay $20.57' }).click();
  await expect.poll(async () => {
    const res = await request.get(`${sandboxURL}/control/deliveries?limit=100`);
    const list = (await res.json()).deliveries as any[];
    return list.filter((d) => d.operation === 'altpay.webhook_delivery').map((d) => d.attempts.map((a: any) => a.status));
  }).toEqual([[200]]);
  await page.close();

  // The account page asks no provider: what it shows, the webhook settled.
  const later = await page.context().newPage();
  await later.goto('/account');
  await expect(later.getByTestId('altpay-unpaid')).toHaveCount(0);
  await expect(later.getByRole('table', { name: 'Your orders' }).locator('.status')).toHaveText(['Paid']);
  await later.goto(`/orders/${orderID}`);
  await expect(later.getByTestId('order-status')).toHaveText('Paid');
  await expect(later.getByTestId('altpay-order-invoice-status')).toHaveText('PAID');
  expect((await sandboxState(request)).calls['altpay.checkout_payment']).toBe(1);
});
