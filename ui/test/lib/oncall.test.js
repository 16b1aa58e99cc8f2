import { test } from 'node:test';
import assert from 'node:assert/strict';
import { userColor, USER_COLORS, place, dayTicks, toLocalInput, fromLocalInput, hourStart } from '../../src/lib/oncall.js';

test('userColor is stable per user and falls back to a hash for unknown names', () => {
  const users = ['ann', 'bob'];
  assert.equal(userColor(users, 'ann'), USER_COLORS[0]);
  assert.equal(userColor(users, 'bob'), USER_COLORS[1]);
  assert.equal(userColor(users, 'zed'), userColor([], 'zed'));
});

test('place clips segments to the window and skips ones outside', () => {
  assert.deepEqual(place(0, 50, 0, 100), { left: 0, width: 50 });
  assert.deepEqual(place(-10, 20, 0, 100), { left: 0, width: 20 });
  assert.deepEqual(place(90, 200, 0, 100), { left: 90, width: 10 });
  assert.equal(place(100, 200, 0, 100), null);
  assert.equal(place(5, 5, 0, 100), null);
});

test('dayTicks lists the local midnights inside the window', () => {
  const start = new Date(2026, 0, 5, 9, 0).getTime();
  const ticks = dayTicks(start, start + 3 * 86400e3);
  assert.equal(ticks.length, 3);
  assert.equal(new Date(ticks[0].ms).getHours(), 0);
  assert.ok(ticks[0].left > 0 && ticks[2].left < 100);
  assert.match(ticks[0].label, /^\S+ 6$/);
});

test('datetime-local values round-trip in local time', () => {
  const ms = new Date(2026, 2, 9, 7, 5).getTime();
  assert.equal(toLocalInput(ms), '2026-03-09T07:05');
  assert.equal(fromLocalInput('2026-03-09T07:05'), ms);
  assert.ok(Number.isNaN(fromLocalInput('')));
  assert.ok(Number.isNaN(fromLocalInput('soon')));
  assert.equal(hourStart(ms), new Date(2026, 2, 9, 7, 0).getTime());
});
