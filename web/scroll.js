// Following the conversation as an answer streams: scrolled to its end unless
// the reader scrolls up (then a "jump to latest" button appears).

/**
 * `wrap` is the conversation's scrolling box (or the page, when the layout
 * stacks), `log` the list of turns, `jump` the button, and `busy()` whether
 * an answer is being written.
 */
export function follower({ wrap, log, jump, busy }) {
  let following = true;
  let lastProgrammaticScroll = 0;

  const scroller = () => {
    const style = getComputedStyle(wrap);
    return style.overflowY === 'auto' || style.overflowY === 'scroll' ? wrap : document.scrollingElement;
  };
  const distanceFromBottom = (el) => el.scrollHeight - el.scrollTop - el.clientHeight;

  /**
   * Scrolls the conversation to its end, but never so far that the latest
   * question scrolls out at the top (a long answer is read from its start).
   * Without `force`, only while following.
   */
  function toLatest(force) {
    if (force) following = true;
    if (!force && !following) { jump.hidden = !busy(); return; }
    const el = scroller();
    const isDoc = el === document.scrollingElement;
    let target = el.scrollHeight - el.clientHeight;
    const li = log.lastElementChild;
    if (li) {
      const top = li.getBoundingClientRect().top - (isDoc ? 0 : el.getBoundingClientRect().top) + el.scrollTop;
      target = Math.min(target, top - 12);
    }
    lastProgrammaticScroll = performance.now();
    if (target > el.scrollTop || force) el.scrollTop = Math.max(0, target);
    jump.hidden = true;
  }

  function onUserScroll(el) {
    if (el !== scroller()) return;
    if (performance.now() - lastProgrammaticScroll < 80) return;
    following = distanceFromBottom(el) < 48;
    jump.hidden = following || !busy();
  }
  wrap.addEventListener('scroll', () => onUserScroll(wrap), { passive: true });
  window.addEventListener('scroll', () => onUserScroll(document.scrollingElement), { passive: true });
  // Scrolling up with a wheel or a finger stops following at once.
  const stopFollowing = (e) => {
    if (!busy()) return;
    if (e.type === 'wheel' && e.deltaY >= 0) return;
    following = false;
    jump.hidden = false;
  };
  wrap.addEventListener('wheel', stopFollowing, { passive: true });
  wrap.addEventListener('touchmove', stopFollowing, { passive: true });
  jump.addEventListener('click', () => toLatest(true));

  return { toLatest };
}
