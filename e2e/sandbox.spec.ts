import { test, expect, expectAccessible, resetSandbox, sandboxState, sandboxURL } from './helpers';

// The sandbox's control API is for tools, tests and people at a terminal,
// never for a web page: a page on another origin used to post a text/plain
// body to /control/settings (a "simple" request, sent without a preflight),
// set klarna_auto_consent to an attacker's identity, and the victim's next
// "Sign in with Klarna" signed them in as the attacker. The sandbox now
// refuses cross-origin writes and takes only JSON, while tools (which send no
// Origin) steer it as before. Each test starts from a reset sandbox.

// The attacker's page lives on another origin and another site: 127.0.0.1 is
// not localhost. Playwright answers it (no server listens there), so nothing
// leaves the machine.
const evilOrigin = 'http://127.0.0.1:18099';
const attacker = 'attacker@example.com';

test.beforeEach(async ({ request }) => {
  await resetSandbox(request);
});

test.afterEach(async ({ request }) => {
  await resetSandbox(request);
});

test('a page on another site cannot steer the sandbox, so Sign in with Klarna still asks who you are', async ({ page, request }) => {
  await page.route(`${evilOrigin}/**`, (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><title>You won</title>
      <form id="reset" method="post" enctype="text/plain" action="${sandboxURL}/control/reset">
        <button name='{"x":"' value='"}'>Claim your prize</button>
      </form>`,
  }));
  await page.goto(`${evilOrigin}/prize`);

  // The attack: fetch with mode no-cors and a text/plain JSON body, a
  // "simple" request sent without a preflight. Chromium may block it itself
  // (a public-looking page calling localhost); when it does reach the
  // sandbox, the sandbox answers 403. Either way nothing changes.
  const answers: number[] = [];
  page.on('response', (r) => {
    if (r.url() === `${sandboxURL}/control/settings`) answers.push(r.status());
  });
  const sent = await page.evaluate(async ({ url, email }) => {
    try {
      await fetch(url, {
        method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' },
        body: JSON.stringify({ klarna_auto_consent: email }),
      });
      return true;
    } catch {
      return false; // the browser refused to send it
    }
  }, { url: `${sandboxURL}/control/settings`, email: attacker });
  if (sent) await expect.poll(() => answers).toEqual([403]);
  expect((await sandboxState(request)).settings.klarna_auto_consent).toBe('');

  // A form post from the same page does not reset the sandbox either.
  const set = await request.post(`${sandboxURL}/control/settings`, { data: { klarna_access_token_ttl: '90s' } });
  expect(set.status()).toBe(200);
  const reset = page.waitForResponse((r) => r.url() === `${sandboxURL}/control/reset`);
  await page.getByRole('button', { name: 'Claim your prize' }).click();
  expect((await reset).status()).toBe(403);
  expect((await sandboxState(request)).settings.klarna_access_token_ttl).toBe('1m30s');

  // The victim signs in with Klarna: Klarna asks who they are.
  await page.goto('/signin');
  await page.getByRole('button', { name: 'Sign in with Klarna' }).click();
  await expect(page).toHaveURL(new RegExp(`^${sandboxURL}/klarna/login/eu/lp/idp/oauth2/auth\\?`));
  await expect(page.getByRole('heading', { name: 'Sign in with Klarna' })).toBeVisible();
  await expect(page.getByText(attacker)).toHaveCount(0);
});

test('tools steer the sandbox with JSON, and nothing else', async ({ request }) => {
  const json = await request.post(`${sandboxURL}/control/settings`, { data: { klarna_auto_consent: 'anna.schmidt@example.com' } });
  expect(json.status()).toBe(200);
  expect((await json.json()).settings.klarna_auto_consent).toBe('anna.schmidt@example.com');

  const text = await request.post(`${sandboxURL}/control/settings`, {
    headers: { 'Content-Type': 'text/plain' }, data: JSON.stringify({ klarna_auto_consent: attacker }),
  });
  expect(text.status()).toBe(415);
  expect((await text.json()).error).toContain('application/json');
  expect((await sandboxState(request)).settings.klarna_auto_consent).toBe('anna.schmidt@example.com');

  // DELETE /control/faults/{operation} drops that operation's pending faults.
  const fault = await request.post(`${sandboxURL}/control/faults`, { data: { operation: 'vipps.create_payment', status: 503, times: 3 } });
  expect(fault.status()).toBe(200);
  expect((await sandboxState(request)).faults['vipps.create_payment'].times).toBe(3);
  const cleared = await request.delete(`${sandboxURL}/control/faults/vipps.create_payment`);
  expect(cleared.status()).toBe(200);
  expect((await sandboxState(request)).faults['vipps.create_payment']).toBeUndefined();
});

// A person sees on the index what tools set, and clears a fault there.
test('the index lists pending faults, and Clear drops one', async ({ page, request }) => {
  const fault = await request.post(`${sandboxURL}/control/faults`, { data: { operation: 'altpay.create_invoice', status: 503, times: 2 } });
  expect(fault.status()).toBe(200);
  await page.goto(sandboxURL + '/');
  const row = page.getByTestId('faults').getByRole('row').filter({ hasText: 'altpay.create_invoice' });
  await expect(row).toContainText('status 503, the next 2 call(s)');
  await expectAccessible(page);
  await row.getByRole('button', { name: 'Clear the faults of altpay.create_invoice' }).click();
  await expect(page.getByTestId('no-faults')).toBeVisible();
  expect((await sandboxState(request)).faults['altpay.create_invoice']).toBeUndefined();
});

// Klarna's two regions are two merchant accounts on two bases: each answers
// only its own credentials and serves only its own countries, and a session's
// payment method categories follow its market. (API calls only: the shop's
// Klarna specs drive the widget.)
test('Klarna: each region answers only its own account and offers its market’s categories', async ({ request }) => {
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  const eu = basic('PK_sandbox_refshop', process.env.E2E_KLARNA_PASSWORD ?? 'sandbox-klarna-api-key');
  const na = basic('PN_sandbox_refshop', process.env.E2E_KLARNA_NA_PASSWORD ?? 'sandbox-klarna-na-api-key');
  const session = (country: string, currency: string, locale: string) => ({
    purchase_country: country, purchase_currency: currency, locale, order_amount: 1000, order_tax_amount: 0,
    order_lines: [{ name: 'Tea towel', quantity: 1, unit_price: 1000, tax_rate: 0, total_amount: 1000, total_tax_amount: 0 }],
  });
  const create = (base: string, auth: string, body: object) =>
    request.post(`${sandboxURL}${base}/payments/v1/sessions`, { headers: { Authorization: auth }, data: body });

  const de = await create('/klarna/api', eu, session('DE', 'EUR', 'en-DE'));
  expect(de.status()).toBe(200);
  expect((await de.json()).payment_method_categories.map((c: any) => c.identifier)).toEqual(['pay_later', 'pay_now', 'pay_over_time']);
  const us = await create('/klarna/api-na', na, session('US', 'USD', 'en-US'));
  expect(us.status()).toBe(200);
  expect((await us.json()).payment_method_categories.map((c: any) => c.identifier)).toEqual(['pay_over_time', 'pay_later']);

  expect((await create('/klarna/api-na', eu, session('US', 'USD', 'en-US'))).status()).toBe(401);
  expect((await create('/klarna/api', na, session('DE', 'EUR', 'en-DE'))).status()).toBe(401);
  const wrongRegion = await create('/klarna/api', eu, session('US', 'USD', 'en-US'));
  expect(wrongRegion.status()).toBe(400);
  expect((await wrongRegion.json()).error_code).toBe('BAD_VALUE');
  const wrongLocale = await create('/klarna/api', eu, session('NO', 'NOK', 'de-DE'));
  expect((await wrongLocale.json()).error_messages[0]).toMatch(/^Bad value: locale/);
});
