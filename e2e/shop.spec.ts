import { test, expect, addToCart, cartCount, chooseMarket, expectAccessible, password, resetSandbox, signIn, signOut, signUp, tabTo, uniqueEmail, sandboxURL } from './helpers';

test.describe('markets', () => {
  test('pick a market in the header: prices, cart, tax and payment methods change', async ({ page }) => {
    // A first visit shops in Germany.
    await page.goto('/');
    await expect(page.getByLabel('Market')).toHaveValue('de');
    await expect(page.getByText('Prices are in EUR and include VAT.')).toBeVisible();
    await addToCart(page, 'Stoneware Mug');
    await expect(page.getByTestId('total')).toHaveText('€18.00');
    await page.goto('/checkout');
    await expect(page.getByTestId('methods-note')).toContainText('offered in Germany');
    await expect(page.locator('form[action="/checkout/klarna"]')).toBeVisible();
    await expect(page.locator('form[action="/checkout/vipps"]')).toHaveCount(0);
    await expect(page.locator('form[action="/checkout/altpay"]')).toHaveCount(0);
    await expectAccessible(page);

    // Norway: the same cart in NOK with Norwegian VAT; Vipps MobilePay and Klarna.
    await chooseMarket(page, 'Norway (NOK)');
    await expect(page).toHaveURL(/\/checkout$/); // back where the person was
    await expect(page.getByTestId('total')).toHaveText('NOK 229.00');
    await expect(page.getByTestId('tax')).toHaveText('NOK 45.80'); // 25% inside 229.00
    await expect(page.locator('form[action="/checkout/vipps"]')).toBeVisible();
    await expect(page.locator('form[action="/checkout/klarna"]')).toBeVisible();
    await expect(page.locator('form[action="/checkout/altpay"]')).toHaveCount(0);

    // The United States: prices exclude tax; sales tax is added at checkout.
    await chooseMarket(page, 'United States (USD)');
    await expect(page.getByTestId('subtotal')).toHaveText('$19.00');
    await expect(page.getByText('Sales tax (8.25%)')).toBeVisible();
    await expect(page.getByTestId('tax')).toHaveText('$1.57');
    await expect(page.getByTestId('total')).toHaveText('$20.57');
    await expect(page.locator('form[action="/checkout/altpay"]')).toBeVisible();
    await expect(page.locator('form[action="/checkout/klarna"]')).toBeVisible();
    await expect(page.locator('form[action="/checkout/vipps"]')).toHaveCount(0);
    await expectAccessible(page);

    await page.goto('/products/sencha');
    await expect(page.locator('.price.big')).toHaveText('$8.99');
    await expect(page.getByTestId('tax-note')).toHaveText('Plus sales tax, added at checkout.');
    await page.goto('/cart');
    await expect(page.getByTestId('total')).toHaveText('$20.57');
    await expectAccessible(page);
  });

  test('the market picker works with the keyboard alone', async ({ page }) => {
    await page.goto('/');
    const picker = page.getByLabel('Market');
    await tabTo(page, picker);
    await page.keyboard.press('ArrowDown'); // Norway
    await page.keyboard.press('Tab');
    await expect(page.getByRole('button', { name: 'Change', exact: true })).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('status')).toHaveText('You are shopping in Norway: prices are in NOK.');
    await expect(page.getByLabel('Market')).toHaveValue('no');
    await expect(page.locator('.product-card .price').first()).toContainText('NOK');
  });
});

test.describe('browsing and the cart', () => {
  test('browse the catalogue, open a product, add, change and remove', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Things for slow mornings' })).toBeVisible();
    const cards = page.getByRole('list', { name: 'Products' }).getByRole('listitem');
    expect(await cards.count()).toBeGreaterThanOrEqual(8);

    await page.getByRole('link', { name: 'Stoneware Mug' }).click();
    await expect(page.getByRole('heading', { name: 'Stoneware Mug' })).toBeVisible();
    await expect(page.getByText('€18.00')).toBeVisible();
    await expect(page.getByText('Includes 19% VAT.')).toBeVisible();
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add Stoneware Mug to cart' }).click();

    await expect(page.getByRole('heading', { name: 'Your cart' })).toBeVisible();
    await expect(page.getByRole('status')).toHaveText('Added Stoneware Mug to your cart.');
    const mug = page.locator('tr[data-product="stoneware-mug"]');
    await expect(mug).toContainText('€36.00');
    await expect(page.getByTestId('total')).toHaveText('€36.00');
    await expect(page.getByTestId('tax')).toHaveText('€5.75'); // 3600 - 3600/1.19

    await addToCart(page, 'Dark Chocolate 72%');
    await expect(page.getByTestId('total')).toHaveText('€39.99');
    await expect(page.getByTestId('tax')).toHaveText('€6.01'); // 5.75 + 0.26 (7%)
    expect(await cartCount(page)).toBe(3);

    await page.getByLabel('Quantity of Stoneware Mug').fill('3');
    await mug.getByRole('button', { name: 'Update' }).click();
    await expect(page.getByTestId('total')).toHaveText('€57.99');

    await page.getByRole('button', { name: 'Remove Dark Chocolate 72%' }).click();
    await expect(page.getByTestId('total')).toHaveText('€54.00');
    await page.getByRole('button', { name: 'Remove Stoneware Mug' }).click();
    await expect(page.getByText('Your cart is empty.')).toBeVisible();
  });

  test('a bad quantity is refused with a message and the input kept', async ({ page }) => {
    await page.goto('/products/sencha');
    await page.getByLabel('Quantity').fill('150');
    await page.getByRole('button', { name: 'Add Sencha Green Tea to cart' }).click();
    await expect(page.getByText('You can order at most 99 of one product.')).toBeVisible();
    await expect(page.getByLabel('Quantity')).toHaveValue('150');
    await expect(page.getByLabel('Quantity')).toHaveAttribute('aria-invalid', 'true');

    await addToCart(page, 'Sencha Green Tea');
    await page.getByLabel('Quantity of Sencha Green Tea').fill('-4');
    await page.locator('tr[data-product="sencha"]').getByRole('button', { name: 'Update' }).click();
    await expect(page.getByText('The quantity must be at least 0.')).toBeVisible();
    await expect(page.getByLabel('Quantity of Sencha Green Tea')).toHaveValue('-4');
    // Nothing was lost: the cart still holds the one tea.
    await page.goto('/cart');
    await expect(page.getByLabel('Quantity of Sencha Green Tea')).toHaveValue('1');
  });

  test('unknown products and pages answer a calm 404', async ({ page }) => {
    const res = await page.goto('/products/no-such-thing');
    expect(res?.status()).toBe(404);
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
    const res2 = await page.goto('/nowhere');
    expect(res2?.status()).toBe(404);
  });
});

test.describe('accounts', () => {
  test('sign up, sign out, sign in: the cart is kept', async ({ page }) => {
    const email = uniqueEmail();
    await addToCart(page, 'Glass Carafe');
    expect(await cartCount(page)).toBe(1);

    await signUp(page, email);
    await expect(page.getByTestId('no-orders')).toBeVisible();
    expect(await cartCount(page)).toBe(1);

    await signOut(page);
    expect(await cartCount(page)).toBe(0);

    // A guest cart made while signed out is merged into the account's cart.
    await addToCart(page, 'Linen Tea Towel');
    await signIn(page, email);
    expect(await cartCount(page)).toBe(2);
    await page.goto('/cart');
    await expect(page.locator('tr[data-product="carafe"]')).toBeVisible();
    await expect(page.locator('tr[data-product="tea-towel"]')).toBeVisible();
  });

  test('sign-up errors are shown with the input kept', async ({ page }) => {
    await page.goto('/signup');
    await page.getByLabel('Name').fill('Ada');
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByText('Enter an email address like name@example.com.')).toBeVisible();
    await expect(page.getByText('Use at least 10 characters.')).toBeVisible();
    await expect(page.getByLabel('Name')).toHaveValue('Ada');
    await expect(page.getByLabel('Email')).toHaveValue('not-an-email');
    await expect(page.getByLabel('Password')).toHaveValue('');

    const email = uniqueEmail();
    await signUp(page, email);
    await signOut(page);
    await page.goto('/signup');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByText('An account with this email already exists.')).toBeVisible();
  });

  test('wrong credentials get one calm message that does not say whether the email exists', async ({ page }) => {
    const email = uniqueEmail();
    await signUp(page, email);
    await signOut(page);

    const messages: string[] = [];
    for (const [who, pw] of [[email, 'wrong password!'], [uniqueEmail('nobody'), 'wrong password!']]) {
      await page.goto('/signin');
      await page.getByLabel('Email').fill(who);
      await page.getByLabel('Password').fill(pw);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      const alert = page.getByRole('alert');
      await expect(alert).toBeVisible();
      messages.push(await alert.innerText());
      await expect(page.getByLabel('Email')).toHaveValue(who);
    }
    expect(messages[0]).toBe(messages[1]);
    expect(messages[0]).toContain('do not match an account');
  });

  test('the account page names the payment method only for orders that were paid', async ({ page, request }) => {
    await resetSandbox(request);
    await signUp(page, uniqueEmail('paid-with'));
    await chooseMarket(page, 'Norway (NOK)'); // where Vipps MobilePay is offered
    await addToCart(page, 'Glass Carafe');
    const payWithVipps = async (answer: 'Approve' | 'Reject', status: string): Promise<string> => {
      await page.goto('/checkout');
      await page.getByRole('button', { name: 'Pay with Vipps MobilePay' }).click();
      // Vipps's landing page, not the shop, asks for the number.
      if (answer === 'Approve') await page.getByLabel('Your mobile number').fill('912 34 567');
      await page.getByRole('button', { name: answer }).click();
      await expect(page.getByTestId('order-status')).toHaveText(status);
      return new URL(page.url()).pathname;
    };
    const cancelled = await payWithVipps('Reject', 'Cancelled');
    const authorized = await payWithVipps('Approve', 'Payment authorized'); // captured when it ships

    await page.goto('/account');
    const orders = page.getByRole('table', { name: 'Your orders' });
    const row = (path: string) => orders.getByRole('row').filter({ has: page.locator(`a[href="${path}"]`) });
    await expect(row(authorized)).toContainText('Vipps MobilePay');
    await expect(row(authorized)).toContainText('Payment authorized');
    await expect(row(authorized)).toContainText('NOK 349.00'); // an order keeps its market's currency
    await expect(row(cancelled)).toContainText('Cancelled');
    await expect(row(cancelled)).not.toContainText('Vipps MobilePay');
  });

  test('the account page needs a signed-in user', async ({ page }) => {
    await page.goto('/account');
    await expect(page).toHaveURL(/\/signin\?next=%2Faccount|\/signin\?next=\/account/);
  });
});

test.describe('checkout', () => {
  test('keyboard only: from the catalogue to the checkout', async ({ page }) => {
    await page.goto('/');
    await tabTo(page, page.getByRole('button', { name: 'Add Pour-over Dripper to cart' }));
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { name: 'Your cart' })).toBeVisible();
    await tabTo(page, page.getByRole('link', { name: 'Go to checkout' }));
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { name: 'Checkout' })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Your order' })).toBeVisible();
    await expect(page.getByRole('rowheader', { name: 'Pour-over Dripper' })).toBeVisible();
    await expect(page.getByTestId('total')).toHaveText('€24.90');
    // The skip link is the first stop and lands on the main content.
    await page.goto('/');
    await page.keyboard.press('Tab');
    await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  });

  test('an empty cart cannot check out', async ({ page }) => {
    await page.goto('/checkout');
    await expect(page.getByRole('heading', { name: 'Your cart' })).toBeVisible();
    await expect(page.getByRole('status')).toContainText('Your cart is empty');
  });
});

test.describe('protection', () => {
  test('a cross-origin form post is refused', async ({ request }) => {
    const res = await request.post('/cart/items', {
      form: { product_id: 'sencha', quantity: '1' },
      headers: { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' },
      maxRedirects: 0,
    });
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain('sent from another site');
  });

  test('pages carry a nonce CSP and no inline handlers', async ({ page }) => {
    const res = await page.goto('/');
    const csp = res?.headers()['content-security-policy'] ?? '';
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res?.headers()['x-content-type-options']).toBe('nosniff');
    expect(await page.content()).not.toMatch(/\son[a-z]+="/);
  });

  test('health check and the sandbox index answer', async ({ request, page }) => {
    const res = await request.get('/healthz');
    expect(res.status()).toBe(200);
    await page.goto(sandboxURL);
    await expect(page.getByRole('heading', { name: 'Provider sandbox' })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Control API' })).toBeVisible();
  });
});

test('no request leaves localhost on any shop or sandbox page', async ({ page }) => {
  // The auto fixture in helpers.ts checks this on every test; this test walks
  // every kind of page on purpose, so the check covers them all.
  const seen = new Set<string>();
  page.on('request', (req) => seen.add(new URL(req.url()).hostname));
  await page.goto('/');
  await page.goto('/products/carafe');
  await page.getByRole('button', { name: 'Add Glass Carafe to cart' }).click();
  await page.goto('/checkout');
  await page.goto('/signup');
  await page.goto('/signin');
  await page.goto('/no-such-page');
  await page.goto(sandboxURL);
  expect([...seen].filter((h) => h !== 'localhost' && h !== '127.0.0.1')).toEqual([]);
  expect(seen.has('localhost')).toBeTruthy();
});
