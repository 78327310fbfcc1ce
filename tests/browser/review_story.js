#!/usr/bin/env node
// The whole review story in a real browser: Debian's Chromium, headless, driven by playwright-core.
//
//   AIRLOCK_BINARY=build/cli/airlock AIRLOCK_SCREENSHOT_DIR=build/screenshots node tests/browser/review_story.js
//
// Starts the test OpenID provider (tests/oidc/provider.js) and `airlock serve` on free ports, with a policy
// that sends CSV files holding NHS numbers to a data-approver and an output-checker (2 approvals), then:
//   alice signs in, tabs to the upload button, uploads a CSV with NHS numbers (and one with HTML in its
//     cells) through the page, and sees them escalated with the policy's reason;
//   alice cannot vote on her own transfer: the case page has no vote form, and a forged POST is refused (403);
//   bob signs in, finds the file in his queue, sees the reasons and the preview, and approves;
//   the preview of the HTML-laden CSV shows <script> and <img onerror> as text, and nothing runs;
//   carol approves; the file is released (the bytes are on disk) and alice's pages say released.
// Every page is saved as a PNG in AIRLOCK_SCREENSHOT_DIR. Exit 0: passed; 1: failed; 77: skipped (no browser).
'use strict';

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const kSkip = 77;
const sourceDir = path.resolve(__dirname, '..', '..');
const binary = process.env.AIRLOCK_BINARY || path.join(sourceDir, 'build', 'cli', 'airlock');
const chromium = process.env.AIRLOCK_CHROMIUM || '/usr/bin/chromium';
const screenshotDir = process.env.AIRLOCK_SCREENSHOT_DIR || path.join(os.tmpdir(), 'airlock-screenshots');
const stepTimeout = 20000;

let playwright;
try {
  playwright = require('playwright-core');
} catch {
  console.log('SKIP: playwright-core is not installed (npm ci --prefix tests/browser)');
  process.exit(kSkip);
}
for (const [what, file] of [['Chromium', chromium],
  ['the OpenID provider\'s packages', path.join(sourceDir, 'tests', 'oidc', 'node_modules', 'oidc-provider')]]) {
  if (!fs.existsSync(file)) {
    console.log(`SKIP: ${what} is missing (${file})`);
    process.exit(kSkip);
  }
}
if (!fs.existsSync(binary)) {
  console.log(`FAIL: the airlock binary is missing (${binary}); set AIRLOCK_BINARY`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures.

function log(message) {
  process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Valid NHS numbers: 9 digits and a modulus-11 check digit (10 is not a valid check digit: skipped).
function nhsNumbers(count) {
  const out = [];
  for (let base = 401023200; out.length < count; base += 7) {
    const digits = String(base).split('').map(Number);
    const sum = digits.reduce((total, digit, i) => total + digit * (10 - i), 0);
    let check = 11 - (sum % 11);
    if (check === 11) check = 0;
    if (check === 10) continue;
    out.push(`${base}${check}`);
  }
  return out;
}

const testPolicy = `// The browser test's policy: CSV files with NHS numbers need two reviewers; everything else one.
policy "study-ingress" {
  description "Uploads to the browser test's study"
  applies to upload

  rule nhs_numbers_in_csv {
    escalate to "data-approver", "output-checker" requiring 2 approvals
    when file.extension == "csv" && content.nhs_numbers > 0
    because "the file holds " + string(content.nhs_numbers) + " NHS numbers, so a data approver and an output checker must both agree"
  }

  otherwise escalate to "data-approver" because "every file entering this study is reviewed"
}
`;

function gatewayConfig(issuer, gatewayUrl, clientId, clientSecret) {
  return `# Written by tests/browser/review_story.js
log: {level: info, format: json}
auth:
  public_url: ${gatewayUrl}
  oidc:
    issuer: ${issuer}
    client_id: ${clientId}
    client_secret: ${clientSecret}
    scopes: [openid, profile, email, roles, api]
reviews:
  workspace_url: https://sde.example.org/review/{transfer}?datasource={datasource}
`;
}

// Starts a process and resolves with it once `ready(line)` holds for a line of its standard output.
function start(command, args, options, ready, what) {
  return new Promise((resolve, reject) => {
    const child = childProcess.spawn(command, args, {...options, stdio: ['pipe', 'pipe', 'pipe']});
    const output = [];
    const lines = readline.createInterface({input: child.stdout});
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(new Error(`${what} did not start within 60 s:\n${output.join('\n')}`));
    }, 60000);
    lines.on('line', (line) => {
      output.push(line);
      if (!done && ready(line)) {
        done = true;
        clearTimeout(timer);
        resolve({child, line, output});
      }
    });
    child.stderr.on('data', (chunk) => output.push(String(chunk)));
    child.on('exit', (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) at start:\n${output.join('\n')}`));
    });
  });
}

async function waitFor(condition, what, limit = 30000) {
  const deadline = Date.now() + limit;
  while (Date.now() < deadline) {
    try {
      if (await condition()) return;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ---------------------------------------------------------------------------------------------------------
// The story.

const processes = [];
const checks = [];
function passed(text) {
  checks.push(text);
  log(`ok: ${text}`);
}

async function main() {
  fs.mkdirSync(screenshotDir, {recursive: true});
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-browser-'));
  const policies = path.join(root, 'policies');
  fs.mkdirSync(policies);
  fs.writeFileSync(path.join(policies, 'study.policy'), testPolicy);

  const gatewayPort = await freePort();
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;

  // The OpenID provider, told where the gateway's callback is.
  const provider = await start('node', [path.join(sourceDir, 'tests', 'oidc', 'provider.js'),
                                         '--redirect-uri', `${gatewayUrl}/auth/callback`], {},
                               (line) => line.startsWith('{'), 'the OpenID provider');
  processes.push(provider.child);
  const oidc = JSON.parse(provider.line);
  log(`provider at ${oidc.issuer}`);

  const configPath = path.join(root, 'airlock.yaml');
  fs.writeFileSync(configPath, gatewayConfig(oidc.issuer, gatewayUrl, oidc.client_id, oidc.client_secret));
  const dataDir = path.join(root, 'data');
  const portFile = path.join(root, 'port');
  const gateway = childProcess.spawn(binary, ['serve', '--config', configPath, '--listen', `127.0.0.1:${gatewayPort}`,
                                              '--data', dataDir, '--policies', policies, '--port-file', portFile],
                                     {stdio: ['ignore', 'ignore', fs.openSync(path.join(root, 'gateway.log'), 'a')]});
  processes.push(gateway);
  await waitFor(() => fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').endsWith('\n'), 'the gateway');
  log(`gateway at ${gatewayUrl} (data ${dataDir})`);

  // Plain HTTP checks of the serving: redirect, 404, headers.
  {
    const home = await fetch(`${gatewayUrl}/`, {redirect: 'manual'});
    assert.equal(home.status, 302);
    assert.equal(home.headers.get('location'), '/ui/');
    const unknown = await fetch(`${gatewayUrl}/ui/nothing-here`);
    assert.equal(unknown.status, 404);
    const shell = await fetch(`${gatewayUrl}/ui/reviews`);
    assert.equal(shell.status, 200);
    const csp = shell.headers.get('content-security-policy') || '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(shell.headers.get('x-content-type-options'), 'nosniff');
    const script = await fetch(`${gatewayUrl}/assets/app.js`);
    assert.match(script.headers.get('content-type'), /^text\/javascript/);
    const etag = script.headers.get('etag');
    const again = await fetch(`${gatewayUrl}/assets/app.js`, {headers: {'If-None-Match': etag}});
    assert.equal(again.status, 304);
    const tus = await fetch(`${gatewayUrl}/assets/tus.min.js`);
    assert.equal(tus.status, 200);
    passed('/ redirects to /ui/, unknown pages are 404, pages carry a strict CSP, assets have types and ETags');
  }

  const browser = await playwright.chromium.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    await story(browser, gatewayUrl, dataDir);
  } finally {
    await browser.close();
  }
}

// A browser context (its own cookies) for one user, signed in through the provider's login form.
async function signIn(browser, gatewayUrl, user, problems) {
  const context = await browser.newContext({viewport: {width: 1366, height: 768}});
  context.setDefaultTimeout(stepTimeout);
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
      problems.push(`${user}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`${user}: uncaught ${error.message}`));
  await page.goto(`${gatewayUrl}/ui/`);
  // Signed out: the page sends the browser to the sign-in page, which links to the provider.
  await page.waitForURL(/\/ui\/sign-in/);
  const link = page.getByRole('link', {name: 'Sign in with your organisation account'});
  await link.waitFor();
  if (user === 'alice') await page.screenshot({path: path.join(screenshotDir, '01-sign-in.png'), fullPage: true});
  await link.click();
  // The provider's login form (no login_hint): the user's name, then back to the gateway.
  await page.getByLabel('Username').fill(user);
  await Promise.all([
    page.waitForURL(`${gatewayUrl}/ui/**`),
    page.getByRole('button', {name: 'Sign in'}).click(),
  ]);
  await page.getByText(`Signed in as`).waitFor();
  return {context, page};
}

async function story(browser, gatewayUrl, dataDir) {
  const problems = [];
  const shot = (page, name) => page.screenshot({path: path.join(screenshotDir, `${name}.png`), fullPage: true});

  // --- alice uploads -------------------------------------------------------------------------------
  const alice = await signIn(browser, gatewayUrl, 'alice', problems);
  let page = alice.page;
  await page.waitForURL(`${gatewayUrl}/ui/`);
  passed('alice signed in through the OpenID provider and came back to the upload page');

  // Keyboard only: from the top of the page, Tab reaches the skip link first, then the upload button.
  await page.getByRole('button', {name: 'Upload'}).waitFor();
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Skip to main content');
  let reached = false;
  for (let presses = 0; presses < 30 && !reached; presses += 1) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement && document.activeElement.id === 'upload-button');
  }
  assert.ok(reached, 'Tab never reached the upload button');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'the focused upload button shows no focus outline');
  passed('keyboard: Tab reaches the skip link, then the upload button, which shows a visible focus ring');

  const numbers = nhsNumbers(12);
  const nhsCsv = `patient_nhs_number,hba1c,practice\n${numbers.map((n, i) => `${n},${40 + i},A8100${i % 10}`).join('\n')}\n`;
  const htmlCsv = 'id,note\n1,<script>window.__airlockXss = 1</script>\n2,"<img src=x onerror=""window.__airlockXss = 2"">"\n' +
                  '3,<b>bold</b> & <i>italic</i>\n';
  await page.getByLabel('Workspace').fill('ws-study');
  await page.getByLabel('Data source').fill('ds-study');
  await page.getByLabel('Why these files are needed (optional)').fill('HbA1c audit extract');
  await page.getByLabel('Choose files, or drop them here:').setInputFiles([
    {name: 'hba1c_nhs.csv', mimeType: 'text/csv', buffer: Buffer.from(nhsCsv)},
    {name: 'notes_html.csv', mimeType: 'text/csv', buffer: Buffer.from(htmlCsv)},
  ]);
  await page.getByRole('button', {name: 'Upload 2 files'}).click();
  const nhsItem = page.locator('li.upload[data-file="hba1c_nhs.csv"]');
  await nhsItem.locator('.decision').waitFor();
  await page.locator('li.upload[data-file="notes_html.csv"] .decision').waitFor();
  const nhsOutcome = await nhsItem.textContent();
  assert.match(nhsOutcome, /In review|Waiting for review/, nhsOutcome);
  assert.match(nhsOutcome, /12 NHS numbers, so a data approver and an output checker must both agree/, nhsOutcome);
  assert.equal(await nhsItem.locator('progress').evaluate((bar) => bar.value), 100);
  await shot(page, '02-upload-escalated');
  passed('alice uploaded two CSV files through the page (tus, progress bars) and sees the escalation and its reason');

  const nhsLink = nhsItem.getByRole('link', {name: /Details and history/});
  const nhsId = (await nhsLink.getAttribute('href')).split('/').pop();
  const htmlId = (await page.locator('li.upload[data-file="notes_html.csv"]').getByRole('link', {name: /Details/})
    .getAttribute('href')).split('/').pop();
  assert.match(nhsId, /^[0-9a-f]{32}$/);

  // My transfers: both, with what they wait for.
  await page.getByRole('link', {name: 'My transfers'}).click();
  await page.waitForURL(`${gatewayUrl}/ui/transfers`);
  const nhsRow = page.getByRole('row').filter({hasText: 'hba1c_nhs.csv'});
  await nhsRow.waitFor();
  assert.match(await nhsRow.textContent(), /In review/);
  assert.match(await nhsRow.textContent(), /approval/i);
  await shot(page, '03-my-transfers');
  passed('My transfers lists the upload as in review, with what it waits for');

  // Her own case page: no vote form, and the reason why.
  await page.goto(`${gatewayUrl}/ui/reviews/${nhsId}`);
  await page.getByRole('heading', {name: 'Your decision'}).waitFor();
  assert.equal(await page.locator('form.vote-form').count(), 0, 'alice sees a vote form on her own transfer');
  assert.ok((await page.locator('.cannot-vote').textContent()).length > 0);
  await shot(page, '04-case-requester-cannot-vote');
  // A forged vote through the API with her session (and its CSRF token) is refused; without the token too.
  const forged = await page.evaluate(async (id) => {
    const session = await (await fetch('/auth/session')).json();
    const vote = (headers) => fetch(`/api/v1/transfers/${id}/votes`, {
      method: 'POST', headers: {'Content-Type': 'application/json', ...headers},
      body: JSON.stringify({vote: 'approve', comment: 'looks fine to me', visibility: 'public'}),
    }).then(async (response) => ({status: response.status, body: await response.json().catch(() => null)}));
    return {withToken: await vote({'X-CSRF-Token': session.csrf_token}), withoutToken: await vote({})};
  }, nhsId);
  assert.equal(forged.withToken.status, 403, JSON.stringify(forged));
  assert.equal(forged.withToken.body.error, 'forbidden', JSON.stringify(forged));
  assert.equal(forged.withoutToken.status, 403, JSON.stringify(forged));
  assert.equal(forged.withoutToken.body.error, 'csrf', JSON.stringify(forged));
  passed('alice cannot vote on her own transfer: no form, a forged POST is 403 forbidden (and 403 csrf without the token)');

  // --- bob approves --------------------------------------------------------------------------------
  const bob = await signIn(browser, gatewayUrl, 'bob', problems);
  page = bob.page;
  await page.getByRole('link', {name: 'Reviews'}).click();
  await page.waitForURL(`${gatewayUrl}/ui/reviews`);
  const queueRow = page.getByRole('row').filter({hasText: 'hba1c_nhs.csv'});
  await queueRow.waitFor();
  assert.match(await queueRow.textContent(), /alice/);
  assert.match(await queueRow.textContent(), /0 of 2/);
  assert.ok(await page.getByRole('row').filter({hasText: 'notes_html.csv'}).count() === 1);
  await shot(page, '05-review-queue');
  passed('bob finds both files in his queue, with requester and approvals (0 of 2)');

  await queueRow.getByRole('link', {name: 'hba1c_nhs.csv'}).click();
  await page.waitForURL(`${gatewayUrl}/ui/reviews/${nhsId}`);
  const why = page.locator('section').filter({has: page.getByRole('heading', {name: 'Why it needs review'})});
  await why.waitFor();
  const whyText = await why.textContent();
  assert.match(whyText, /12 NHS numbers/);
  assert.match(whyText, /study-ingress\.nhs_numbers_in_csv/);
  assert.match(whyText, /study\.policy:\d+/);
  const previewCells = page.locator('#preview td');
  await previewCells.first().waitFor();
  assert.ok((await page.locator('#preview').textContent()).includes(numbers[0]));
  assert.match(await page.locator('.roles-missing').textContent(), /data-approver/);
  await shot(page, '06-case-bob-before-vote');
  await page.getByLabel(/^Approve/).check();
  await page.getByLabel('Comment', {exact: true}).first().fill('Pseudonymisation checked with the study protocol.');
  await page.getByRole('button', {name: 'Submit my decision'}).click();
  await page.getByText('Your vote was recorded.').waitFor();
  await page.locator('.roles-filled').filter({hasText: 'bob'}).waitFor();
  await shot(page, '07-case-bob-approved');
  passed('bob sees the reason with its rule and place, a preview and the missing roles, and approves');

  // The HTML-laden CSV: its preview shows the markup as text; nothing runs, no element is created from it.
  await page.goto(`${gatewayUrl}/ui/reviews/${htmlId}`);
  await page.locator('#preview td').first().waitFor();
  const preview = await page.evaluate(() => {
    const box = document.getElementById('preview');
    return {
      text: box.textContent,
      scripts: box.querySelectorAll('script').length,
      images: box.querySelectorAll('img').length,
      bold: box.querySelectorAll('b, i').length,
      ran: window.__airlockXss === undefined ? null : window.__airlockXss,
    };
  });
  assert.ok(preview.text.includes('<script>window.__airlockXss = 1</script>'), preview.text);
  assert.ok(preview.text.includes('<img src=x onerror="window.__airlockXss = 2">'), preview.text);
  assert.deepEqual([preview.scripts, preview.images, preview.bold, preview.ran], [0, 0, 0, null]);
  await shot(page, '08-case-preview-html-as-text');
  passed('CSV cells holding <script> and <img onerror> show as text in the preview; no element is made, nothing runs');

  // The reviewer workspace: requested from the case page, then linked.
  await page.getByRole('button', {name: 'Request a reviewer workspace'}).click();
  const workspaceLink = page.getByRole('link', {name: 'Open the reviewer workspace'});
  await workspaceLink.waitFor();
  assert.equal(await workspaceLink.getAttribute('href'),
               `https://sde.example.org/review/${htmlId}?datasource=ds-study`);
  passed('bob requests a reviewer workspace from the case page and gets its link');

  // --- carol approves: released --------------------------------------------------------------------
  const carol = await signIn(browser, gatewayUrl, 'carol', problems);
  page = carol.page;
  await page.goto(`${gatewayUrl}/ui/reviews`);
  await page.getByRole('row').filter({hasText: 'hba1c_nhs.csv'}).getByRole('link').click();
  await page.waitForURL(`${gatewayUrl}/ui/reviews/${nhsId}`);
  await page.getByLabel(/^Approve/).check();
  await page.getByRole('button', {name: 'Submit my decision'}).click();
  await page.getByText(/Your vote decided the case/).waitFor();
  await page.locator('.badge[data-state="released"]').first().waitFor();
  await shot(page, '09-case-carol-decided');
  passed('carol approves and her vote decides the case');

  const released = path.join(dataDir, 'released', 'ds-study', nhsId, 'hba1c_nhs.csv');
  await waitFor(() => fs.existsSync(released), `the released file ${released}`);
  assert.equal(fs.readFileSync(released, 'utf8'), nhsCsv);
  passed('the released file is on disk with the uploaded bytes');

  // --- alice sees it released ----------------------------------------------------------------------
  page = alice.page;
  await page.goto(`${gatewayUrl}/ui/transfers`);
  const releasedRow = page.getByRole('row').filter({hasText: 'hba1c_nhs.csv'});
  await releasedRow.waitFor();
  assert.match(await releasedRow.textContent(), /Released/);
  await shot(page, '10-my-transfers-released');
  await page.goto(`${gatewayUrl}/ui/transfers/${nhsId}`);
  await page.getByRole('heading', {name: 'History'}).waitFor();
  const summary = await page.locator('main').textContent();
  assert.match(summary, /Released/);
  assert.match(summary, /bob/);
  assert.match(summary, /carol/);
  await shot(page, '11-transfer-released-history');
  passed('alice\'s pages show the transfer released, who reviewed it, and its history');

  // Sign-out ends the session.
  await page.getByRole('button', {name: 'Sign out'}).click();
  await page.waitForURL(/\/ui\/sign-in/);
  const after = await page.evaluate(async () => (await fetch('/auth/session')).json());
  assert.equal(after.signed_in, false);
  passed('sign-out ends the session');

  // Without the provider: the static-token form (the embedded default's sign-in), with the local token.
  const token = fs.readFileSync(path.join(dataDir, 'local-token'), 'utf8').trim();
  const local = await browser.newContext({viewport: {width: 1366, height: 768}});
  const localPage = await local.newPage();
  await localPage.goto(`${gatewayUrl}/ui/sign-in?return_to=%2Fui%2Ftransfers`);
  await localPage.getByLabel('Access token', {exact: true}).fill('not-a-valid-token-0123456789');
  await localPage.getByRole('button', {name: 'Sign in with the token'}).click();
  await localPage.getByText(/Sign-in failed/).waitFor();
  await localPage.getByLabel('Access token', {exact: true}).fill(token);
  await localPage.getByRole('button', {name: 'Sign in with the token'}).click();
  await localPage.waitForURL(`${gatewayUrl}/ui/transfers`);
  await localPage.getByText('Signed in as').waitFor();
  await localPage.getByText('You have no transfers yet.').waitFor();
  await local.close();
  passed('the access-token form refuses a wrong token and signs in with the local token, returning to return_to');

  assert.deepEqual(problems, [], `browser errors:\n${problems.join('\n')}`);
  passed('no Content-Security-Policy violation and no uncaught script error on any page');
  for (const context of [alice.context, bob.context, carol.context]) await context.close();
}

function stopAll() {
  for (const child of processes) {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}

main().then(() => {
  log(`PASS: ${checks.length} checks; screenshots in ${screenshotDir}`);
  stopAll();
  process.exit(0);
}, (error) => {
  log(`FAIL: ${error.stack || error}`);
  stopAll();
  process.exit(1);
});
