import { test, expect, addToCart, admin, cartCount, chooseMarket, expectAccessible, resetSandbox, sandboxState, sandboxURL, shopLog, signUp, tabTo, uniqueEmail } from './helpers';
import type { APIRequestContext, FrameLocator, Page } from '@playwright/test';

// Klarna Payments with account linking, as a customer walks it: the payment
// page runs the Klarna Payments SDK (init, load, authorize) served by the
// sandbox, whose widget is a frame from the sandbox's origin.

const shots = 'test-results/klarna';

// A customer token in full: krn:partner:<region>:<env>:identity:customer-token:<id>.
const fullToken = /identity:customer-token:[A-Za-z0-9]+/;

function widget(page: Page): FrameLocator {
  return page.frameLocator('iframe[title="Klarna"]');
}

async function setting(request: APIRequestContext, name: string, value: unknown): Promise<void> {
  const res = await request.post(`${sandboxURL}/control/settings`, { data: { [name]: value } });
  expect(res.ok()).toBeTruthy();
}

// payWithKlarna goes from the checkout to the Klarna page and waits for the
// widget to load.
async function payWithKlarna(page: Page): Promise<void> {
  await page.goto('/checkout');
  await expect(page.getByTestId('klarna-method')).toBeVisible();
  await page.getByRole('button', { name: 'Pay with Klarna' }).click();
  await expect(page.getByRole('heading', { name: 'Pay with Klarna', level: 1 })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Buy with Klarna' })).toBeEnabled();
}

// loginInWidget opens Klarna's dialog and logs in as a test persona.
async function loginInWidget(page: Page, persona = 'Anna Schmidt'): Promise<void> {
  await page.getByRole('button', { name: 'Buy with Klarna' }).click();
  const w = widget(page);
  await expect(w.getByRole('heading', { name: 'Log in to Klarna' })).toBeVisible();
  await w.getByRole('radio', { name: new RegExp(persona) }).check();
  await w.getByRole('button', { name: 'Continue' }).click();
  await expect(w.getByTestId('klarna-welcome')).toContainText(`Hi ${persona.split(' ')[0]}`);
}

// approve presses the widget's Buy button and waits for the order page.
async function approve(page: Page): Promise<void> {
  await widget(page).getByTestId('klarna-buy').click();
  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
}

// linkedCustomer signs up and makes a first purchase that links Klarna.
async function linkedCustomer(page: Page): Promise<string> {
  await signUp(page, uniqueEmail('klarna'));
  await addToCart(page, 'Sencha Green Tea');
  await payWithKlarna(page);
  await loginInWidget(page);
  await expect(widget(page).getByRole('checkbox', { name: 'Link my Klarna account to this shop' })).toBeChecked();
  await approve(page);
  await page.goto('/account');
  const masked = await page.getByTestId('klarna-token').innerText();
  expect(masked).toMatch(/^••••[A-Z2-7]{4}$/);
  return masked;
}

// noFullToken checks a page and the shop's log for a customer token in full,
// and for the token's id next to the four characters the account page shows.
function noFullToken(name: string, text: string, masked?: string): void {
  expect(text, `${name} shows a customer token in full`).not.toMatch(fullToken);
  if (masked) {
    const tail = masked.replace('••••', '');
    expect(text, `${name} shows the token's id`).not.toMatch(new RegExp(`[A-Z2-7]{22}${tail}`));
  }
}

test.beforeEach(async ({ request }) => {
  await resetSandbox(request);
});

test('first purchase links the Klarna account and the account page shows it', async ({ page }) => {
  await signUp(page, uniqueEmail('klarna'));
  await addToCart(page, 'Stoneware Mug');
  await addToCart(page, 'Morning Blend Coffee Beans');
  await page.goto('/checkout');
  await page.screenshot({ path: `${shots}/0-checkout.png`, fullPage: true });
  await payWithKlarna(page);
  await expect(page.getByTestId('klarna-total')).toHaveText('€32.90');
  await expect(widget(page).getByTestId('klarna-inline-status')).toHaveText('You will log in to Klarna when you place the order.');
  await page.screenshot({ path: `${shots}/1-pay-page.png`, fullPage: true });
  noFullToken('the payment page', await page.content());

  await page.getByRole('button', { name: 'Buy with Klarna' }).click();
  const w = widget(page);
  // Klarna's dialog is titled with the way to pay the customer picked.
  await expect(w.getByRole('dialog', { name: 'Pay in 30 days' })).toBeVisible();
  await expect(w.getByTestId('klarna-amount')).toHaveText('EUR 32.90');
  await page.screenshot({ path: `${shots}/2-widget-login.png` });
  await w.getByRole('radio', { name: /Anna Schmidt/ }).check();
  await w.getByRole('button', { name: 'Continue' }).click();
  const link = w.getByRole('checkbox', { name: 'Link my Klarna account to this shop' });
  await expect(link).toBeChecked(); // linking is offered, checked by default
  await page.screenshot({ path: `${shots}/3-widget-approve.png` });
  await approve(page);
  await expect(page.getByRole('status')).toHaveText('Thank you! Klarna approved your payment.');
  await expect(page.getByTestId('provider-reference')).toHaveText(/^[0-9a-f-]{36}$/);
  expect(await cartCount(page)).toBe(0);
  await page.screenshot({ path: `${shots}/4-order.png`, fullPage: true });

  await page.goto('/account');
  const panel = page.getByTestId('klarna-link');
  await expect(panel.getByRole('heading', { name: 'Klarna account linked' })).toBeVisible();
  const masked = await panel.getByTestId('klarna-token').innerText();
  expect(masked).toMatch(/^••••[A-Z2-7]{4}$/);
  await expect(panel.getByTestId('klarna-linked-at')).not.toBeEmpty();
  await expect(panel.getByTestId('klarna-refreshed-at')).not.toBeEmpty();
  await expect(panel.getByRole('button', { name: 'Unlink Klarna' })).toBeVisible();
  await page.screenshot({ path: `${shots}/5-account.png`, fullPage: true });
  noFullToken('the account page', await page.content(), masked);
});

// The United States is another Klarna merchant account on its own API
// (api-na): the sandbox's NA region takes the session, whose widget shows the
// amount it recorded in dollars; sales tax travels as its own order line, so
// the order's tax is that line.
test('in the United States Klarna runs on its North American API, in dollars with sales tax', async ({ page }) => {
  await signUp(page, uniqueEmail('klarna-us'));
  await chooseMarket(page, 'United States (USD)');
  await addToCart(page, 'Stoneware Mug');
  await payWithKlarna(page);
  await expect(page.getByTestId('klarna-total')).toHaveText('$20.57');
  const ways = page.getByRole('group', { name: 'How would you like to pay?' }).getByRole('radio');
  await expect(ways).toHaveCount(2);
  await expect(ways.first()).toBeChecked();
  await page.getByRole('radio', { name: 'Pay in 4 interest-free payments' }).check();
  await expect(page.getByRole('button', { name: 'Buy with Klarna' })).toBeEnabled();
  await expectAccessible(page);
  await loginInWidget(page);
  const w = widget(page);
  await expect(w.getByRole('dialog', { name: 'Pay in 4 interest-free payments' })).toBeVisible();
  await expect(w.getByTestId('klarna-amount')).toHaveText('USD 20.57');
  await approve(page);
  await expect(page.getByTestId('order-market')).toHaveText('United States');
  await expect(page.getByTestId('order-tax')).toHaveText('$1.57');
  await expect(page.getByTestId('order-total')).toHaveText('$20.57');
  await expect(page.getByText('Sales tax', { exact: true })).toBeVisible();
});

test('the second purchase opens Klarna ready to buy, with no login step', async ({ page }) => {
  const masked = await linkedCustomer(page);
  await addToCart(page, 'Glass Carafe');
  await page.goto('/checkout');
  await expect(page.getByTestId('klarna-method')).toContainText('Your Klarna account is linked');
  await payWithKlarna(page);
  await expect(page.getByText('Your linked Klarna account will be recognised')).toBeVisible();
  await expect(widget(page).getByTestId('klarna-inline-status')).toHaveText('Welcome back, Anna. Klarna is ready: no login needed.');

  await page.getByRole('button', { name: 'Buy with Klarna' }).click();
  const w = widget(page);
  await expect(w.getByTestId('klarna-welcome')).toHaveText('Welcome back, Anna. This shop recognised your Klarna account.');
  await expect(w.getByTestId('klarna-login')).toBeHidden();
  await expect(w.getByRole('checkbox', { name: 'Link my Klarna account to this shop' })).toBeHidden();
  await page.screenshot({ path: `${shots}/6-ready-to-buy.png` });
  await approve(page);

  await page.goto('/account');
  await expect(page.getByTestId('klarna-token')).toHaveText(masked); // no rotation: the same token
});

test('a rotated token replaces the stored one', async ({ page, request }) => {
  const before = await linkedCustomer(page);
  await setting(request, 'klarna_rotate_customer_tokens', true);
  await addToCart(page, 'Linen Tea Towel');
  await payWithKlarna(page);
  await page.getByRole('button', { name: 'Buy with Klarna' }).click();
  await expect(widget(page).getByTestId('klarna-welcome')).toContainText('Welcome back, Anna');
  await approve(page);

  await page.goto('/account');
  const after = await page.getByTestId('klarna-token').innerText();
  expect(after).toMatch(/^••••[A-Z2-7]{4}$/);
  expect(after).not.toBe(before);

  // The new token is the one that works: the next purchase is still recognised.
  await addToCart(page, 'Linen Tea Towel');
  await payWithKlarna(page);
  await expect(widget(page).getByTestId('klarna-inline-status')).toContainText('Welcome back, Anna');
  noFullToken('the account page', await page.content(), after);
});

test('opting out of linking stores nothing', async ({ page }) => {
  await signUp(page, uniqueEmail('klarna'));
  await addToCart(page, 'Sencha Green Tea');
  await payWithKlarna(page);
  await loginInWidget(page);
  await widget(page).getByRole('checkbox', { name: 'Link my Klarna account to this shop' }).uncheck();
  await approve(page);

  await page.goto('/account');
  await expect(page.getByTestId('klarna-link')).toHaveCount(0);
  await expect(page.getByText('No payment or sign-in provider is linked to this account.')).toBeVisible();
  // So the next purchase asks for the login again.
  await addToCart(page, 'Sencha Green Tea');
  await payWithKlarna(page);
  await expect(widget(page).getByTestId('klarna-inline-status')).toHaveText('You will log in to Klarna when you place the order.');
});

test('unlink forgets the token in the shop; Klarna documents no call to end the link', async ({ page, request }) => {
  await linkedCustomer(page);
  await page.getByRole('button', { name: 'Unlink Klarna' }).click();
  await expect(page.getByRole('status')).toHaveText('Your Klarna account is unlinked: this shop forgot it, and next time Klarna will ask you to log in. To end the link at Klarna too, remove this shop in the Klarna app.');
  await expect(page.getByTestId('klarna-link')).toHaveCount(0);
  const state = await sandboxState(request);
  expect(state.calls['klarna.customer_token_status'] ?? 0).toBe(0);

  await addToCart(page, 'Sencha Green Tea');
  await payWithKlarna(page);
  await expect(widget(page).getByTestId('klarna-inline-status')).toHaveText('You will log in to Klarna when you place the order.');
});

test('a returning linked customer buys again in one click: Klarna opens ready to buy', async ({ page, request }) => {
  await linkedCustomer(page);
  await page.getByRole('link', { name: /^1 item$/ }).first().click();
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  const first = page.url();
  await page.screenshot({ path: `${shots}/7-order-buy-again.png`, fullPage: true });
  await page.getByRole('button', { name: 'Buy again with Klarna' }).click();

  // A new attempt's payment page, its session carrying the linked account.
  await expect(page.getByRole('heading', { name: 'Pay with Klarna', level: 1 })).toBeVisible();
  await expect(page.getByTestId('klarna-buy-again')).toBeVisible();
  await expect(page.getByText('Your linked Klarna account will be recognised')).toBeVisible();
  await expect(page.getByRole('group', { name: 'How would you like to pay?' }).getByRole('radio').first()).toBeChecked();
  await expect(widget(page).getByTestId('klarna-inline-status')).toHaveText('Welcome back, Anna. Klarna is ready: no login needed.');
  await page.getByRole('button', { name: 'Buy with Klarna' }).click();
  await expect(widget(page).getByTestId('klarna-login')).toBeHidden();
  await approve(page); // the one click
  expect(page.url()).not.toBe(first);
  await expect(page.getByText('Bought again from')).toBeVisible();
  const state = await sandboxState(request);
  expect(state.calls['klarna.customer_token_order'] ?? 0).toBe(0); // no server-to-server charge
  expect(state.calls['klarna.create_session']).toBe(2);
  expect(state.calls['klarna.create_order']).toBe(2);
  noFullToken('the order page', await page.content());
});

test('a Klarna error shows the correlation id and keeps the cart', async ({ page, request }) => {
  await addToCart(page, 'Pour-over Dripper');
  await payWithKlarna(page);
  const payPage = page.url();
  const res = await request.post(`${sandboxURL}/control/faults`, { data: { operation: 'klarna.create_order', status: 503, times: 3 } });
  expect(res.ok()).toBeTruthy();
  await loginInWidget(page, 'Jonas Weber');
  await widget(page).getByTestId('klarna-buy').click();

  await expect(page.getByRole('heading', { name: 'Klarna could not place the order' })).toBeVisible();
  await expect(page.getByText('Nothing was charged and your cart is unchanged.')).toBeVisible();
  const ref = await page.getByTestId('support-reference').innerText();
  expect(ref).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  await page.screenshot({ path: `${shots}/8-error.png`, fullPage: true });
  expect(shopLog()).toContain(`correlation_id=${ref}`);
  expect(await cartCount(page)).toBe(1);
  await page.goto('/cart');
  await expect(page.locator('tr[data-product="pour-over"]')).toBeVisible();
  const state = await sandboxState(request);
  expect(state.calls['klarna.create_order']).toBe(3); // bounded retries, one key

  // Klarna is back: the same attempt, approved again, goes through.
  await page.goto(payPage);
  await expect(page.getByRole('button', { name: 'Buy with Klarna' })).toBeEnabled();
  await loginInWidget(page, 'Jonas Weber');
  await approve(page);
  expect(await cartCount(page)).toBe(0);
});

test('a guest pays with Klarna and nothing is offered for linking', async ({ page }) => {
  await addToCart(page, 'Dark Chocolate 72%');
  await page.goto('/checkout');
  await expect(page.getByTestId('klarna-method')).toContainText('Sign in first to link');
  await payWithKlarna(page);
  await loginInWidget(page);
  await expect(widget(page).getByRole('checkbox', { name: 'Link my Klarna account to this shop' })).toBeHidden();
  await approve(page);
});

test('a customer Klarna declines, or who closes Klarna, pays nothing and keeps the cart', async ({ page }) => {
  await addToCart(page, 'Hand Grinder');
  await payWithKlarna(page);
  await page.getByRole('button', { name: 'Buy with Klarna' }).click();
  await widget(page).getByRole('button', { name: 'Close and go back to the shop' }).click();
  await expect(page.getByTestId('klarna-status')).toHaveText('You closed Klarna without approving. Nothing was charged; your cart is unchanged.');

  await loginInWidget(page, 'Dana Declined');
  await widget(page).getByTestId('klarna-buy').click();
  await expect(widget(page).getByRole('alert')).toHaveText('Klarna cannot offer this payment method to this customer.');
  await widget(page).getByRole('button', { name: 'Close and go back to the shop' }).click();
  await expect(page.getByTestId('klarna-status')).toHaveText('Klarna cannot be used for this purchase in this way. Pick another, or choose another payment method. Nothing was charged.');
  expect(await cartCount(page)).toBe(1);
});

test('keyboard only: the Klarna dialog takes the focus and gives it back', async ({ page }) => {
  await addToCart(page, 'Sencha Green Tea');
  await payWithKlarna(page);
  const buy = page.getByRole('button', { name: 'Buy with Klarna' });
  await page.locator('main').focus();
  await tabTo(page, buy);
  await page.keyboard.press('Enter');
  const w = widget(page);
  await expect(w.getByRole('radio', { name: /Anna Schmidt/ })).toBeFocused();
  await page.keyboard.press('Escape'); // close: back to the page, focus on the button
  await expect(page.getByTestId('klarna-status')).toHaveText('You closed Klarna without approving. Nothing was charged; your cart is unchanged.');
  await expect(buy).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(w.getByRole('radio', { name: /Anna Schmidt/ })).toBeFocused();
  await page.keyboard.press('Enter'); // the persona form: Continue
  await expect(w.getByTestId('klarna-buy')).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
});

test('authorize with auto_finalize false needs finalize, which gives the token', async ({ page }) => {
  await addToCart(page, 'Sencha Green Tea');
  await payWithKlarna(page);
  await page.evaluate(() => {
    const w = window as any;
    w.kpResult = null;
    w.Klarna.Payments.authorize({ payment_method_category: 'pay_later', auto_finalize: false }, {}, (r: any) => { w.kpResult = r; });
  });
  const w = widget(page);
  await w.getByRole('radio', { name: /Anna Schmidt/ }).check();
  await w.getByRole('button', { name: 'Continue' }).click();
  await w.getByTestId('klarna-buy').click();
  await expect.poll(() => page.evaluate(() => (window as any).kpResult)).toEqual({ approved: true, show_form: true, finalize_required: true });
  await page.evaluate(() => {
    const w = window as any;
    w.kpResult = null;
    w.Klarna.Payments.finalize({ payment_method_category: 'pay_later' }, {}, (r: any) => { w.kpResult = r; });
  });
  await expect.poll(() => page.evaluate(() => (window as any).kpResult)).toMatchObject({
    approved: true, show_form: true, finalize_required: false, authorization_token: expect.stringMatching(/^[0-9a-f-]{36}$/),
  });
});

test('an expired Klarna session cannot load, and the cart is kept', async ({ page, request }) => {
  await addToCart(page, 'Sencha Green Tea');
  await payWithKlarna(page);
  const res = await request.post(`${sandboxURL}/control/clock`, { data: { advance: '48h' } });
  expect(res.ok()).toBeTruthy();
  await page.reload();
  await expect(page.getByTestId('klarna-status')).toHaveText('Klarna cannot offer this way to pay for this order. Pick another way, or go back to the checkout to start again.');
  await expect(widget(page).getByTestId('klarna-inline-status')).toHaveText('This Klarna session has expired.');
  await expect(page.getByRole('button', { name: 'Buy with Klarna' })).toBeDisabled();
  expect(await cartCount(page)).toBe(1);
  await payWithKlarna(page); // a new attempt, a new session
});

test('the SDK ignores messages that do not come from the Klarna frame', async ({ page }) => {
  await addToCart(page, 'Sencha Green Tea');
  await payWithKlarna(page);
  await page.evaluate(() => {
    const w = window as any;
    w.kpResults = [];
    w.Klarna.Payments.authorize({ payment_method_category: 'pay_later' }, {}, (r: any) => { w.kpResults.push(r); });
    // A forged approval from the shop's own origin, as an injected script could send.
    window.postMessage({ source: 'klarna-payments-sandbox', type: 'authorized',
      result: { approved: true, show_form: true, authorization_token: 'forged' } }, '*');
  });
  await widget(page).getByRole('button', { name: 'Close and go back to the shop' }).click();
  await expect.poll(() => page.evaluate(() => (window as any).kpResults)).toEqual([{ approved: false, show_form: true }]);
});

test('the SDK throws Klarna\'s errors for bad calls', async ({ page }) => {
  await addToCart(page, 'Sencha Green Tea');
  await payWithKlarna(page);
  const names = await page.evaluate(() => {
    const K = (window as any).Klarna.Payments;
    const out: string[] = [];
    for (const f of [() => K.init({ client_token: 'not-a-jwt' }), () => K.load({ container: '#nowhere', payment_method_category: 'pay_later' }),
      () => K.load({ container: '#klarna-payments-container' })]) {
      try { f(); out.push('no error'); } catch (e: any) { out.push(e.name); }
    }
    return out;
  });
  expect(names).toEqual(['InvalidClientTokenError', 'InvalidContainerSelectorError', 'PaymentMethodCategoryNotProvidedError']);
});

test('no page or log holds a customer token in full', async ({ page, request }) => {
  const masked = await linkedCustomer(page);
  await setting(request, 'klarna_rotate_customer_tokens', true);
  await addToCart(page, 'Sencha Green Tea');
  await payWithKlarna(page);
  noFullToken('the payment page', await page.content(), masked);
  await page.getByRole('button', { name: 'Buy with Klarna' }).click();
  await approve(page);
  noFullToken('the order page', await page.content(), masked);
  await page.goto('/account');
  const rotated = await page.getByTestId('klarna-token').innerText();
  noFullToken('the account page', await page.content(), rotated);
  await page.getByRole('button', { name: 'Unlink Klarna' }).click();
  noFullToken('the account page after unlink', await page.content(), rotated);
  const log = shopLog();
  expect(log).toContain('operation=create_order'); // the log is there, at INFO
  noFullToken('the shop log', log, masked);
  noFullToken('the shop log', log, rotated);
});

async function fault(request: APIRequestContext, data: object): Promise<void> {
  const res = await request.post(`${sandboxURL}/control/faults`, { data });
  expect(res.ok()).toBeTruthy();
}

test('every answer lost: the shop asks Klarna before it speaks, and the customer cannot pay twice', async ({ page, request }) => {
  await addToCart(page, 'Pour-over Dripper');
  await payWithKlarna(page);
  const payPage = page.url();
  // Klarna places the order, and every answer to the shop is lost.
  await fault(request, { operation: 'klarna.create_order', lose_answer: true, times: 5 });
  await loginInWidget(page, 'Jonas Weber');
  await approve(page); // the session says an order was placed: it is
  await expect(page.getByText('Nothing was charged')).toHaveCount(0);
  await expect(page.getByText('confirmation did not reach the shop')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Continue with Klarna' })).toHaveCount(0);
  expect(await cartCount(page)).toBe(0);
  await page.screenshot({ path: `${shots}/9-lost-answers.png`, fullPage: true });
  const state = await sandboxState(request);
  expect(state.calls['klarna.read_session']).toBeGreaterThanOrEqual(1);

  // The widget is not offered again for this attempt.
  await page.goto(payPage);
  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
});

test('an outcome Klarna will not tell is being confirmed, with no second approval', async ({ page, request }) => {
  await addToCart(page, 'Pour-over Dripper');
  await payWithKlarna(page);
  const payPage = page.url();
  await fault(request, { operation: 'klarna.create_order', lose_answer: true, times: 3 });
  await fault(request, { operation: 'klarna.read_session', status: 503, times: 3 });
  await loginInWidget(page, 'Jonas Weber');
  await widget(page).getByTestId('klarna-buy').click();

  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
  await expect(page.getByTestId('klarna-confirming')).toContainText(
    'We are confirming your payment with Klarna. Please do not pay again: this page shows the result as soon as Klarna confirms it.');
  await expect(page.getByText('Nothing was charged')).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Continue with Klarna' })).toHaveCount(0);
  await page.screenshot({ path: `${shots}/10-confirming.png`, fullPage: true });
  await page.goto(payPage);
  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
  await expect(page.getByTestId('klarna-confirming')).toBeVisible();
});

// The shop sends the stored token without asking about it (Klarna documents
// no call to read an account-linking token); Klarna falls back to its login
// and the order returns a new token, which replaces the dead one.
test('a linked account Klarna no longer knows makes Klarna ask for a login, and the purchase links it again', async ({ page, request }) => {
  const before = await linkedCustomer(page);
  await resetSandbox(request); // Klarna forgets every customer token
  await addToCart(page, 'Glass Carafe');
  await payWithKlarna(page);
  await expect(widget(page).getByTestId('klarna-inline-status')).toHaveText('You will log in to Klarna when you place the order.');
  expect((await sandboxState(request)).calls['klarna.customer_token_read'] ?? 0).toBe(0);
  await loginInWidget(page);
  await expect(widget(page).getByRole('checkbox', { name: 'Link my Klarna account to this shop' })).toBeChecked();
  await approve(page);
  await page.goto('/account');
  await expect(page.getByTestId('klarna-token')).toHaveText(/^••••[A-Z2-7]{4}$/);
  await expect(page.getByTestId('klarna-token')).not.toHaveText(before);
});

// deliveries is the sandbox's delivery log (GET /control/deliveries) for
// one operation.
async function deliveries(request: APIRequestContext, operation: string): Promise<any[]> {
  const res = await request.get(`${sandboxURL}/control/deliveries?limit=100`);
  expect(res.ok()).toBeTruthy();
  return ((await res.json()).deliveries as any[]).filter((d) => d.operation === operation);
}

test('an order Klarna holds for review is accepted by Klarna\'s notification, which the shop checks with Klarna, and then ships', async ({ page, request, browser }) => {
  await signUp(page, uniqueEmail('klarna-review'));
  await addToCart(page, 'Stoneware Mug');
  await payWithKlarna(page);
  // The sandbox's persona Rita Review is one Klarna's fraud check holds:
  // create order answers fraud_status PENDING.
  await loginInWidget(page, 'Rita Review');
  await approve(page);
  const main = page.getByRole('main');
  await expect(main).toContainText('Klarna is reviewing this order.');
  const klarnaOrder = await page.getByTestId('provider-reference').innerText();
  const orderID = new URL(page.url()).pathname.split('/').pop()!;

  // The back office will not ship it while Klarna reviews it.
  const officeContext = await browser.newContext();
  const office = await officeContext.newPage();
  await office.goto(`/signin?next=/admin/orders/${orderID}`);
  await office.getByLabel('Email').fill(admin.email);
  await office.getByLabel('Password').fill(admin.password);
  await office.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(office).toHaveURL(new RegExp(`/admin/orders/${orderID}$`));
  const ship = office.getByTestId('admin-ship');
  await expect(ship.getByRole('button', { name: 'Ship' })).toBeDisabled();
  await expect(ship).toContainText('Klarna is reviewing this order (fraud status PENDING)');
  await expectAccessible(office);
  // The authorization callback went too, and the order was placed once.
  await expect.poll(async () => (await deliveries(request, 'klarna.authorization_callback')).length).toBe(1);
  expect((await sandboxState(request)).calls['klarna.create_order']).toBe(1);

  // Klarna's review ends: the sandbox posts the notification to the URL the
  // order carried, and the shop reads the order back before it believes it.
  const res = await request.post(`${sandboxURL}/control/klarna/orders/${klarnaOrder}/fraud`, { data: { fraud_status: 'ACCEPTED' } });
  expect(res.ok(), await res.text()).toBeTruthy();
  await expect.poll(async () => {
    const [d] = await deliveries(request, 'klarna.fraud_notification');
    return d?.attempts?.map((a: any) => a.status);
  }).toEqual([200]);
  const [notification] = await deliveries(request, 'klarna.fraud_notification');
  expect(JSON.parse(notification.body)).toEqual({ order_id: klarnaOrder, event_type: 'FRAUD_RISK_ACCEPTED' });
  // The URL's one-time token is not in the log: only its fingerprint.
  expect(decodeURIComponent(notification.url)).toMatch(/[?&]token=\[redacted /);

  await page.reload();
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  await expect(main).toContainText('Klarna accepted this order after its review.');
  await expect(main).not.toContainText('Klarna is reviewing this order.');
  await page.screenshot({ path: `${shots}/review-accepted.png`, fullPage: true });

  // Now the back office ships it: one capture at Klarna, through Order Management.
  await office.reload();
  await ship.getByRole('button', { name: 'Ship' }).click();
  await expect(office.getByRole('status').first()).toContainText('Klarna captured €18.00');
  await expect(office.getByTestId('order-status')).toHaveText('Paid');
  await expect(office.getByTestId('admin-captured')).toHaveText('€18.00');
  expect((await sandboxState(request)).calls['klarna.om_capture']).toBe(1);
  await expectAccessible(office);
  await office.screenshot({ path: `${shots}/review-shipped-admin.png`, fullPage: true });
  await officeContext.close();
});
