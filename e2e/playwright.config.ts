import { defineConfig } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// Ports are configurable so several suites can run side by side:
// E2E_SHOP_PORT (default 18080) and E2E_SANDBOX_PORT (default 18081).
const shopPort = process.env.E2E_SHOP_PORT ?? '18080';
const sandboxPort = process.env.E2E_SANDBOX_PORT ?? '18081';
export const shopURL = `http://localhost:${shopPort}`;
export const sandboxURL = `http://localhost:${sandboxPort}`;
process.env.E2E_SANDBOX_URL = sandboxURL; // read by the specs' helpers in every worker

// A fresh data dir per run: a new database, new keys, nothing left over. The
// directory is made once, in the runner process, and handed to the workers
// through the environment.
if (!process.env.E2E_DATA_DIR) {
  process.env.E2E_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'refshop-e2e-'));
}
const bin = path.join(__dirname, '.cache', 'shop');
// The secret scan (cmd/secretscan), built with the shop: the specs' fixture
// keeps copies of the sandbox's store with it, and global-teardown.ts scans
// the data dir with it after the last spec.
process.env.E2E_SECRETSCAN = path.join(__dirname, '.cache', 'secretscan');

// The run's provider credentials: fresh values, not the built-in defaults,
// so the specs check the secrets this shop really holds (helpers.ts
// credentials()) instead of copies of the defaults. In sandbox mode the
// sandbox accepts exactly what the shop is configured with. Made once in the
// runner process and handed to the workers and the shop through the
// environment.
const credentialNames = [
  'KLARNA_PASSWORD', 'KLARNA_NA_PASSWORD', 'KLARNA_CLIENT_SECRET', 'VIPPS_CLIENT_SECRET', 'VIPPS_SUBSCRIPTION_KEY',
  'ALTPAY_CLIENT_SECRET',
];
for (const name of credentialNames) {
  process.env[`E2E_${name}`] ??= randomBytes(16).toString('hex');
}
process.env.E2E_CREDENTIALS = credentialNames.join(',');

// The shop's log (its stderr) is also kept in shop.log in the data dir, at
// INFO unless E2E_LOG_LEVEL says otherwise, so specs can check what it logged
// (no secret may ever reach it). The runner's own output shows warnings and
// errors only, as before, unless E2E_LOG_LEVEL is set.
process.env.E2E_SHOP_LOG = path.join(process.env.E2E_DATA_DIR, 'shop.log');
const logLevel = process.env.E2E_LOG_LEVEL ?? 'INFO';
const quiet = process.env.E2E_LOG_LEVEL ? '' : ` | grep --line-buffered -v -e ' level=INFO ' -e ' level=DEBUG '`;

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  // One worker: the specs share one shop and one sandbox whose settings,
  // clock and faults are global, so they run one after another.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  // After every spec: no secret of the run in the shop's database, log or
  // pages (cmd/secretscan). It runs before the shop is stopped.
  globalTeardown: './global-teardown.ts',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  use: {
    baseURL: shopURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      // Debian's Chromium; Playwright's own browser download cannot run here.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      // These flags keep Chromium from calling Google's services, which this
      // machine's closed network refuses (and a test must not depend on).
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `go build -o "${bin}" ../cmd/shop && go build -o "${process.env.E2E_SECRETSCAN}" ../cmd/secretscan && "${bin}" 2>&1 >/dev/null | tee "${process.env.E2E_SHOP_LOG}"${quiet} >&2`,
    url: `${shopURL}/healthz`,
    reuseExistingServer: false,
    timeout: 180_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      SHOP_ADDR: `localhost:${shopPort}`,
      SANDBOX_ADDR: `localhost:${sandboxPort}`,
      SHOP_DATA_DIR: process.env.E2E_DATA_DIR,
      LOG_LEVEL: logLevel,
      // The back office's administrator (helpers.ts admin), made at start.
      SHOP_ADMIN_EMAIL: 'admin@refshop.example',
      SHOP_ADMIN_PASSWORD: 'correct horse battery admin',
      ...Object.fromEntries(credentialNames.map((name) => [name, process.env[`E2E_${name}`]!])),
    },
  },
});
