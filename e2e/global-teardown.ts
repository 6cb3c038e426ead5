import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

// globalTeardown runs cmd/secretscan (built with the shop, see
// playwright.config.ts) on the run's data dir once every spec has run: no
// merchant credential and no token the sandbox issued may be in the shop's
// database, its log or a page it served (helpers.ts keeps them), save the
// few the protocol gives the browser on its pages. The scan fails the run
// when it finds one, and also when it could not fail (no log, no page, no
// secret to look for): a run whose shop never started proves nothing.
export default async function globalTeardown(): Promise<void> {
  const bin = process.env.E2E_SECRETSCAN!;
  const dataDir = process.env.E2E_DATA_DIR!;
  if (!fs.existsSync(bin)) {
    throw new Error(`secret scan: ${bin} is missing: the shop and the scan were never built, so this run proves nothing`);
  }
  try {
    const out = execFileSync(bin, ['-data', dataDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    console.log(out.trim());
  } catch (err: any) {
    throw new Error(`secret scan of ${dataDir} failed (exit ${err.status}):\n${err.stdout ?? ''}${err.stderr ?? err.message}`);
  }
}
