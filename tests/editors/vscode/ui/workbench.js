// Driving real VS Code (code-server's web workbench) with playwright-core and Debian's Chromium.
// Keyboard first: mouse clicks on menus are swallowed by VS Code's context-view overlay.

'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const STATUS_ID = 'little-coder.little-coder.littleCoder.status';

class Workbench {
  constructor(browser, page, options) {
    this.browser = browser;
    this.page = page;
    this.workspace = options.workspace;
    this.artifacts = options.artifacts;
    this.prefix = options.prefix;
    this.started = Date.now();
    this.shots = [];
  }

  static async open(options) {
    const browser = await chromium.launch({
      executablePath: options.chromium || '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    const bench = new Workbench(browser, page, options);
    page.on('pageerror', (error) => bench.note(`pageerror ${String(error).slice(0, 300)}`));
    await page.goto(`${options.url}/?folder=${encodeURIComponent(options.workspace)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 90000 });
    await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 60000 });
    bench.note('workbench up');
    return bench;
  }

  note(text) {
    process.stderr.write(`[${((Date.now() - this.started) / 1000).toFixed(1)}s] ${text}\n`);
  }

  async close() {
    await this.browser.close();
  }

  /** A PNG under the artifacts folder: the proof a person looks at. `settle` lets a notification
   * finish sliding in first. */
  async shot(name, settle = 0) {
    if (settle) {
      await this.page.waitForTimeout(settle);
    }
    const file = path.join(this.artifacts, `${this.prefix}-${name}.png`);
    await this.page.screenshot({ path: file });
    this.shots.push(file);
    this.note(`screenshot ${path.basename(file)}`);
    return file;
  }

  async waitFor(what, predicate, ms = 30000, every = 200) {
    const end = Date.now() + ms;
    let last;
    while (Date.now() < end) {
      last = await predicate();
      if (last) {
        return last;
      }
      await this.page.waitForTimeout(every);
    }
    throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  }

  // --- files and editors -------------------------------------------------------------------------

  async openFile(name) {
    const row = this.page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
    await row.waitFor({ timeout: 30000 });
    await row.click();
    await this.page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 30000 });
    await this.page.waitForSelector('.monaco-editor .view-lines', { timeout: 30000 });
  }

  /** The active editor's visible text (Monaco renders spaces as no-break spaces). */
  async editorText() {
    const text = await this.page.locator('.editor-group-container.active .monaco-editor .view-lines').innerText();
    return text.replace(/\u00a0/g, ' ');
  }

  async clickLine(index) {
    await this.page.locator('.editor-group-container.active .monaco-editor .view-line').nth(index).click();
  }

  readDisk(relative) {
    const file = path.join(this.workspace, relative);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  }

  async waitForDisk(relative, predicate, ms = 20000) {
    return this.waitFor(`${relative} on disk`, () => {
      const text = this.readDisk(relative);
      return text !== undefined && predicate(text);
    }, ms);
  }

  /** Save every modified file (the palette's Save All: new files the edit created are not open in an editor). */
  async saveAll() {
    await this.runCommand('File: Save All Files');
  }

  /** Dirty editors show a dot instead of the close button. */
  async dirtyTabs() {
    return this.page.locator('.tabs-container .tab.dirty').allInnerTexts();
  }

  // --- status bar and notifications --------------------------------------------------------------

  async statusText() {
    const item = this.page.locator(`[id="${STATUS_ID}"]`);
    return (await item.count()) ? (await item.innerText()).trim() : '';
  }

  async waitForStatus(pattern, ms = 30000) {
    return this.waitFor(`status bar ${pattern}`, async () => {
      const text = await this.statusText();
      return pattern.test(text) ? text : undefined;
    }, ms, 100);
  }

  async notifications() {
    return this.page.locator('.notification-toast').allInnerTexts();
  }

  async waitForNotification(pattern, ms = 30000) {
    return this.waitFor(`notification ${pattern}`, async () => {
      const texts = await this.notifications();
      return texts.find((t) => pattern.test(t.replace(/\s+/g, ' ')));
    }, ms, 100);
  }

  notification(pattern) {
    return this.page.locator('.notification-toast', { hasText: pattern });
  }

  async clearNotifications() {
    await this.runCommand('Notifications: Clear All Notifications');
  }

  // --- menus, palette, inputs ----------------------------------------------------------------------

  /** Open the Quick Fix menu (Ctrl+.) with the cursor on `line`; retry as VS Code sometimes ignores it. */
  async quickFixMenu(line) {
    for (let attempt = 1; ; attempt++) {
      await this.page.keyboard.press('Escape');
      await this.clickLine(line);
      await this.page.keyboard.press('Home');
      await this.page.waitForTimeout(400);
      await this.page.keyboard.press('Control+.');
      try {
        await this.page.locator('.action-widget >> visible=true').first().waitFor({ timeout: 5000 });
        await this.page.waitForTimeout(300);
        return this.page.locator('.action-widget .monaco-list-row.action').allInnerTexts();
      } catch (error) {
        this.note(`quick fix menu not shown (attempt ${attempt})`);
        if (attempt >= 4) {
          throw error;
        }
      }
    }
  }

  /** Move the menu's focus to the action whose text matches, then run it. */
  async pickAction(pattern) {
    const rows = this.page.locator('.action-widget .monaco-list-row.action');
    const texts = await rows.allInnerTexts();
    const index = texts.findIndex((t) => pattern.test(t));
    if (index < 0) {
      throw new Error(`no action ${pattern} in ${JSON.stringify(texts)}`);
    }
    for (let step = 0; step < texts.length + 1; step++) {
      const focused = await this.page.locator('.action-widget .monaco-list-row.action.focused').allInnerTexts();
      if (focused.length && pattern.test(focused[0])) {
        await this.page.keyboard.press('Enter');
        return;
      }
      await this.page.keyboard.press('ArrowDown');
    }
    throw new Error(`could not focus ${pattern}`);
  }

  /** Run a command by its palette title. */
  async runCommand(title) {
    await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('F1');
    const input = this.page.locator('.quick-input-widget .quick-input-box input').first();
    await input.waitFor({ timeout: 10000 });
    await input.fill(`>${title}`);
    const row = this.page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ timeout: 10000 });
    await this.page.waitForTimeout(200);
    await this.page.keyboard.press('Enter');
  }

  /** Answer an input box (window.showInputBox). */
  async answerInput(text, screenshotName) {
    const input = this.page.locator('.quick-input-widget .quick-input-box input').first();
    await input.waitFor({ state: 'visible', timeout: 10000 });
    await input.fill(text);
    if (screenshotName) {
      await this.shot(screenshotName);
    }
    await this.page.keyboard.press('Enter');
  }
}

module.exports = { Workbench };
