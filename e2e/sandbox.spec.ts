import { test, expect, resetSandbox, sandboxState, sandboxURL } from './helpers';

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
