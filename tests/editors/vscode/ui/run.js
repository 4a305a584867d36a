// One end-to-end scenario in real VS Code: `node run.js config.json`. The config names the scenario,
// the code-server URL, the workspace and what to expect; the result (what was seen on screen) goes to
// stdout as one JSON line, screenshots to the artifacts folder. pytest checks the files on disk.

'use strict';

const fs = require('fs');
const { Workbench } = require('./workbench');
const review = require('./review');

const TURN = /little-coder: implement `is_leap`: turn \d+\/\d+/;

/** Ctrl+. on the stub → the implement action → progress → the review in the editor. */
async function implementToReview(wb, seen) {
  await wb.openFile('leap.py');
  seen.idleStatus = await wb.waitForStatus(/^\S*\s*little-coder$/, 60000);
  await wb.shot('01-workspace');
  seen.menu = await wb.quickFixMenu(0);
  await wb.shot('02-quick-fix-menu');
  await wb.pickAction(/Ask little-coder to implement `is_leap`/);
  seen.progress = await wb.waitForNotification(TURN, 30000);
  await wb.shot('03-progress', 300);
  seen.statusTurn = await wb.waitForStatus(/little-coder: (turn \d+\/\d+|write guard)/, 20000);
  seen.statusFlash = await wb.waitForStatus(/little-coder: write guard: leap\.py/, 20000);
  await wb.shot('04-status-flash');
  seen.review = await review.waitForRows(wb);
  await wb.shot('05-review');
}

const scenarios = {
  async implementApply(wb, config, seen) {
    await implementToReview(wb, seen);
    // Everything accepted as proposed: Apply applies at once.
    await review.runReviewCommand(wb, 'Apply the review');
    await wb.waitFor('leap.py to change in the editor', async () =>
      (await wb.editorText()).includes('return year % 4 == 0'));
    seen.dirtyAfterApply = await wb.dirtyTabs();
    await wb.saveAll();
    await wb.waitForDisk('leap.py', (text) => text.includes('return year % 4 == 0'));
    seen.diskAfterApply = wb.readDisk('leap.py');
    seen.statusAfterApply = await wb.waitForStatus(/little-coder: applied/, 15000);
    await wb.shot('07-applied-and-saved');

    await wb.runCommand('little-coder: Undo last session');
    seen.undoMessage = await wb.waitForNotification(/undo of .*: undid its changes to leap\.py/, 15000);
    seen.statusAfterUndo = await wb.waitForStatus(/little-coder: undone/, 10000);
    await wb.shot('08-undo-message', 700);
    await wb.waitFor('the undo in the editor', async () =>
      (await wb.editorText()).includes('NotImplementedError'));
    await wb.saveAll();
    await wb.waitForDisk('leap.py', (text) => text === config.original);
    await wb.shot('09-undone-and-saved');

    // The status-bar item opens the log: the session's transcript, the server's own lines, ours.
    await wb.page.locator('[id="little-coder.little-coder.littleCoder.status"]').click();
    // Maximized, the panel shows the whole session, the review's lines after it included.
    await wb.runCommand('View: Toggle Maximized Panel');
    seen.log = await wb.waitFor('the transcript in the output panel', async () => {
      const text = (await wb.page.locator('.part.panel .monaco-editor .view-lines').first().innerText().catch(() => ''))
        .replace(/\u00a0/g, ' ');
      return text.includes('done after 3 turns') ? text : undefined;
    }, 15000);
    await wb.shot('10-log', 300);
  },

  async implementDiscard(wb, config, seen) {
    await implementToReview(wb, seen);
    await review.runReviewCommand(wb, 'Discard the review');
    seen.statusAfterDiscard = await wb.waitForStatus(/little-coder: discarded/, 15000);
    seen.discardMessage = await wb.waitForNotification(/discarded/, 10000);
    await wb.page.waitForTimeout(1000);
    seen.dirtyAfterDiscard = await wb.dirtyTabs();
    seen.editorText = await wb.editorText();
    seen.diskAfterDiscard = wb.readDisk('leap.py');
    seen.previewGone = (await wb.page.locator('.monaco-diff-editor').count()) === 0;
    await wb.shot('06-discarded', 700);

    // "Revise…" sends the discarded hunks back to the agent with a comment; its new proposal is applied.
    await wb.notification(/discarded/).getByRole('button', { name: 'Revise…' }).click();
    await wb.answerInput(config.comment, '07-revise-comment');
    seen.reviseProgress = await wb.waitForNotification(/little-coder: revise: implement `is_leap`/, 30000);
    seen.revisePreview = await review.waitForRows(wb);
    await wb.shot('08-revised-review');
    await review.runReviewCommand(wb, 'Apply the review');
    await wb.waitFor('the revision in the editor', async () => (await wb.editorText()).includes('calendar.isleap'));
    await wb.saveAll();
    await wb.waitForDisk('leap.py', (text) => text.includes('calendar.isleap'));
    seen.statusAfterRevise = await wb.waitForStatus(/little-coder: applied/, 15000);
    await wb.shot('09-revision-applied-and-saved');
  },

  async askNewFile(wb, config, seen) {
    // The workspace starts with a base URL where nothing listens.
    await wb.openFile('notes.md');
    seen.idleStatus = await wb.waitForStatus(/^\S*\s*little-coder$/, 60000);
    await wb.runCommand('little-coder: Ask…');
    await wb.answerInput(config.instruction, '01-ask-input');
    seen.unreachable = await wb.waitForNotification(/little-coder: .*(no model server answered|cannot connect)/, 30000);
    seen.unreachableButtons = await wb.notification(/no model server answered|cannot connect/)
      .locator('.monaco-button').allInnerTexts();
    seen.statusUnreachable = await wb.waitForStatus(/little-coder: failed/, 10000);
    await wb.shot('02-model-server-unreachable', 700);
    await wb.clearNotifications();

    // Fix the setting in the workspace's settings file; VS Code notices and the server is told.
    fs.writeFileSync(config.settingsFile, JSON.stringify(config.fixedSettings, null, 2));
    await wb.page.waitForTimeout(2500);
    await wb.runCommand('little-coder: Ask…');
    await wb.answerInput(config.instruction);
    seen.progress = await wb.waitForNotification(/little-coder: Create greet\.py.*: turn \d+\/\d+/, 30000);
    await wb.shot('03-progress', 300);
    seen.preview = await review.waitForRows(wb);
    await wb.shot('04-review-new-file');
    await review.runReviewCommand(wb, 'Apply the review');
    // The new file arrives as a modified editor; Save All writes it.
    await wb.page.locator('.tabs-container .tab', { hasText: 'greet.py' }).waitFor({ timeout: 20000 });
    seen.dirtyAfterApply = await wb.dirtyTabs();
    await wb.saveAll();
    await wb.waitForDisk('greet.py', (text) => text.includes('def greet('));
    seen.statusAfterApply = await wb.waitForStatus(/little-coder: applied/, 15000);
    await wb.page.locator('.tabs-container .tab', { hasText: 'greet.py' }).click();
    await wb.shot('05-new-file-applied-and-saved', 300);
  },

  async cancel(wb, config, seen) {
    await wb.openFile('leap.py');
    seen.idleStatus = await wb.waitForStatus(/^\S*\s*little-coder$/, 60000);
    await wb.quickFixMenu(0);
    await wb.pickAction(/Ask little-coder to implement `is_leap`/);
    seen.progress = await wb.waitForNotification(/little-coder: implement `is_leap`/, 30000);
    await wb.waitForStatus(/little-coder: turn 1\/\d+/, 20000);
    await wb.shot('01-running');
    await wb.notification(/implement `is_leap`/).getByRole('button', { name: 'Cancel' }).click();
    seen.statusAfterCancel = await wb.waitForStatus(/little-coder: cancelled/, 20000);
    seen.notificationsAfterCancel = await wb.notifications();
    await wb.shot('02-cancelled');

    // A second session, stopped from the command palette this time.
    await wb.quickFixMenu(0);
    await wb.pickAction(/Ask little-coder to implement `is_leap`/);
    await wb.waitForStatus(/little-coder: turn 1\/\d+/, 20000);
    await wb.runCommand('little-coder: Cancel');
    seen.statusAfterPaletteCancel = await wb.waitForStatus(/little-coder: cancelled/, 20000);
    await wb.page.waitForTimeout(500);
    seen.notificationsAfterPaletteCancel = await wb.notifications();
    await wb.shot('03-cancelled-from-palette');
  },

  async serverMissing(wb, config, seen) {
    seen.missing = await wb.waitForNotification(/littleCoder\.server\.command is .*not an executable/, 60000);
    seen.missingButtons = await wb.notification(/littleCoder\.server\.command/).locator('.monaco-button').allInnerTexts();
    seen.statusMissing = await wb.waitForStatus(/server not found/, 10000);
    await wb.shot('01-server-not-found', 700);
    await wb.clearNotifications();

    // A Python without little-coder-lsp: the server starts and dies at once.
    fs.writeFileSync(config.settingsFile, JSON.stringify(config.brokenPythonSettings, null, 2));
    seen.failed = await wb.waitForNotification(/exited with code \d+ before it was ready/, 60000);
    seen.statusFailed = await wb.waitForStatus(/server failed/, 10000);
    await wb.shot('02-server-failed-to-start', 700);
  },
};

// The in-editor review's scenarios live in their own file.
Object.assign(scenarios, require('./review').scenarios);

async function main() {
  const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const scenario = scenarios[config.scenario];
  if (!scenario) {
    throw new Error(`unknown scenario ${config.scenario}`);
  }
  const wb = await Workbench.open(config);
  const seen = {};
  try {
    await scenario(wb, config, seen);
    process.stdout.write(`${JSON.stringify({ ok: true, seen, screenshots: wb.shots })}\n`);
  } catch (error) {
    await wb.shot('failure').catch(() => undefined);
    const failure = { ok: false, error: String((error && error.stack) || error), seen, screenshots: wb.shots };
    process.stdout.write(`${JSON.stringify(failure)}\n`);
    process.exitCode = 1;
  } finally {
    await wb.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack || error}\n`);
  process.exitCode = 2;
});
