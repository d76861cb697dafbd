// Mandate console: optional enhancement only (every page works without it). Refreshes the live counts.
(() => {
  const counts = document.querySelector('[data-counts-url]');
  if (!counts || !window.fetch) return;
  const url = counts.getAttribute('data-counts-url');
  const show = (key, value) => {
    const el = counts.querySelector(`[data-count="${key}"]`);
    if (el) el.textContent = value;
  };
  const refresh = async () => {
    if (document.hidden) return;
    try {
      const res = await fetch(url, {
        credentials: 'same-origin',
        headers: { accept: 'application/json' },
      });
      if (!res.ok || !(res.headers.get('content-type') || '').includes('json')) return;
      const c = await res.json();
      show('live-grants', String(c.liveGrants));
      show('pending-approvals', `${c.pendingApprovals}${c.pendingAtLeast ? '+' : ''}`);
      show('decisions-per-minute', `${c.decisionsLastMinute}${c.decisionsAtLeast ? '+' : ''}`);
      show('denials-per-minute', String(c.denialsLastMinute));
    } catch {
      // Offline or signed out: the numbers stay as the page drew them.
    }
  };
  setInterval(refresh, 15000);
})();
