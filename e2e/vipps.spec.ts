import { test, expect, addToCart, cartCount, chooseMarket, credentials, expectAccessible, resetSandbox, sandboxState, sandboxURL, shopLog, signUp, traffic, uniqueEmail } from './helpers';
import type { APIRequestContext, Page } from '@playwright/test';

// Pay with Vipps MobilePay: the checkout form, the landing page (the
// sandbox's stand-in for the Vipps app), the return to the shop, and the
// ways it can go wrong. Each test starts from a reset sandbox.

// The sandbox's Vipps access tokens are JWTs that begin like this; none may
// reach the browser or the log. (The credentials themselves are checked on
// every test by helpers.ts.)
const tokenPrefix = 'eyJ0eXAiOiJKV1Qi';

const shots = process.env.E2E_SCREENSHOTS; // a directory: save screenshots of the flow there

async function control(request: APIRequestContext, path: string, body: object): Promise<void> {
  const res = await request.post(`${sandboxURL}/control/${path}`, { data: body });
  expect(res.ok(), `control ${path}: ${await res.text()}`).toBeTruthy();
}

// payWithVipps submits the Vipps choice on the checkout page. The shop asks
// for no phone number: Vipps MobilePay's landing page does.
async function payWithVipps(page: Page): Promise<void> {
  await page.goto('/checkout');
  await page.getByRole('button', { name: 'Pay with Vipps MobilePay' }).click();
}

// approveInVipps is the customer on the landing page typing the number their
// app uses (a Norwegian test user: the sandbox's sales unit is Norwegian by
// default) and pressing Approve.
async function approveInVipps(page: Page, phone = '912 34 567'): Promise<void> {
  await page.getByLabel('Your mobile number').fill(phone);
  await page.getByRole('button', { name: 'Approve' }).click();
}

async function expectLandingPage(page: Page, amount: string): Promise<void> {
  await expect(page).toHaveURL(new RegExp(`^${sandboxURL}/vipps/landing\\?token=`));
  await expect(page.getByRole('heading', { name: 'Pay Refshop' })).toBeVisible();
  await expect(page.getByTestId('vipps-amount')).toHaveText(amount);
  await expect(page.getByRole('button', { name: 'Approve' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Reject' })).toBeVisible();
}

async function shot(page: Page, name: string): Promise<void> {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function eventNames(page: Page): Promise<string[]> {
  return page.getByTestId('vipps-events').locator('tbody tr').evaluateAll(
    (rows) => rows.map((r) => r.getAttribute('data-event') ?? ''));
}

// Vipps MobilePay is offered in Norway, in NOK: the currency of the
// sandbox's (Norwegian) test sales unit. The landing page shows the amount
// the sandbox recorded for the payment.
test.beforeEach(async ({ request, page }) => {
  await resetSandbox(request);
  await chooseMarket(page, 'Norway (NOK)');
});

test('approve in Vipps MobilePay and see the payment authorized, to be captured when the order ships', async ({ page, request }) => {
  await addToCart(page, 'Stoneware Mug');
  await addToCart(page, 'Sencha Green Tea');
  await page.goto('/checkout');
  await shot(page, 'vipps-checkout');
  await expectAccessible(page);
  await payWithVipps(page);

  await expectLandingPage(page, 'NOK 328.00');
  await expect(page.getByLabel('Your mobile number')).toHaveValue(''); // the shop sent none: Vipps asks
  await expectAccessible(page);
  await shot(page, 'vipps-landing');
  await approveInVipps(page);

  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
  await expect(page.getByRole('status').first()).toHaveText('Thank you! Your payment is authorized; we capture it when your order ships.');
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  await expect(page.getByTestId('vipps-reference')).toHaveText(/^refshop-[a-z0-9]{26}$/);
  // Norway's rule: nothing is captured before the goods ship (the back
  // office ships: admin.spec.ts).
  expect(await eventNames(page)).toEqual(['CREATED', 'AUTHORIZED']);
  await expect(page.getByTestId('vipps-state')).toHaveText('Approved, not yet captured');
  await expect(page.getByTestId('vipps-captured')).toHaveCount(0);
  expect((await sandboxState(request)).calls['vipps.capture']).toBe(0);
  expect(await cartCount(page)).toBe(0);
  await shot(page, 'vipps-order-paid');
});

test('reject in Vipps MobilePay: the order is cancelled, the cart intact, and a new try works', async ({ page, request }) => {
  await addToCart(page, 'Glass Carafe');
  await addToCart(page, 'Linen Tea Towel');
  expect(await cartCount(page)).toBe(2);
  await payWithVipps(page);
  await expectLandingPage(page, 'NOK 498.00');
  await page.getByRole('button', { name: 'Reject' }).click();

  await expect(page.getByTestId('order-status')).toHaveText('Cancelled');
  await expect(page.getByText('You rejected the payment in Vipps MobilePay. Nothing was charged.')).toBeVisible();
  expect(await eventNames(page)).toEqual(['CREATED', 'ABORTED']);
  expect(await cartCount(page)).toBe(2);
  await shot(page, 'vipps-order-rejected');
  expect((await sandboxState(request)).calls['vipps.capture']).toBe(0);

  await page.getByRole('link', { name: 'Try again' }).click();
  await expect(page.getByRole('heading', { name: 'Checkout' })).toBeVisible();
  await expect(page.getByTestId('total')).toHaveText('NOK 498.00');
  await page.getByRole('button', { name: 'Pay with Vipps MobilePay' }).click();
  await approveInVipps(page);
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  expect(await cartCount(page)).toBe(0);
});

test('the shop asks for no phone number; the Vipps landing page asks, and refuses another market\'s', async ({ page, request }) => {
  await addToCart(page, 'Dark Chocolate 72%');
  await page.goto('/checkout');
  const form = page.locator('form[action="/checkout/vipps"]');
  await expect(form.locator('input[type=tel], input[name=phone]')).toHaveCount(0);
  await expect(form.getByTestId('vipps-how')).toContainText('asks for your mobile number there, not here');
  await shot(page, 'vipps-checkout-no-phone');
  await form.getByRole('button', { name: 'Pay with Vipps MobilePay' }).click();

  await expect(page).toHaveURL(new RegExp(`^${sandboxURL}/vipps/landing\\?token=`));
  const phone = page.getByLabel('Your mobile number');
  await expect(phone).toHaveValue('');
  await expect(page.getByTestId('vipps-phone-hint')).toContainText('+47');
  await phone.fill('+45 12 34 56 78'); // a Danish number at a Norwegian sales unit
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByRole('alert')).toContainText('sales unit\'s market (NO)');
  await expect(phone).toHaveAttribute('aria-invalid', 'true');
  await shot(page, 'vipps-landing-other-market');
  await approveInVipps(page, '912 34 567');
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  expect((await sandboxState(request)).calls['vipps.create_payment']).toBe(1);
});

test('an access token that expires between creating the payment and reading it back is replaced without the customer noticing', async ({ page, request }) => {
  // Tokens live 5 minutes. Moving the sandbox clock 3 hours first makes
  // sure no token the shop kept from an earlier test is still valid.
  await control(request, 'settings', { vipps_access_token_ttl: '5m' });
  await control(request, 'clock', { advance: '3h' });
  // The webhook would authorize the order before the browser comes back,
  // and the return would not read the payment: hold the deliveries back.
  await control(request, 'faults', { operation: 'vipps.webhook_delivery', delay: '1h', times: 1 });
  await addToCart(page, 'Pour-over Dripper');
  await payWithVipps(page);
  await expectLandingPage(page, 'NOK 299.00');

  // While the customer looks at the landing page the shop's token expires
  // (6 minutes: past the token, inside the payment's 10 minutes).
  await control(request, 'clock', { advance: '6m' });
  await approveInVipps(page);

  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  await expect(page.getByText('could not', { exact: false })).toHaveCount(0);
  const calls = (await sandboxState(request)).calls;
  expect(calls['vipps.accesstoken']).toBe(2); // the first token, then one after the 401
  expect(calls['vipps.get_payment']).toBe(2); // refused once (401), retried once
  expect(calls['vipps.capture']).toBe(0); // captured when the order ships
});

test('a Vipps outage on create shows a calm error and leaves no paid-looking order', async ({ page, request }) => {
  await signUp(page, uniqueEmail('vipps-outage'));
  await addToCart(page, 'Honey Almond Biscuits');
  // More failures than the shop's bounded retries (3 tries).
  await control(request, 'faults', { operation: 'vipps.create_payment', status: 503, times: 3 });
  await payWithVipps(page);

  await expect(page.getByRole('heading', { name: 'Checkout' })).toBeVisible();
  await expect(page.getByTestId('vipps-error')).toHaveText(/Vipps MobilePay is not answering right now\. Nothing was charged\./);
  await expect(page.locator('main')).not.toContainText('503');
  await shot(page, 'vipps-outage');
  expect((await sandboxState(request)).calls['vipps.create_payment']).toBe(3);
  expect(await cartCount(page)).toBe(1);

  await page.goto('/account');
  const orders = page.getByRole('table', { name: 'Your orders' });
  await expect(orders.locator('.status')).toHaveText(['Payment failed']);
});

test('an order whose landing page was closed is settled when viewed again', async ({ page, request }) => {
  await signUp(page, uniqueEmail('vipps-closed'));
  await addToCart(page, 'Sencha Green Tea');
  await payWithVipps(page);
  await expectLandingPage(page, 'NOK 99.00');

  // The customer closes the tab and later opens the order from the account.
  await page.goto('/account');
  await page.getByRole('table', { name: 'Your orders' }).getByRole('link').first().click();
  await expect(page.getByTestId('order-status')).toHaveText('Awaiting payment');
  await expect(page.getByRole('link', { name: 'Continue to Vipps MobilePay' })).toBeVisible();

  await control(request, 'clock', { advance: '10m' }); // Vipps lets it expire
  await page.reload();
  await expect(page.getByTestId('order-status')).toHaveText('Cancelled');
  expect(await eventNames(page)).toEqual(['CREATED', 'EXPIRED']);
  await expect(page.getByRole('link', { name: 'Try again' })).toBeVisible();
  expect(await cartCount(page)).toBe(1);
});

test('no page, request or log line carries an access token, and no credential either', async ({ page }) => {
  const seen = traffic(page.context());
  const logBefore = shopLog().length;
  await addToCart(page, 'Stoneware Mug');
  await payWithVipps(page);
  await approveInVipps(page);
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  await page.reload();
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');

  const all = (await seen.text()) + await page.content();
  const log = shopLog().slice(logBefore);
  // The walk really went to Vipps and back, and the shop's calls were logged.
  expect(all).toContain('/checkout/vipps/return');
  // (create: the return may find the order authorized by the webhook already.)
  expect(log).toContain('provider=vipps operation=create_payment');
  expect(all, 'the browser received a Vipps access token').not.toContain(tokenPrefix);
  expect(log, 'the shop logged a Vipps access token').not.toContain(tokenPrefix);
  for (const { name, value } of credentials()) {
    expect(all.includes(value), `the browser received ${name}`).toBe(false);
  }
});

test('Vipps slower than the shop waits: the order page says it is still confirming, and a second submit joins the same payment', async ({ page, request }) => {
  test.setTimeout(120_000);
  await signUp(page, uniqueEmail('vipps-slow'));
  await addToCart(page, 'Glass Carafe');
  // The first create waits 25 s at Vipps: longer than the shop's 15 s
  // deadline and its client's 20 s timeout, whose retry then succeeds.
  await control(request, 'faults', { operation: 'vipps.create_payment', status: 0, delay: '25s', times: 1 });
  const answer = page.waitForResponse((r) => r.url().endsWith('/checkout/vipps') && r.request().method() === 'POST');
  await payWithVipps(page);

  // The shop answers within its deadline, well inside its 60 s write
  // timeout, so the browser has no reason to post the form again.
  expect((await answer).status()).toBe(303);
  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
  const orderURL = page.url();
  await expect(page.getByTestId('vipps-confirming')).toContainText('We are still confirming with Vipps MobilePay');
  await expect(page.getByTestId('order-status')).toHaveText('Awaiting payment');
  await shot(page, 'vipps-confirming');

  // The customer goes back and pays again: the same attempt, which lands
  // on the landing page of the one payment once Vipps has made it.
  await payWithVipps(page);
  await expect(page).toHaveURL(new RegExp(`^${sandboxURL}/vipps/landing`), { timeout: 30_000 });
  await expectLandingPage(page, 'NOK 349.00');
  await approveInVipps(page);
  await expect(page).toHaveURL(orderURL);
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  await expect(page.getByTestId('vipps-confirming')).toHaveCount(0);
  expect(await eventNames(page)).toEqual(['CREATED', 'AUTHORIZED']);

  await page.goto('/account');
  const orders = page.getByRole('table', { name: 'Your orders' });
  await expect(orders.locator('.status')).toHaveText(['Payment authorized']);
  expect((await sandboxState(request)).calls['vipps.create_payment']).toBe(2); // the slow one and its retry, one key
});

test('the order page of a payment still being confirmed reloads by itself until Vipps has answered', async ({ page, request }) => {
  test.setTimeout(120_000);
  await addToCart(page, 'Linen Tea Towel');
  await control(request, 'faults', { operation: 'vipps.create_payment', status: 0, delay: '25s', times: 1 });
  await payWithVipps(page);
  await expect(page.getByTestId('vipps-confirming')).toBeVisible({ timeout: 20_000 });

  // No reload by the test: the page's own refresh brings the landing page's link.
  await expect(page.getByRole('link', { name: 'Continue to Vipps MobilePay' })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('vipps-confirming')).toHaveCount(0);
  await page.getByRole('link', { name: 'Continue to Vipps MobilePay' }).click();
  await approveInVipps(page);
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
});

// vippsDeliveries is the sandbox's log of the webhook deliveries to the
// shop (GET /control/deliveries) for one event type.
async function vippsDeliveries(request: APIRequestContext, event: string): Promise<any[]> {
  const res = await request.get(`${sandboxURL}/control/deliveries?limit=100`);
  expect(res.ok()).toBeTruthy();
  return ((await res.json()).deliveries as any[]).filter((d) => d.operation === 'vipps.webhook_delivery' && d.event === event);
}

// Polling off: every GET of a payment fails, so only a webhook can tell the
// shop how the payment went.
async function pollingFails(request: APIRequestContext): Promise<void> {
  await control(request, 'faults', { operation: 'vipps.get_payment', status: 500, times: 1000 });
}

test('approve in Vipps MobilePay and close the tab: the order is paid from the webhook alone', async ({ page, request, baseURL }) => {
  const logBefore = shopLog().length;
  await signUp(page, uniqueEmail('vipps-webhook'));
  await addToCart(page, 'Sencha Green Tea');
  await payWithVipps(page);
  await expectLandingPage(page, 'NOK 99.00');
  await pollingFails(request);

  // The customer approves and closes the tab before the shop's page opens.
  await page.route(`${baseURL}/**`, (route) => route.abort());
  await approveInVipps(page);
  await expect.poll(async () => (await vippsDeliveries(request, 'epayments.payment.authorized.v1'))
    .map((d) => d.attempts.map((a: any) => a.status))).toEqual([[200]]);
  await page.close();

  // Later, in a new tab, the customer opens the order from their account.
  const later = await page.context().newPage();
  await later.goto('/account');
  const orders = later.getByRole('table', { name: 'Your orders' });
  await expect(orders.locator('.status')).toHaveText(['Payment authorized']);
  await orders.getByRole('link').first().click();
  await expect(later.getByTestId('order-status')).toHaveText('Payment authorized');
  await expect(later.getByTestId('vipps-events')).toContainText('(webhook)');
  expect(await cartCount(later)).toBe(0);
  await expectAccessible(later);
  await shot(later, 'vipps-webhook-order');
  // The shop never learnt it by asking: no GET of the payment got through.
  const log = shopLog().slice(logBefore);
  expect(log).not.toContain('settled by polling');
});

test('a dropped webhook replayed from the sandbox index settles the order once', async ({ page, request, browser }) => {
  await signUp(page, uniqueEmail('vipps-replay'));
  await addToCart(page, 'Sencha Green Tea');
  await payWithVipps(page);
  await expectLandingPage(page, 'NOK 99.00');
  await pollingFails(request);
  // Every scheduled delivery of the approval is dropped (the first ones
  // come every 2 seconds, then after a minute): the shop hears nothing.
  await expect.poll(async () => (await vippsDeliveries(request, 'epayments.payment.created.v1')).length).toBe(1);
  await control(request, 'faults', { operation: 'vipps.webhook_delivery', lose_answer: true, times: 10 });
  await approveInVipps(page);
  await expect(page.getByTestId('order-status')).toHaveText('Awaiting payment');
  const orderURL = page.url();
  const [authorized] = await vippsDeliveries(request, 'epayments.payment.authorized.v1');
  expect(authorized.attempts.length).toBeGreaterThan(0);
  expect(authorized.attempts.every((a: any) => a.status === 0)).toBeTruthy();

  // Someone replays it from the sandbox's index.
  const sandboxTab = await browser.newContext();
  const index = await sandboxTab.newPage();
  await index.goto(`${sandboxURL}/`);
  const row = index.locator(`tr.delivery[data-id="${authorized.id}"]`);
  await expect(row).toContainText('epayments.payment.authorized.v1');
  await row.getByRole('button', { name: `Replay delivery ${authorized.id}` }).click();
  await expect.poll(async () => (await vippsDeliveries(request, 'epayments.payment.authorized.v1'))[0].attempts
    .filter((a: any) => a.kind === 'replay').map((a: any) => a.status)).toEqual([200]);
  // The page reloads itself after the replay: wait for the reloaded row's
  // attempt list (the curl line beside the button also says "replay").
  await expect(index.locator(`tr.delivery[data-id="${authorized.id}"] ol.attempts li`, { hasText: '(replay)' })).toHaveCount(1);
  await expectAccessible(index);
  await shot(index, 'sandbox-deliveries');

  await page.goto(orderURL);
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  expect(await cartCount(page)).toBe(0);

  // A second replay changes nothing: one authorization, the cart emptied once.
  await index.reload();
  await index.locator(`tr.delivery[data-id="${authorized.id}"]`).getByRole('button', { name: `Replay delivery ${authorized.id}` }).click();
  await expect.poll(async () => (await vippsDeliveries(request, 'epayments.payment.authorized.v1'))[0].attempts
    .filter((a: any) => a.kind === 'replay').length).toBe(2);
  await page.reload();
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  expect(await eventNames(page)).toEqual(['CREATED', 'AUTHORIZED']);
  await page.goto('/account');
  await expect(page.getByRole('table', { name: 'Your orders' }).locator('.status')).toHaveText(['Payment authorized']);
  await sandboxTab.close();
});
