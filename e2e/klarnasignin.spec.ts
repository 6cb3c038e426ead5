import { test, expect, addToCart, expectAccessible, resetSandbox, sandboxState, sandboxURL, shopLog, signOut, signUp, traffic, uniqueEmail } from './helpers';
import type { APIRequestContext, FrameLocator, Page } from '@playwright/test';

// Sign in with Klarna: the shop's button, the sandbox's Klarna-styled sign-in
// and consent pages, the callback, accounts made from the verified ID token
// (never joined with another by email), Connect/Disconnect on the account
// page, and the ways a sign-in is refused. Each test starts from a reset
// sandbox; the shop's database lives for the whole run, so every test signs
// in a Klarna identity of its own (any email address signs in at the sandbox).

const shots = process.env.E2E_SCREENSHOTS; // a directory: save screenshots of the flow there
const signInAgain = 'Sign in with Klarna again to skip the Klarna login at checkout.';

async function shot(page: Page, name: string): Promise<void> {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function control(request: APIRequestContext, path: string, body: object): Promise<any> {
  const res = await request.post(`${sandboxURL}/control/${path}`, { data: body });
  expect(res.ok(), `control ${path}: ${await res.text()}`).toBeTruthy();
  return res.json();
}

// atKlarna is the customer on the sandbox's Klarna pages: sign in as email,
// then allow (or not) on the consent page.
async function atKlarna(page: Page, email: string, allow = true, name = 'klarna'): Promise<void> {
  await expect(page).toHaveURL(new RegExp(`^${sandboxURL}/klarna/login/eu/lp/idp/oauth2/auth\\?`));
  await expect(page.getByRole('heading', { name: 'Sign in with Klarna' })).toBeVisible();
  await shot(page, `${name}-signin`);
  const listed = page.getByRole('button', { name: new RegExp(email.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) });
  if (await listed.count()) {
    await listed.click();
  } else {
    await page.getByLabel('Another email address').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await expect(page.getByRole('heading', { name: 'Allow the shop to sign you in?' })).toBeVisible();
  await expect(page.getByTestId('kid-consent-email')).toHaveText(email);
  await shot(page, `${name}-consent`);
  await page.getByRole('button', { name: allow ? 'Allow' : "Don't allow", exact: true }).click();
}

// signInWithKlarna starts at the shop's sign-in page.
async function signInWithKlarna(page: Page, email: string, name?: string): Promise<void> {
  await page.goto('/signin');
  await page.getByRole('button', { name: 'Sign in with Klarna' }).click();
  await atKlarna(page, email, true, name);
}

async function expectConnectedAs(page: Page, klarnaEmail: string): Promise<void> {
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
  await expect(page.getByTestId('klarnasignin-email')).toHaveText(klarnaEmail);
}

test.beforeEach(async ({ request }) => {
  await resetSandbox(request);
});

test('a new customer signs in with Klarna, signs out, and signs in again to the same account', async ({ page, request }) => {
  const email = uniqueEmail('ada.lovelace');
  await page.goto('/signin');
  await shot(page, 'klarna-signin-page');
  await signInWithKlarna(page, email, 'klarna-new');

  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole('status').first()).toContainText('Your account was made with Klarna');
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
  await expectConnectedAs(page, email);
  await expect(page.getByRole('button', { name: 'Disconnect Klarna' })).toHaveCount(0);
  await shot(page, 'klarna-account-new');

  await signOut(page);
  await signInWithKlarna(page, email);
  await expect(page.getByRole('status').first()).toContainText('Signed in with Klarna. Welcome back');
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
  await expectConnectedAs(page, email);

  const state = await sandboxState(request);
  expect(state.calls['klarna.authorize']).toBe(2);
  expect(state.calls['klarna.token_code']).toBe(2);
});

test('a password customer connects Klarna, then signs in with Klarna to the same account, and disconnects', async ({ page, request }) => {
  const shopEmail = uniqueEmail('tess');
  const klarnaEmail = uniqueEmail('tess.klarna');
  await signUp(page, shopEmail);
  await expect(page.getByTestId('klarnasignin-panel')).toHaveCount(0);
  await expect(page.getByText('No payment or sign-in provider is linked to this account.')).toBeVisible();
  await page.getByTestId('klarnasignin-connect').getByRole('button', { name: 'Connect Klarna' }).click();
  await atKlarna(page, klarnaEmail, true, 'klarna-connect');

  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole('status').first()).toContainText('Klarna is connected');
  await expectConnectedAs(page, klarnaEmail);
  await shot(page, 'klarna-account-connected');

  await signOut(page);
  await signInWithKlarna(page, klarnaEmail);
  await expect(page.getByText(`Signed in as ${shopEmail}`)).toBeVisible();

  await page.getByRole('button', { name: 'Disconnect Klarna' }).click();
  await expect(page.getByRole('status').first()).toContainText('Klarna is disconnected');
  await expect(page.getByTestId('klarnasignin-panel')).toHaveCount(0);
  await expect(page.getByTestId('klarnasignin-connect')).toBeVisible();
  // Two revocations: the second sign-in replaced (and revoked) the grant of
  // the first; Disconnect revoked the second.
  expect((await sandboxState(request)).calls['klarna.revoke']).toBe(2);
});

test('Klarna never joins a password account by email alone', async ({ page, browser }) => {
  const email = uniqueEmail('shared');
  await signUp(page, email);
  await signOut(page);

  await signInWithKlarna(page, email);
  await expect(page.getByRole('heading', { name: 'You already have an account with this email' })).toBeVisible();
  await expect(page.getByText('The shop never joins accounts by email alone')).toBeVisible();
  await shot(page, 'klarna-email-taken');
  await expect(page.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible(); // still signed out
});

test('a replayed callback or a forged state is refused with a clear page', async ({ page, request }) => {
  const email = uniqueEmail('forger');
  await page.goto('/signin');
  await page.getByRole('button', { name: 'Sign in with Klarna' }).click();
  const callbackSeen = page.waitForRequest(/\/auth\/klarna\/callback\?/);
  await atKlarna(page, email);
  const callback = (await callbackSeen).url();
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();

  // The same callback again (a back button, a leaked URL): refused.
  let res = await page.goto(callback);
  expect(res?.status()).toBe(400);
  await expect(page.getByRole('heading', { name: 'This sign-in link is not valid' })).toBeVisible();
  await expect(page.getByText('already used')).toBeVisible();
  await shot(page, 'klarna-replayed-callback');

  // A sign-in in progress, and a callback whose state is not its own.
  await signOut(page);
  await page.goto('/signin');
  await page.getByRole('button', { name: 'Sign in with Klarna' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in with Klarna' })).toBeVisible();
  const forged = new URL(callback);
  forged.searchParams.set('state', 'forged-state-1234567890');
  res = await page.goto(forged.toString());
  expect(res?.status()).toBe(400);
  await expect(page.getByRole('heading', { name: 'This sign-in link is not valid' })).toBeVisible();
  await expect(page.getByText('does not match the sign-in this browser started')).toBeVisible();
  await shot(page, 'klarna-forged-state');
  await expect(page.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible(); // nobody signed in
  expect((await sandboxState(request)).calls['klarna.token_code']).toBe(1);
});

test('"Don\'t allow" at Klarna brings the customer back to sign in, nothing changed', async ({ page }) => {
  await page.goto('/signin');
  await page.getByRole('button', { name: 'Sign in with Klarna' }).click();
  await atKlarna(page, uniqueEmail('shy'), false);
  await expect(page).toHaveURL(/\/signin$/);
  await expect(page.getByText('You did not allow the shop to use your Klarna account')).toBeVisible();
});

// --- paying with Klarna after signing in with Klarna ---

function widget(page: Page): FrameLocator {
  return page.frameLocator('iframe[title="Klarna"]');
}

// openKlarnaPayment goes from the checkout to the Klarna payment page.
async function openKlarnaPayment(page: Page): Promise<void> {
  await page.goto('/checkout');
  await page.getByRole('button', { name: 'Pay with Klarna' }).click();
  await expect(page.getByRole('heading', { name: 'Pay with Klarna', level: 1 })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Buy with Klarna' })).toBeEnabled();
}

// buyRecognised approves in the widget with no login step. The account is
// not linked (account linking would recognise the next purchase by itself),
// so each purchase is recognised by the access token alone.
async function buyRecognised(page: Page, name: string): Promise<void> {
  await expect(page.getByTestId('klarnasignin-recognised')).toBeVisible();
  await expect(widget(page).getByTestId('klarna-inline-status')).toContainText('no login needed');
  await page.getByRole('button', { name: 'Buy with Klarna' }).click();
  const w = widget(page);
  await expect(w.getByTestId('klarna-welcome')).toContainText('This shop recognised your Klarna account');
  await expect(w.getByRole('heading', { name: 'Log in to Klarna' })).toBeHidden();
  await shot(page, `${name}-widget-recognised`);
  await w.getByRole('checkbox', { name: 'Link my Klarna account to this shop' }).uncheck();
  await w.getByTestId('klarna-buy').click();
  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
}

test('pay with Klarna recognised, then again after the access token expired: one refresh, still recognised', async ({ page, request }) => {
  const email = uniqueEmail('paula.payer');
  await signInWithKlarna(page, email);
  await addToCart(page, 'Stoneware Mug');
  await openKlarnaPayment(page);
  await shot(page, 'klarna-pay-recognised');
  await buyRecognised(page, 'klarna-pay-1');
  let state = await sandboxState(request);
  expect(state.calls['klarna.token_refresh']).toBe(0); // the sign-in's access token was fresh

  // Five minutes is all an access token lives: move the sandbox clock past it.
  await control(request, 'clock', { advance: '6m' });
  await addToCart(page, 'Sencha Green Tea');
  await openKlarnaPayment(page);
  await buyRecognised(page, 'klarna-pay-2');
  state = await sandboxState(request);
  expect(state.calls['klarna.token_refresh']).toBe(1);

  // The second order's page shows that one refresh among its calls, and
  // the session created with the new access token after it.
  const section = page.getByRole('region', { name: 'How this payment happened' });
  const ops = await section.locator('[data-testid=exchange][data-origin=shop]').evaluateAll((lis) =>
    lis.map((li) => li.getAttribute('data-operation')));
  expect(ops.filter((op) => op === 'token_refresh'), ops.join(' ')).toHaveLength(1);
  expect(ops.indexOf('create_session'), ops.join(' ')).toBeGreaterThan(ops.indexOf('token_refresh'));

  // The account page follows the tokens: the sign-in's refresh token was
  // rotated, replaced by a new one with another fingerprint, and the new
  // access token came from that refresh.
  await page.goto('/account');
  const tokens = page.getByTestId('account-tokens');
  const refresh = tokens.getByTestId('token').filter({ hasText: 'Sign in with Klarna refresh token' });
  await expect(refresh).toHaveCount(2);
  const [before, after] = await refresh.getByTestId('token-fingerprint').allTextContents();
  expect(after).not.toBe(before);
  await expect(refresh.first().getByTestId('token-state')).toContainText(`Rotated: replaced by ${after}`);
  const access = tokens.getByTestId('token').filter({ hasText: 'Sign in with Klarna access token' });
  await expect(access).toHaveCount(2);
  await expect(access.nth(1).getByTestId('token-event').first()).toContainText(`by refreshing ${before}`);
  await shot(page, 'klarnasignin-account-tokens');
  await expectAccessible(page);
});

test('the browser holds only the code and the state, the log not even those, and no token leaves the shop', async ({ page }) => {
  const seen = traffic(page.context());
  const logBefore = shopLog().length;
  const callbacks: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/auth/klarna/callback')) callbacks.push(r.url());
  });
  const email = uniqueEmail('sam.secret');
  await signInWithKlarna(page, email);
  await expectConnectedAs(page, email);
  // Paying sends the access token to Klarna Payments, server to server.
  await addToCart(page, 'Stoneware Mug');
  await openKlarnaPayment(page);
  await buyRecognised(page, 'klarna-secrets');

  const browser = (await seen.text()) + await page.content();
  const log = shopLog().slice(logBefore);
  expect(callbacks).toHaveLength(1);
  const callback = new URL(callbacks[0]);
  const code = callback.searchParams.get('code') ?? '';
  const state = callback.searchParams.get('state') ?? '';
  expect(code.length, 'the callback carried a code').toBeGreaterThan(16);
  expect(state.length, 'the callback carried a state').toBeGreaterThan(16);
  expect(log).toContain('route=/auth/klarna/callback');
  expect(log, 'the shop logged the authorization code').not.toContain(code);
  expect(log, 'the shop logged the state').not.toContain(state);
  // The sandbox's access and refresh tokens are Ory's: ory_at_..., ory_rt_...
  for (const prefix of ['ory_at_', 'ory_rt_']) {
    expect(browser, `the browser received a token ${prefix}...`).not.toContain(prefix);
    expect(log, `the shop logged a token ${prefix}...`).not.toContain(prefix);
  }
  // Nor the ID token: no JWT the browser saw was issued by Klarna's identity
  // service (Klarna Payments' client_token is a JWT meant for the browser).
  for (const jwt of browser.match(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/g) ?? []) {
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
    expect(String(claims.iss ?? ''), 'an ID token reached the browser').not.toContain('/lp/idp');
  }
});

test('a revoked grant asks to sign in with Klarna again, and paying with Klarna still works', async ({ page, request }) => {
  const email = uniqueEmail('rita.revoked');
  await signInWithKlarna(page, email);
  await addToCart(page, 'Glass Carafe');
  // The customer takes the shop's access back in the Klarna app.
  expect((await control(request, 'klarna/login/revoke', { email })).revoked).toBe(1);
  await control(request, 'clock', { advance: '6m' });

  await openKlarnaPayment(page);
  await expect(page.getByRole('status').first()).toHaveText(signInAgain);
  await expect(widget(page).getByTestId('klarna-inline-status')).toHaveText('You will log in to Klarna when you place the order.');
  await shot(page, 'klarna-pay-revoked');
  await expect(page.getByTestId('klarnasignin-recognised')).toHaveCount(0);
  expect((await sandboxState(request)).calls['klarna.token_refresh']).toBe(1);

  await page.goto('/checkout');
  await expect(page.getByTestId('klarnasignin-checkout-notice')).toContainText(signInAgain);
  await page.goto('/account');
  await expect(page.getByTestId('klarnasignin-signin-again')).toHaveText(signInAgain);
  await shot(page, 'klarna-account-signin-again');

  // Checkout carries on: the widget asks the customer to log in.
  await openKlarnaPayment(page);
  await page.getByRole('button', { name: 'Buy with Klarna' }).click();
  const w = widget(page);
  await expect(w.getByRole('heading', { name: 'Log in to Klarna' })).toBeVisible();
  await w.getByRole('radio', { name: /Anna Schmidt/ }).check();
  await w.getByRole('button', { name: 'Continue' }).click();
  await w.getByRole('checkbox', { name: 'Link my Klarna account to this shop' }).uncheck(); // recognition stays the access token's job
  await w.getByTestId('klarna-buy').click();
  await expect(page).toHaveURL(/\/orders\/[a-z0-9]+$/);
  await expect(page.getByTestId('order-status')).toHaveText('Payment authorized');
  // A dead grant is not refreshed again.
  expect((await sandboxState(request)).calls['klarna.token_refresh']).toBe(1);

  // Signing in with Klarna again from the account page brings recognition back.
  await page.goto('/account');
  await page.getByRole('button', { name: 'Sign in with Klarna again' }).click();
  await atKlarna(page, email);
  await expect(page.getByTestId('klarnasignin-signin-again')).toHaveCount(0);
  await addToCart(page, 'Linen Tea Towel');
  await openKlarnaPayment(page);
  await buyRecognised(page, 'klarna-pay-after-revival');
});

test('a grant revoked at Klarna a minute ago is not called recognised', async ({ page, request }) => {
  const email = uniqueEmail('rhea.revoked');
  await signInWithKlarna(page, email);
  await addToCart(page, 'Glass Carafe');
  // The stored access token still has minutes to live, but Klarna no longer
  // knows the grant behind it.
  expect((await control(request, 'klarna/login/revoke', { email })).revoked).toBe(1);

  await openKlarnaPayment(page);
  await expect(page.getByTestId('klarnasignin-recognised')).toHaveCount(0);
  await expect(page.getByRole('status').first()).toHaveText(signInAgain);
  await expect(widget(page).getByTestId('klarna-inline-status')).toHaveText('You will log in to Klarna when you place the order.');
  await shot(page, 'klarna-pay-revoked-minutes-ago');
  const state = await sandboxState(request);
  expect(state.calls['klarna.userinfo']).toBeGreaterThanOrEqual(1); // the shop asked Klarna before it claimed anything
  expect(state.calls['klarna.token_refresh']).toBe(1); // the refused token was dropped, and the refresh found the grant ended
});
