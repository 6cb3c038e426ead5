import * as fs from 'node:fs';
import { test, expect, addToCart, shipAsAdmin, chooseMarket, credentials, expectAccessible, resetSandbox, sandboxURL, tabTo } from './helpers';

// "How this payment happened": the order page lists the calls the shop
// made to the provider for the order (recorded and redacted), each opening
// to its headers and bodies, and offers them as a HAR file.

// The sandbox's Vipps access tokens are JWTs that begin like this.
const tokenPrefix = 'eyJ0eXAiOiJKV1Qi';

// Vipps MobilePay is offered in Norway.
test.beforeEach(async ({ request, page }) => {
  await resetSandbox(request);
  await chooseMarket(page, 'Norway (NOK)');
});

test('a Vipps payment\'s order page shows how it happened, opens with the keyboard, and downloads as HAR', async ({ page, request, browser }) => {
  // The shop keeps one Vipps access token per process, on the sandbox's
  // clock; an earlier spec may have left one valid (the suite moves that
  // clock by 48 hours at most, and a token lives an hour). Moving it 72
  // hours on makes this payment fetch its own, so it shows on this order.
  const res = await request.post(`${sandboxURL}/control/clock`, { data: { advance: '72h' } });
  expect(res.ok(), await res.text()).toBeTruthy();
  // The shop's Vipps webhook could authorize the order before the browser
  // comes back, and the return would then not ask GET payment: hold this
  // payment's deliveries back an hour on the sandbox clock (the first one
  // held keeps the later ones of the payment behind it).
  const held = await request.post(`${sandboxURL}/control/faults`,
    { data: { operation: 'vipps.webhook_delivery', delay: '1h', times: 1 } });
  expect(held.ok(), await held.text()).toBeTruthy();

  await addToCart(page, 'Stoneware Mug');
  await page.goto('/checkout');
  await page.getByRole('button', { name: 'Pay with Vipps MobilePay' }).click();
  await page.getByLabel('Your mobile number').fill('912 34 567');
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  const orderID = new URL(page.url()).pathname.split('/').pop()!;
  // The order ships: the back office captures the payment.
  await shipAsAdmin(browser, orderID);
  await page.reload();
  await expect(page.getByTestId('order-status')).toHaveText('Paid');

  const section = page.getByRole('region', { name: 'How this payment happened' });
  await expect(section.getByRole('heading', { level: 2, name: 'How this payment happened' })).toBeVisible();
  await expect(section.getByTestId('exchanges-browser-note')).toHaveText(
    "The browser's own calls to the provider are shown as the sandbox received them.");

  // The single access token, fetched once, then create and get; the
  // back office's capture when the order shipped; showing the order (and
  // shipping it) may ask Vipps again for its state and events. The
  // shop may still hold a token from before the sandbox was reset, which
  // the sandbox no longer knows: then the first create is refused (401),
  // the shop drops that token, fetches one and creates again.
  // The shop's own calls; the browser's (the landing page it opened at
  // the sandbox) are listed among them, in time order, from the browser.
  const items = section.locator('[data-testid=exchange][data-origin=shop]');
  const fromBrowser = section.locator('[data-testid=exchange][data-origin=browser]');
  await expect(fromBrowser.first()).toBeVisible();
  await expect(fromBrowser.first().getByRole('heading', { level: 3 })).toContainText('From the browser: Vipps MobilePay');
  const ops = await items.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-operation') ?? ''));
  const s = ops[0] === 'create_payment' ? 1 : 0;
  if (s === 1) await expect(items.first().getByTestId('exchange-status')).toHaveText('401 Unauthorized');
  expect(ops.slice(s, s + 3)).toEqual(['accesstoken', 'create_payment', 'get_payment']);
  const c = ops.indexOf('capture');
  expect(c, ops.join(' ')).toBeGreaterThan(s + 2);
  expect(ops.slice(s + 3).filter((op, i) => i + s + 3 !== c && op !== 'get_payment' && op !== 'events'), ops.join(' ')).toEqual([]);
  expect(ops.filter((op) => op === 'accesstoken')).toHaveLength(1);
  await expect(items.nth(s + 1).getByRole('heading', { level: 3 })).toHaveText('Vipps MobilePay: create the payment');
  await expect(items.nth(s + 1).getByTestId('exchange-request')).toHaveText('POST /epayment/v1/payments');
  await expect(items.nth(s + 1).getByTestId('exchange-status')).toHaveText('201 Created');
  await expect(items.nth(s + 1).getByTestId('exchange-key')).not.toBeEmpty();
  await expect(items.nth(c).getByTestId('exchange-request')).toHaveText('POST /epayment/v1/payments/{reference}/capture');
  await expect(items.nth(c).getByTestId('exchange-key')).not.toBeEmpty();

  // "Tokens this payment used": the one access token this payment fetched,
  // its lifetime, and every call that presented it, create, get and
  // capture among them, each linked to its call in the list.
  // A token from before the sandbox was reset (s === 1 above) is listed
  // too: presented once, refused, dropped.
  const vippsTokens = section.getByTestId('token').filter({ hasText: 'Vipps access token' });
  await expect(vippsTokens).toHaveCount(1 + s);
  const obtained = page.getByTestId('token-event').filter({ hasText: 'Obtained' });
  if (s === 1) {
    const stale = vippsTokens.filter({ hasNot: obtained });
    await expect(stale.getByTestId('token-event').filter({ hasText: 'Refused' })).toHaveCount(1);
  }
  const token = vippsTokens.filter({ has: obtained });
  await expect(token).toHaveCount(1);
  await expect(token.getByTestId('token-fingerprint')).toHaveText(/^…\S{4} #[0-9a-f]{8}$/);
  const events = await token.getByTestId('token-event').allTextContents();
  expect(events[0], events.join('\n')).toContain('Obtained');
  for (const call of ['create the payment', 'get the payment', 'capture the payment']) {
    expect(events.some((e) => e.includes('Used') && e.includes(call)), `${call} in\n${events.join('\n')}`).toBe(true);
  }
  await expect(token.getByTestId('token-event').filter({ hasText: 'capture the payment' }).getByRole('link')).toHaveAttribute('href', /^#exchange-\d+$/);
  await expectAccessible(page);

  // The token exchange's details open with the keyboard and show the access
  // token's answer with the token as a fingerprint.
  const details = items.nth(s).locator('details');
  const summary = details.locator('summary');
  await expect(details).not.toHaveAttribute('open');
  await tabTo(page, summary, 80);
  await page.keyboard.press('Enter');
  await expect(details).toHaveAttribute('open', '');
  const answer = details.getByTestId('exchange-resp-body');
  await expect(answer).toBeVisible();
  await expect(answer).toContainText('"access_token": "[redacted …');
  await expect(details.getByTestId('exchange-req-headers')).toContainText('Ocp-Apim-Subscription-Key: [redacted credential #'); // the merchant's own keys show nothing of their value
  await expectAccessible(page);

  const html = await page.content();
  expect(html, 'the page shows a Vipps access token').not.toContain(tokenPrefix);
  for (const { name, value } of credentials()) {
    expect(html.includes(value), `the page shows ${name}`).toBe(false);
  }

  // The HAR download: JSON, the same calls in the same order, valid URLs,
  // no credential and no token.
  const downloading = page.waitForEvent('download');
  await section.getByRole('link', { name: 'Download as HAR' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe(`refshop-order-${orderID}.har`);
  const path = await download.path();
  const text = fs.readFileSync(path, 'utf8');
  const har = JSON.parse(text);
  expect(har.log.version).toBe('1.2');
  expect(har.log.creator.name).toBe('refshop');
  const all: any[] = har.log.entries;
  expect(all.some((e) => e._origin === 'browser')).toBe(true);
  const entries = all.filter((e) => e._origin === 'shop');
  expect(entries.map((e) => e._operation)).toEqual(ops);
  for (const e of all) {
    expect(() => new URL(e.request.url), e.request.url).not.toThrow();
    expect(new URL(e.request.url).hash).toBe('');
    expect(typeof e.startedDateTime).toBe('string');
    expect(e.response.status).toBeGreaterThan(0);
  }
  expect(text, 'the HAR holds a Vipps access token').not.toContain(tokenPrefix);
  for (const { name, value } of credentials()) {
    expect(text.includes(value), `the HAR holds ${name}`).toBe(false);
  }
});
