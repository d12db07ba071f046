// "Was this useful?" under an answer: the verdict goes to /api/feedback.
import { h } from './dom.js';
import { apiError } from './api.js';

/**
 * The feedback buttons of `turn`; `onSent(useful)` is called once the server
 * has the verdict (to remember it and say thanks).
 */
export function feedbackNodes(turn, onSent) {
  const wrap = h('span', { class: 'feedback', role: 'group', 'aria-label': 'Was this useful?' });
  const status = h('span', { class: 'feedback-status', 'aria-live': 'off' });
  const mk = (useful, label) => h('button', {
    type: 'button',
    class: 'tool feedback-button',
    'aria-label': label,
    'aria-pressed': turn.feedback === useful ? 'true' : 'false',
    title: label,
    onclick: () => sendFeedback(turn, useful, wrap, status, onSent),
  }, h('span', { class: 'tool-word', 'aria-hidden': 'true' }, useful ? 'Yes' : 'No'));
  wrap.append(h('span', { class: 'feedback-label', 'aria-hidden': 'true' }, 'Was this useful?'), mk(true, 'Useful'), mk(false, 'Not useful'), status);
  if (turn.feedback !== null && turn.feedback !== undefined) status.textContent = 'Thanks!';
  return wrap;
}

async function sendFeedback(turn, useful, wrap, status, onSent) {
  const buttons = wrap.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const res = await fetch('/api/feedback', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question: turn.question, answer: turn.result ? turn.result.answer : '', useful }),
    });
    if (!res.ok) throw await apiError(res);
    buttons.forEach((b, i) => b.setAttribute('aria-pressed', (i === 0) === useful ? 'true' : 'false'));
    status.textContent = 'Thanks!';
    onSent(useful);
  } catch (e) {
    status.textContent = 'Could not send feedback.';
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}
