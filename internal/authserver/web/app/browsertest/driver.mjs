// driver.mjs drives Debian's Chromium, headless, through playwright-core,
// for the inbox's browser test (e2e/inbox_test.go). The Go test owns the
// scenario and the stack; this script owns the browser. It reads one JSON
// command per line on stdin, {"id", "op", ...}, and answers each on stdout
// with {"id", "ok": true, "result"} or {"id", "ok": false, "error"}.
// Diagnostics go to stderr.
//
// Every page it opens records Content-Security-Policy violations (the
// securitypolicyviolation event and Chromium's console report of them)
// and uncaught errors; the "problems" command returns them, and the test
// fails on any.
//
//   node driver.mjs --chromium /usr/bin/chromium
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const { values: flags } = parseArgs({
  options: { chromium: { type: 'string', default: '/usr/bin/chromium' } },
  strict: true,
});

// The launch flags the project's CI uses for Debian's Chromium. Playwright
// gives each launch a fresh profile (user data) directory under TMPDIR,
// which the Go test points at its own temporary directory.
const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const browser = await chromium.launch({ executablePath: flags.chromium, headless: true, args: LAUNCH_ARGS });
const pages = new Map(); // name → {context, page}
const problems = [];
const historyCounts = new Map(); // page name → {failed, passed} (failHistory)
const heldErrors = new Map(); // page name → sends the error errorOnAck holds (releaseAckError)

function log(...args) {
  process.stderr.write(`driver: ${args.join(' ')}\n`);
}

function get(name) {
  const p = pages.get(name);
  if (!p) throw new Error(`no page ${JSON.stringify(name)}`);
  return p.page;
}

const cardSel = (toolCallId) => `li.card[data-tool-call-id=${JSON.stringify(toolCallId)}]`;

// watchSentStatus records, in the page, the text of card's status once it
// says the decision was sent. The card leaves the page as soon as the
// agent announces the resolution, which can come before the driver would
// look at it, so the page records the status the moment it appears.
async function watchSentStatus(page, card) {
  await page.evaluate((sel) => {
    window.__sentStatus = window.__sentStatus || {};
    delete window.__sentStatus[sel];
    const check = () => {
      const st = document.querySelector(`${sel} .status[data-kind="ok"]`);
      if (st && st.textContent) {
        window.__sentStatus[sel] = st.textContent;
        return true;
      }
      return false;
    };
    if (check()) return;
    const obs = new MutationObserver(() => {
      if (check()) obs.disconnect();
    });
    obs.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  }, card);
}

// sentStatus waits for the status that watchSentStatus recorded.
async function sentStatus(page, card) {
  const h = await page.waitForFunction((sel) => window.__sentStatus && window.__sentStatus[sel], card, { timeout: 10000 });
  return h.jsonValue();
}
const resolvedSel = (toolCallId) => `li.resolved-item[data-tool-call-id=${JSON.stringify(toolCallId)}]`;

// Ran in every page before its own scripts: record CSP violations.
function recordViolations() {
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolation(`${e.violatedDirective}: ${e.blockedURI || 'inline'} (${e.sourceFile || ''}:${e.lineNumber || 0})`);
  });
}

// recordLive, ran in a page before its own scripts, records each text
// that a live region (aria-live, role status or alert) takes, as a screen
// reader would be told of it: {where, text}, where being the region's id
// or class. liveTexts returns them.
function recordLive() {
  window.__live = [];
  const isLive = (el) => el.nodeType === 1 && (el.hasAttribute('aria-live') || ['status', 'alert'].includes(el.getAttribute('role')));
  const watch = () => {
    new MutationObserver((muts) => {
      const seen = new Set();
      for (const m of muts) {
        let el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
        while (el && !isLive(el)) el = el.parentElement;
        if (el && !seen.has(el)) {
          seen.add(el);
          window.__live.push({ where: el.id || el.className, text: el.textContent });
        }
      }
    }).observe(document.documentElement, { subtree: true, childList: true, characterData: true });
  };
  if (document.documentElement) watch();
  else document.addEventListener('DOMContentLoaded', watch);
}

// skewClock, ran in a page before its own scripts, makes the page's clock
// (Date.now) run skewMs ahead of the real one, as on a computer whose
// clock is wrong.
function skewClock(skewMs) {
  const real = Date.now.bind(Date);
  Date.now = () => real() + skewMs;
}

// accessibleName is the name in the first line of an element's aria
// snapshot (`- button "Approve"`, or `- 'button "Reject: x"': Reject…`
// when YAML needs the quotes), unquoted; '' when it has none.
function accessibleName(yaml) {
  let key = yaml.split('\n')[0].slice(2);
  if (key.startsWith("'")) {
    const end = /^'((?:[^']|'')*)'/.exec(key);
    key = end ? end[1].replaceAll("''", "'") : '';
  }
  const m = /^[a-z]+ ("(?:[^"\\]|\\.)*")/.exec(key);
  return m ? JSON.parse(m[1]) : '';
}

// describeFocus, ran in a page, describes the element with the focus.
function describeFocus() {
  const el = document.activeElement;
  if (!el) return { tag: '' };
  const card = el.closest('li.card');
  const by = el.getAttribute('aria-describedby');
  const desc = by ? document.getElementById(by) : null;
  return {
    tag: el.tagName,
    id: el.id,
    class: typeof el.className === 'string' ? el.className : '',
    inPending: Boolean(el.closest('#pending, #pending-title')),
    card: card ? card.dataset.toolCallId : '',
    described: desc ? desc.textContent : '',
    invalid: el.getAttribute('aria-invalid') || '',
  };
}

async function newPage(name, context) {
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`${name}: uncaught error: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Trusted Type/i.test(text)) problems.push(`${name}: console: ${text}`);
    if (msg.type() === 'error') log(`${name} console error: ${text}`);
  });
  pages.set(name, { context, page, tab: false });
  return page;
}

// routeAcks routes the WebSockets page opens from now on through the
// driver, which passes every frame on as it is but Ably's ACK frames
// (action 1), which it hands to onAck(frame, ws, server) instead.
async function routeAcks(page, onAck) {
  await page.routeWebSocket(/.*/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      let action;
      try {
        action = JSON.parse(m).action;
      } catch {
        // not a JSON protocol message: passed on as it is
      }
      if (action === 1) onAck(m, ws, server);
      else ws.send(m);
    });
  });
}

const ops = {
  // open: a new browser context (its own cookies) and page; clockSkewMs
  // sets its clock that far ahead.
  // recordLive records what its live regions say (liveTexts).
  async open({ page: name, viewport, clockSkewMs, recordLive: live }) {
    if (pages.has(name)) throw new Error(`page ${name} is open`);
    const context = await browser.newContext({ viewport: viewport || { width: 1280, height: 800 } });
    await context.exposeBinding('__cspViolation', (_src, text) => problems.push(`${name}: CSP violation: ${text}`));
    await context.addInitScript(recordViolations);
    if (live) await context.addInitScript(recordLive);
    if (clockSkewMs) await context.addInitScript(skewClock, clockSkewMs);
    await newPage(name, context);
    return {};
  },

  // openTab: a second page (tab) in the context of page "of": the same
  // browser, the same cookies and session.
  async openTab({ page: name, of }) {
    if (pages.has(name)) throw new Error(`page ${name} is open`);
    const p = pages.get(of);
    if (!p) throw new Error(`no page ${JSON.stringify(of)}`);
    await newPage(name, p.context);
    pages.get(name).tab = true;
    return {};
  },

  async close({ page: name }) {
    const p = pages.get(name);
    if (p && p.tab) await p.page.close();
    else if (p) await p.context.close();
    pages.delete(name);
    return {};
  },

  async goto({ page: name, url }) {
    const resp = await get(name).goto(url);
    return { status: resp ? resp.status() : 0 };
  },

  // login fills the login form and submits it; it returns the status of
  // the answer and what the page says.
  async login({ page: name, base, user, password }) {
    const page = get(name);
    await page.goto(base);
    await page.fill('#name', user);
    await page.fill('#password', password);
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'),
      page.press('#password', 'Enter'),
    ]);
    // The answer is the inbox (#me) after its redirect, or the login form
    // again with its message (#login-error); anything else (a 403 page)
    // has neither, and the wait ends at its bound.
    await page.waitForSelector('#me, #login-error', { timeout: 15000 }).catch(() => {});
    const error = (await page.locator('#login-error').count()) ? await page.textContent('#login-error') : '';
    const me = (await page.locator('#me').count()) ? await page.textContent('#me') : '';
    const cookies = await page.context().cookies();
    return { status: resp.status(), error: error || '', me: me || '', cookies: cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, secure: c.secure })) };
  },

  // waitConnected waits until the page says it is live and has read the
  // history.
  async waitReady({ page: name, timeoutMs }) {
    const page = get(name);
    await page.waitForSelector('#conn[data-state="connected"]', { timeout: timeoutMs });
    await page.waitForSelector('#loading', { state: 'hidden', timeout: timeoutMs });
    return { conn: await page.textContent('#conn') };
  },

  async waitConn({ page: name, state, timeoutMs }) {
    const page = get(name);
    await page.waitForSelector(`#conn[data-state=${JSON.stringify(state)}]`, { timeout: timeoutMs });
    return { text: await page.textContent('#conn') };
  },

  // watchConn starts recording, in the page, each state the connection
  // line (#conn) shows from now on (at most 100 changes); connStates
  // returns them. A channel that is lost and re-established may show its
  // trouble for less time than a poll would catch.
  async watchConn({ page: name }) {
    await get(name).evaluate(() => {
      const seen = (window.__connStates = []);
      const el = document.getElementById('conn');
      new MutationObserver(() => {
        if (seen.length < 100 && seen[seen.length - 1] !== el.dataset.state) seen.push(el.dataset.state);
      }).observe(el, { attributes: true, attributeFilter: ['data-state'] });
    });
    return {};
  },

  async connStates({ page: name }) {
    return { states: await get(name).evaluate(() => window.__connStates || []) };
  },

  async offline({ page: name, offline }) {
    await get(name).context().setOffline(offline);
    return {};
  },

  // card waits for a request's card and describes it.
  async card({ page: name, toolCallId, timeoutMs }) {
    const page = get(name);
    const card = page.locator(cardSel(toolCallId));
    await card.waitFor({ state: 'visible', timeout: timeoutMs });
    return card.evaluate((el) => {
      const text = (sel) => {
        const n = el.querySelector(sel);
        return n && !n.hidden ? n.textContent : '';
      };
      return {
        tool: text('h3'),
        needs: text('.needs'),
        requester: text('.fact.requester dd'),
        requiredRole: text('.fact.required-role dd'),
        expiresAt: text('.fact.expires-at dd'),
        quorum: text('.fact.quorum dd'),
        escalation: text('.fact.escalation dd'),
        digest: text('.fact.digest summary'),
        digestFull: text('.fact.digest details > code'),
        editable: text('.fact.editable dd'),
        editedBy: text('.fact.edited-by dd'),
        nextEscalation: text('.fact.next-escalation dd'),
        rules: text('.fact.rules dd'),
        rejections: text('.fact.rejections dd'),
        args: text('pre.args'),
        argsWarning: text('.args-warning'),
        countdown: text('.countdown'),
        readOnly: text('.readonly'),
        status: text('.status'),
        buttons: [...el.querySelectorAll('.actions button')].map((b) => b.textContent),
      };
    });
  },

  async text({ page: name, selector, timeoutMs }) {
    return { text: await get(name).locator(selector).textContent({ timeout: timeoutMs || 5000 }) };
  },

  async click({ page: name, selector }) {
    await get(name).click(selector);
    return {};
  },

  async waitSelector({ page: name, selector, timeoutMs }) {
    await get(name).waitForSelector(selector, { timeout: timeoutMs });
    return {};
  },

  // cards waits until the page shows at least one request and returns
  // their tool-call ids, in page order.
  async cards({ page: name, timeoutMs }) {
    const page = get(name);
    await page.locator('li.card').first().waitFor({ timeout: timeoutMs });
    return { toolCallIds: await page.locator('li.card').evaluateAll((els) => els.map((el) => el.dataset.toolCallId)) };
  },

  async count({ page: name, selector }) {
    return { n: await get(name).locator(selector).count() };
  },

  // textChanges reads selector's text, then waits until it changes.
  async textChanges({ page: name, selector, timeoutMs }) {
    const page = get(name);
    const loc = page.locator(selector);
    const first = await loc.textContent({ timeout: timeoutMs });
    await page.waitForFunction(
      ([sel, was]) => {
        const n = document.querySelector(sel);
        return n && n.textContent !== was;
      },
      [selector, first],
      { timeout: timeoutMs },
    );
    return { first, then: await loc.textContent() };
  },

  // watchGone starts recording, in the page, the time (Date.now) at which
  // a request's card leaves the page.
  async watchGone({ page: name, toolCallId }) {
    await get(name).evaluate((sel) => {
      window.__goneAt = window.__goneAt || {};
      const el = document.querySelector(sel);
      if (!el) throw new Error(`no card ${sel} to watch`);
      const obs = new MutationObserver(() => {
        if (!el.isConnected) {
          window.__goneAt[sel] = Date.now();
          obs.disconnect();
        }
      });
      obs.observe(document.getElementById('pending'), { childList: true });
    }, cardSel(toolCallId));
    return {};
  },

  async goneAt({ page: name, toolCallId, timeoutMs }) {
    const page = get(name);
    const sel = cardSel(toolCallId);
    const h = await page.waitForFunction((s) => window.__goneAt && window.__goneAt[s], sel, { timeout: timeoutMs });
    return { at: await h.jsonValue() };
  },

  // press clicks a button of a card ("approve", "reject", "edit") and
  // returns the time of the click in the page (Date.now, taken by a
  // listener when the click event happens).
  async press({ page: name, toolCallId, button }) {
    const page = get(name);
    const btn = page.locator(`${cardSel(toolCallId)} .actions button.${button}`);
    await btn.waitFor({ state: 'visible', timeout: 5000 });
    await btn.evaluate((b) => b.addEventListener('click', () => (window.__clickedAt = Date.now()), { once: true, capture: true }));
    await btn.click();
    return { at: await page.evaluate(() => window.__clickedAt) };
  },

  // rejectByKeyboard rejects with a reason using the keyboard only: the
  // Reject button gets the focus, Enter opens the form (the focus moves
  // into the reason), typing and Enter send it.
  async rejectByKeyboard({ page: name, toolCallId, reason }) {
    const page = get(name);
    const card = cardSel(toolCallId);
    await page.locator(`${card} .actions button.reject`).focus();
    await page.keyboard.press('Enter');
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.className);
    if (!/reason-input/.test(focused)) throw new Error(`after Enter on Reject the focus is on ${JSON.stringify(focused)}, want the reason field`);
    await page.keyboard.type(reason);
    await watchSentStatus(page, card);
    await page.keyboard.press('Enter');
    return { status: await sentStatus(page, card) };
  },

  // editAndApprove opens the edit form, types each text in turn
  // (submitting each), and returns the messages the form showed.
  async editAndApprove({ page: name, toolCallId, attempts }) {
    const page = get(name);
    const card = cardSel(toolCallId);
    await watchSentStatus(page, card);
    await page.locator(`${card} .actions button.edit`).click();
    const errors = [];
    for (const [i, text] of attempts.entries()) {
      await page.locator(`${card} .edit-form .error`).evaluate((el) => (el.textContent = ''));
      await page.fill(`${card} textarea.edit-args`, text);
      await page.click(`${card} button.send-edit`);
      if (i < attempts.length - 1) {
        await page.waitForFunction((sel) => document.querySelector(sel)?.textContent, `${card} .edit-form .error`, { timeout: 5000 });
        errors.push(await page.textContent(`${card} .edit-form .error`));
      }
    }
    return { errors, status: await sentStatus(page, card) };
  },

  async title({ page: name }) {
    return { title: await get(name).title() };
  },

  // focus describes the element that has the keyboard focus: its tag,
  // id and class, the tool-call id of the card it is in, and its
  // described-by text and aria-invalid.
  async focus({ page: name }) {
    return get(name).evaluate(describeFocus);
  },

  // liveTexts returns what the page's live regions said since the last
  // call (open with recordLive), and forgets it.
  async liveTexts({ page: name }) {
    return { texts: await get(name).evaluate(() => (window.__live || []).splice(0)) };
  },

  // focusButton puts the keyboard focus on a card's button ("approve",
  // "reject", "edit") without clicking it.
  async focusButton({ page: name, toolCallId, button }) {
    const page = get(name);
    const btn = page.locator(`${cardSel(toolCallId)} .actions button.${button}`);
    await btn.waitFor({ state: 'visible', timeout: 5000 });
    await btn.focus();
    return page.evaluate(describeFocus);
  },

  // keys presses each key in turn (Playwright's names: "Tab", "Enter",
  // "Escape", "Shift+Tab"; text is typed as it is with type), and
  // describes the focus after.
  async keys({ page: name, keys = [], text = '' }) {
    const page = get(name);
    for (const k of keys) await page.keyboard.press(k);
    if (text) await page.keyboard.type(text);
    return page.evaluate(describeFocus);
  },

  // tabTo puts the focus on the first element `from` matches and presses
  // Tab up to `tabs` times, until the focus is on an element `to` matches:
  // whether it got there, and the focus.
  async tabTo({ page: name, from, to, tabs }) {
    const page = get(name);
    await page.locator(from).first().focus();
    for (let i = 0; i < tabs; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((sel) => Boolean(document.activeElement && document.activeElement.matches(sel)), to)) {
        return { reached: true, ...(await page.evaluate(describeFocus)) };
      }
    }
    return { reached: false, ...(await page.evaluate(describeFocus)) };
  },

  // ariaSnapshot returns Playwright's accessibility snapshot (YAML) of
  // the first element selector matches: roles and names as a screen
  // reader gets them.
  async ariaSnapshot({ page: name, selector }) {
    return { yaml: await get(name).locator(selector).first().ariaSnapshot() };
  },

  // buttonNames lists the pending cards' buttons: the text they show, the
  // name a screen reader says (Chromium's, from its accessibility tree)
  // and the tool call id of their card.
  async buttonNames({ page: name }) {
    const page = get(name);
    const out = [];
    for (const b of await page.locator('#pending button').all()) {
      out.push({
        text: (await b.textContent()).trim(),
        name: accessibleName(await b.ariaSnapshot()),
        card: await b.evaluate((el) => el.closest('li.card')?.dataset.toolCallId || ''),
      });
    }
    return { buttons: out };
  },

  // skipLink sets the viewport, scrolls to the page's end, follows the
  // skip link by keyboard and says where the focus landed: its top and
  // bottom, and the sticky header's bottom, in the window.
  async skipLink({ page: name, width, height }) {
    const page = get(name);
    await page.setViewportSize({ width, height });
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.locator('a.skip').focus();
    await page.keyboard.press('Enter');
    return page.evaluate(() => {
      const el = document.activeElement;
      const r = el.getBoundingClientRect();
      const header = document.querySelector('header.top');
      const stuck = ['sticky', 'fixed'].includes(getComputedStyle(header).position);
      return { id: el.id, top: r.top, bottom: r.bottom, headerBottom: stuck ? header.getBoundingClientRect().bottom : 0 };
    });
  },

  // tabScan sets the viewport, puts the focus on the skip link and
  // presses Tab up to `tabs` times (until the focus leaves the page),
  // listing each element it reached that the sticky header covers in
  // part or whole, and whether the page scrolls sideways.
  async tabScan({ page: name, width, height, tabs }) {
    const page = get(name);
    await page.setViewportSize({ width, height });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.locator('a.skip').focus();
    const covered = [];
    let reached = 0;
    for (let i = 0; i < tabs; i++) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const header = document.querySelector('header.top');
        const r = el.getBoundingClientRect();
        const h = header.getBoundingClientRect();
        const stuck = getComputedStyle(header).position === 'sticky' || getComputedStyle(header).position === 'fixed';
        const under = stuck && !header.contains(el) && r.top < h.bottom && r.bottom > h.top;
        return { what: `${el.tagName}.${el.className}`, under };
      });
      if (!f) break;
      reached++;
      if (f.under) covered.push(f.what);
    }
    const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    return { reached, covered, scrollsSideways: wide };
  },

  // holdAcks routes the WebSockets the page opens from now on through the
  // driver, which holds each of Ably's ACK frames (action 1) for ms before
  // passing it on: a publish stays in flight that long.
  async holdAcks({ page: name, ms }) {
    await routeAcks(get(name), (m, ws) => setTimeout(() => ws.send(m), ms));
    return {};
  },

  // errorOnAck routes the WebSockets the page opens from now on through
  // the driver, which, in place of Ably's first ACK frame (action 1), sends
  // a connection-level ERROR (action 9, no channel) with the error given,
  // as Ably does when it ends a connection for good, and closes the
  // socket: the publish reached Ably, and ably-js fails it with Ably's code
  // as the connection fails. With hold, the error waits for
  // releaseAckError. The connections after it pass through.
  async errorOnAck({ page: name, code, statusCode, message, hold = false }) {
    let done = false;
    await routeAcks(get(name), (m, ws, server) => {
      if (done) {
        ws.send(m);
        return;
      }
      done = true;
      const fail = () => {
        ws.send(JSON.stringify({ action: 9, error: { code, statusCode, message } }));
        server.close();
        ws.close();
      };
      if (hold) heldErrors.set(name, fail);
      else fail();
    });
    return {};
  },

  // releaseAckError sends the error errorOnAck holds in place of the
  // page's ACK, once that ACK has come (within timeoutMs).
  async releaseAckError({ page: name, timeoutMs = 10000 }) {
    const until = Date.now() + timeoutMs;
    while (!heldErrors.has(name)) {
      if (Date.now() > until) throw new Error(`${name}: no ACK held after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    heldErrors.get(name)();
    heldErrors.delete(name);
    return {};
  },

  // failHistory makes the next `times` channel-history reads the page
  // sends fail, as Ably answers when it cannot serve one (500, error
  // 50000), and lets the later ones through; historyReads says how many
  // were failed and how many passed.
  async failHistory({ page: name, times }) {
    const page = get(name);
    const counts = { failed: 0, passed: 0 };
    historyCounts.set(name, counts);
    await page.route(/\/channels\/[^/?]+\/(history|messages)(\?|$)/, async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      if (counts.failed >= times) {
        counts.passed++;
        return route.continue();
      }
      counts.failed++;
      const origin = route.request().headers().origin;
      return route.fulfill({
        status: 500,
        headers: {
          'content-type': 'application/json',
          ...(origin ? { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true' } : {}),
        },
        body: JSON.stringify({ error: { code: 50000, statusCode: 500, message: 'history unavailable (injected by the browser test)' } }),
      });
    });
    return {};
  },

  async historyReads({ page: name }) {
    const counts = historyCounts.get(name);
    if (!counts) throw new Error(`failHistory was not called for page ${JSON.stringify(name)}`);
    return { ...counts };
  },

  // editBox opens a card's edit form, reads the text its box starts with,
  // and closes the form again.
  async editBox({ page: name, toolCallId }) {
    const page = get(name);
    const card = cardSel(toolCallId);
    await page.locator(`${card} .actions button.edit`).click();
    const value = await page.locator(`${card} textarea.edit-args`).inputValue();
    await page.click(`${card} .edit-form button.cancel`);
    return { value };
  },

  async resolvedText({ page: name, toolCallId, timeoutMs }) {
    const page = get(name);
    const loc = page.locator(resolvedSel(toolCallId));
    await loc.waitFor({ timeout: timeoutMs });
    return { text: (await loc.textContent()).replace(/\s+/g, ' ').trim() };
  },

  // layout sets the viewport and reports whether anything overflows it
  // sideways.
  async layout({ page: name, width, height }) {
    const page = get(name);
    await page.setViewportSize({ width, height });
    return page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      fontSize: parseFloat(getComputedStyle(document.body).fontSize),
    }));
  },

  // argsBox measures a card's arguments box: content wider or taller than
  // the box would be hidden behind a scroll bar.
  async argsBox({ page: name, toolCallId, timeoutMs }) {
    const box = get(name).locator(`${cardSel(toolCallId)} pre.args`);
    await box.waitFor({ state: 'visible', timeout: timeoutMs || 10000 });
    return box.evaluate((el) => ({
      scrollWidth: el.scrollWidth,
      clientWidth: el.clientWidth,
      scrollHeight: el.scrollHeight,
      clientHeight: el.clientHeight,
      text: el.textContent,
    }));
  },

  async screenshot({ page: name, path }) {
    await get(name).screenshot({ path, fullPage: true });
    return {};
  },

  // inlineCode counts what the CSP forbids in the live DOM: scripts
  // without src, event-handler attributes, style attributes.
  async inlineCode({ page: name }) {
    return get(name).evaluate(() => {
      const all = [...document.querySelectorAll('*')];
      return {
        inlineScripts: document.querySelectorAll('script:not([src])').length,
        scripts: [...document.querySelectorAll('script[src]')].map((s) => s.getAttribute('src')),
        handlers: all.filter((el) => [...el.attributes].some((a) => /^on/i.test(a.name))).length,
        styles: all.filter((el) => el.hasAttribute('style')).length,
      };
    });
  },

  // probeInline is the check's positive control: it does to the page
  // what an HTML injection would, an inline event handler and an inline
  // style; Trusted Types must refuse the handler, the CSP the style, and
  // the recorder must see both. It returns whether the handler ran, whether
  // setting it threw, and the problems the page recorded (taken out of the
  // list the test checks at the end).
  async probeInline({ page: name }) {
    const page = get(name);
    const refused = await page.evaluate(() => {
      window.__inlineRan = false;
      const img = document.createElement('img');
      let threw = '';
      try {
        img.setAttribute('onerror', 'window.__inlineRan = true');
      } catch (err) {
        threw = String(err && err.name);
      }
      img.setAttribute('src', '/no-such-image.png');
      const p = document.createElement('p');
      p.setAttribute('style', 'color: red');
      document.body.append(img, p);
      return threw;
    });
    // Poll (bounded) for the page's reports of both violations. Each may
    // come twice (the securitypolicyviolation event and the console), and
    // not together: once both kinds are in, reports still on their way
    // are taken for a short while more, so that none is left for the
    // final check of the other pages.
    const mine = [];
    const take = () => {
      for (let i = problems.length - 1; i >= 0; i--) {
        if (problems[i].startsWith(`${name}: `)) mine.unshift(...problems.splice(i, 1));
      }
    };
    const both = () => ['require-trusted-types-for', 'style-src'].every((k) => mine.some((m) => m.includes(k)));
    for (let waited = 0; waited < 5000 && !both(); waited += 25) {
      take();
      if (!both()) await new Promise((r) => setTimeout(r, 25));
    }
    for (let waited = 0; waited < 500; waited += 25) {
      await new Promise((r) => setTimeout(r, 25));
      take();
    }
    const ran = await page.evaluate(() => window.__inlineRan);
    return { ran, refused, problems: mine };
  },

  // forge visits an attacker's page (another site) that sends a request
  // to target on its own, and returns the status the auth server answered.
  async forge({ page: name, url, target }) {
    const page = get(name);
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST', { timeout: 15000 }),
      page.goto(url),
    ]);
    return { status: resp.status(), headers: resp.request().headers() };
  },

  async problems() {
    return { problems: problems.splice(0) };
  },
};

const rl = createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(async () => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch {
      log(`bad command line: ${line}`);
      return;
    }
    const op = ops[cmd.op];
    try {
      if (!op) throw new Error(`unknown op ${cmd.op}`);
      const result = await op(cmd);
      process.stdout.write(JSON.stringify({ id: cmd.id, ok: true, result }) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ id: cmd.id, ok: false, error: err && err.message ? err.message : String(err) }) + '\n');
    }
  });
});
rl.on('close', () => {
  queue.then(() => browser.close()).then(() => process.exit(0));
});
process.stdout.write(JSON.stringify({ id: 0, ok: true, result: { version: browser.version() } }) + '\n');
