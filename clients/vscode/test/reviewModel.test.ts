import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ReviewFile,
  ReviewHunk,
  ReviewModel,
  ReviewParams,
  isReviewParams,
  isReviewUpdate,
  locateChanges,
  splitLines,
} from '../src/reviewModel';

// leap.py as the user holds it, and the agent's session: an import at the top, the body rewritten,
// and a conflict on the docstring the user edited while the agent worked.
const CURRENT = 'def is_leap(year):\n    """Mine."""\n    raise NotImplementedError\n';

function hunk(fields: Partial<ReviewHunk> & Pick<ReviewHunk, 'id' | 'startLine' | 'endLine' | 'oldText' | 'newText'>): ReviewHunk {
  return { kind: 'change', bothText: null, label: fields.id, reason: '', dependsOn: [], ...fields };
}

const IMPORT = hunk({ id: 'h1', startLine: 0, endLine: 0, oldText: '', newText: 'import itertools\n\n',
  label: 'leap.py: line 1 (+2)' });
const DOC = hunk({ id: 'h2', kind: 'conflict', startLine: 1, endLine: 2, oldText: '    """Mine."""\n',
  newText: '    """Agent."""\n', bothText: '    """Mine."""\n    """Agent."""\n',
  reason: 'you edited these lines while the agent worked' });
const BODY = hunk({ id: 'h3', startLine: 2, endLine: 3, oldText: '    raise NotImplementedError\n',
  newText: '    return any(itertools.repeat(year % 4 == 0, 1))\n', dependsOn: [{ hunk: 'h1', names: ['itertools'] }] });

function leap(hunks: ReviewHunk[] = [IMPORT, DOC, BODY]): ReviewFile {
  return { uri: 'file:///w/leap.py', path: 'leap.py', created: false, version: 3, currentText: CURRENT, hunks };
}

function params(files: ReviewFile[] = [leap()]): ReviewParams {
  return { sessionId: 's1', title: 'implement is_leap', label: 'little-coder: implement is_leap', unfinished: null,
    testCommand: 'pytest -q', files };
}

const URI = 'file:///w/leap.py';

/** The reply with its lists read back as maps, to compare. */
function reply(model: ReviewModel, action: 'apply' | 'discard' = 'apply'): unknown {
  const result = model.result(action);
  return { action: result.action, decisions: Object.fromEntries(result.decisions.map((d) => [d.hunk, d.choice])),
    edited: Object.fromEntries(result.edited.map((e) => [e.hunk, e.text])) };
}

test('a review opens with every change accepted and every conflict at "mine"', () => {
  const model = new ReviewModel(params());
  assert.deepEqual(reply(model), { action: 'apply', decisions: { h1: 'accept', h2: 'mine', h3: 'accept' },
    edited: {} });
  assert.equal(model.stateWords('h2'), 'conflict: keeping yours');
  assert.equal(model.position('h3'), 3);
  assert.equal(model.summary(), '2 changes: 2 accepted, 0 rejected · 1 conflict');
});

test('the proposal holds what Apply writes, and where each hunk sits in it', () => {
  const model = new ReviewModel(params());
  const first = model.proposal(URI);
  assert.equal(first.text, 'import itertools\n\ndef is_leap(year):\n    """Mine."""\n'
    + '    return any(itertools.repeat(year % 4 == 0, 1))\n');
  assert.deepEqual(first.regions, [{ id: 'h1', start: 0, end: 2 }, { id: 'h2', start: 3, end: 4 },
    { id: 'h3', start: 4, end: 5 }]);
  model.decide('h1', 'reject');
  model.decide('h2', 'both');
  const second = model.proposal(URI);
  assert.equal(second.text, 'def is_leap(year):\n    """Mine."""\n    """Agent."""\n'
    + '    return any(itertools.repeat(year % 4 == 0, 1))\n');
  assert.deepEqual(second.regions, [{ id: 'h1', start: 0, end: 0 }, { id: 'h2', start: 1, end: 3 },
    { id: 'h3', start: 3, end: 4 }]);
});

test('decisions must fit the hunk: accept/reject on changes, mine/agent/both on conflicts', () => {
  const model = new ReviewModel(params());
  assert.equal(model.decide('h2', 'accept'), false);
  assert.equal(model.decide('h1', 'both'), false);
  assert.equal(model.decide('nope', 'accept'), false);
  assert.equal(model.decide('h2', 'agent'), true);
  model.decideAll(false);
  assert.deepEqual((reply(model) as { decisions: unknown }).decisions, { h1: 'reject', h2: 'mine', h3: 'reject' });
  model.decideAll(true);
  assert.deepEqual((reply(model) as { decisions: unknown }).decisions, { h1: 'accept', h2: 'mine', h3: 'accept' });
});

test('partial: anything but every change accepted unedited with no conflict', () => {
  const clean = new ReviewModel(params([leap([IMPORT, BODY])]));
  assert.equal(clean.isPartial(), false);
  clean.decide('h1', 'reject');
  assert.equal(clean.isPartial(), true);
  assert.equal(new ReviewModel(params()).isPartial(), true, 'a conflict always makes it partial');
});

test('a dependency left out is named before applying', () => {
  const model = new ReviewModel(params());
  assert.deepEqual(model.dependencyProblems(), []);
  model.decide('h1', 'reject');
  assert.deepEqual(model.dependencyProblems(),
    ['leap.py line 3 uses itertools, which leap.py line 1 adds and your selection leaves out']);
  model.decide('h3', 'reject');
  assert.deepEqual(model.dependencyProblems(), [], 'a rejected user of the name needs nothing');
});

test('typing inside a hunk edits its text; a rejected change becomes accepted, a "mine" conflict the agent\'s side', () => {
  const model = new ReviewModel(params());
  // Line 4 (0-based) is the body: change "% 4" to "% 400".
  const before = model.proposal(URI).text;
  const at = before.split('\n')[4].indexOf('% 4') + 3;
  const after = before.replace('% 4 ==', '% 400 ==');
  assert.deepEqual(model.applyUserEdit(URI, [{ startLine: 4, startCharacter: at, endLine: 4, endCharacter: at,
    text: '00' }], after), ['h3']);
  assert.equal(model.edited('h3'), '    return any(itertools.repeat(year % 400 == 0, 1))\n');
  assert.equal(model.proposal(URI).text, after);
  assert.equal(model.stateWords('h3'), 'accepted, edited');

  // Typing in the conflict kept as "mine": the user's new version becomes the agent's side, edited.
  const text = model.proposal(URI).text;
  const ours = text.replace('Mine.', 'Ours.');
  assert.deepEqual(model.applyUserEdit(URI, [{ startLine: 3, startCharacter: 7, endLine: 3, endCharacter: 11,
    text: 'Ours' }], ours), ['h2']);
  assert.equal(model.decision('h2'), 'agent');
  assert.deepEqual((reply(model) as { edited: unknown }).edited, { h2: '    """Ours."""\n',
    h3: '    return any(itertools.repeat(year % 400 == 0, 1))\n' });

  // Typing the agent's text back removes the edit.
  model.decide('h1', 'reject');
  const rejected = model.proposal(URI).text;
  assert.deepEqual(model.applyUserEdit(URI, [{ startLine: 0, startCharacter: 0, endLine: 0, endCharacter: 0,
    text: 'import itertools\n\n' }], `import itertools\n\n${rejected}`), ['h1']);
  assert.equal(model.decision('h1'), 'accept');
  assert.equal(model.edited('h1'), undefined);
});

test('an edit outside every hunk, or joining a hunk with the line after it, is refused', () => {
  const model = new ReviewModel(params([leap([IMPORT, BODY])]));
  const before = model.proposal(URI).text; // import, blank, def, docstring, body
  const outside = before.replace('def is_leap', 'def is_leap2');
  assert.equal(model.applyUserEdit(URI, [{ startLine: 2, startCharacter: 11, endLine: 2, endCharacter: 11,
    text: '2' }], outside), undefined);
  // Deleting the hunk's blank line is an edit of the hunk; then deleting the terminator of its last
  // line joins it with `def`, a line of the file: refused.
  const joined = before.replace('import itertools\n\n', 'import itertools\n');
  assert.deepEqual(model.applyUserEdit(URI, [{ startLine: 1, startCharacter: 0, endLine: 2, endCharacter: 0,
    text: '' }], joined), ['h1']);
  assert.equal(model.proposal(URI).text, joined, 'removing a whole line of the hunk is an edit of it');
  const merged = joined.replace('import itertools\ndef', 'import itertoolsdef');
  assert.equal(model.applyUserEdit(URI, [{ startLine: 0, startCharacter: 16, endLine: 1, endCharacter: 0,
    text: '' }], merged), undefined);
  assert.equal(model.proposal(URI).text, joined, 'a refused edit changes nothing');
});

test('changes are located by region; insertions at a region\'s edges belong to it', () => {
  const regions = [{ id: 'a', start: 0, end: 2 }, { id: 'b', start: 4, end: 4 }];
  assert.deepEqual([...locateChanges(regions, [{ startLine: 1, startCharacter: 3, endLine: 1, endCharacter: 3,
    text: 'x\ny\n' }])!], [['a', 2]]);
  assert.deepEqual([...locateChanges(regions, [{ startLine: 4, startCharacter: 0, endLine: 4, endCharacter: 0,
    text: 'z\n' }])!], [['b', 1]]);
  assert.deepEqual([...locateChanges(regions, [{ startLine: 2, startCharacter: 0, endLine: 2, endCharacter: 0,
    text: 'w\n' }])!], [['a', 1]]);
  assert.equal(locateChanges(regions, [{ startLine: 3, startCharacter: 1, endLine: 3, endCharacter: 1, text: 'q' }]),
    undefined);
});

test('reviewUpdate keeps decisions and edits by id; a change that became a conflict starts at "mine"', () => {
  const model = new ReviewModel(params());
  model.decide('h1', 'reject');
  model.decide('h2', 'agent');
  const text = model.proposal(URI).text;
  model.applyUserEdit(URI, [{ startLine: 2, startCharacter: 0, endLine: 2, endCharacter: 0, text: '    # x\n' }],
    text.replace('    return', '    # x\n    return'));
  assert.equal(model.edited('h3'), '    # x\n    return any(itertools.repeat(year % 4 == 0, 1))\n');
  // The user typed a line above the function: every hunk moves down; the body became a conflict.
  const moved = (h: ReviewHunk, kind = h.kind): ReviewHunk => ({ ...h, kind, startLine: h.startLine + 1,
    endLine: h.endLine + 1 });
  const next: ReviewFile = { ...leap(), currentText: `# top\n${CURRENT}`,
    hunks: [moved(DOC), moved(BODY, 'conflict'), hunk({ id: 'h4', startLine: 4, endLine: 4, oldText: '',
      newText: 'x = 1\n' })] };
  model.update(next);
  assert.deepEqual(reply(model), { action: 'apply', decisions: { h2: 'agent', h3: 'mine', h4: 'accept' },
    edited: {} });
  assert.equal(model.hunk('h1'), undefined, 'a hunk that vanished is gone');
  assert.ok(model.proposal(URI).text.startsWith('# top\n'));
});

test('the reply sends edits only with hunks whose agent side is applied', () => {
  const model = new ReviewModel(params());
  const text = model.proposal(URI).text;
  model.applyUserEdit(URI, [{ startLine: 0, startCharacter: 0, endLine: 0, endCharacter: 0, text: '# a\n' }],
    `# a\n${text}`);
  assert.deepEqual((reply(model) as { edited: unknown }).edited, { h1: '# a\nimport itertools\n\n' });
  model.decide('h1', 'reject');
  assert.deepEqual(reply(model, 'discard'), { action: 'discard', decisions: { h1: 'reject', h2: 'mine', h3: 'accept' },
    edited: {} });
});

test('lines keep their terminators; payloads are checked before use', () => {
  assert.deepEqual(splitLines('a\r\nb\nc'), ['a\r\n', 'b\n', 'c']);
  assert.deepEqual(splitLines(''), []);
  assert.equal(isReviewParams(params()), true);
  assert.equal(isReviewParams({ sessionId: 's', files: [{ uri: 'x' }] }), false);
  assert.equal(isReviewUpdate({ sessionId: 's1', file: leap() }), true);
});

test('on the wire decisions and edits are lists of {hunk, choice} and {hunk, text}', () => {
  const model = new ReviewModel(params([leap([IMPORT])]));
  model.applyUserEdit(URI, [{ startLine: 0, startCharacter: 0, endLine: 0, endCharacter: 0, text: '#\n' }],
    `#\n${model.proposal(URI).text}`);
  assert.deepEqual(model.result('apply'), { action: 'apply', decisions: [{ hunk: 'h1', choice: 'accept' }],
    edited: [{ hunk: 'h1', text: '#\nimport itertools\n\n' }] });
});
