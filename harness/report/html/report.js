// Renders the run embedded in #xrun-data. Everything a test printed is put on
// the page as text (textContent), never as markup. The view (filters, search,
// sort, the selected test) lives in the URL fragment, so a link points at it:
//   #status=failed,crashed&q=parser&sort=duration&test=17
'use strict';
(function () {
  const started = performance.now();
  const data = JSON.parse(document.getElementById('xrun-data').textContent);
  const run = data.run;
  const tests = data.tests;
  const STATUSES = ['passed', 'failed', 'crashed', 'timed-out', 'flaky', 'infra-error', 'skipped', 'not-run'];
  const FAILING = new Set(['failed', 'crashed', 'timed-out', 'infra-error']);
  const ROW_HEIGHT = 24;
  const $ = (id) => document.getElementById(id);

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (key === 'text') node.textContent = value;
      else if (key === 'className') node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }
  const baseName = (path) => path.slice(path.lastIndexOf('/') + 1);
  const seconds = (s) => (s < 10 ? s.toFixed(3) : s.toFixed(1)) + ' s';
  const displayName = (t) => baseName(data.binaries[t.b]) + ' ' + t.n;
  for (const [i, t] of tests.entries()) {
    t.i = i;
    t.key = displayName(t).toLowerCase();
  }

  // ------------------------------------------------------------- the view ---
  function readView() {
    const p = new URLSearchParams(location.hash.slice(1));
    const status = (p.get('status') || '').split(',').filter((s) => STATUSES.includes(s));
    const test = p.has('test') ? Number(p.get('test')) : null;
    return {
      status,
      q: p.get('q') || '',
      sort: ['plan', 'duration', 'name'].includes(p.get('sort')) ? p.get('sort') : 'plan',
      test: Number.isInteger(test) && test >= 0 && test < tests.length ? test : null,
    };
  }
  function fragment(view) {
    const p = new URLSearchParams();
    if (view.status.length) p.set('status', view.status.join(','));
    if (view.q) p.set('q', view.q);
    if (view.sort !== 'plan') p.set('sort', view.sort);
    if (view.test !== null) p.set('test', String(view.test));
    return '#' + p.toString();
  }
  const withView = (change) => fragment(Object.assign(readView(), change));

  // ------------------------------------------------------------ outputs ---
  // Large outputs are deflated and base64-encoded by xrun; they are decoded
  // only when a test is opened or a search reaches them.
  const decoded = new Map();
  async function outputOf(t) {
    if (typeof t.o === 'string') return t.o;
    if (decoded.has(t.i)) return decoded.get(t.i);
    if (typeof DecompressionStream === 'undefined')
      return '[xrun: this browser cannot decompress the output; the JSON report has it]';
    const binary = atob(t.o.z);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; ++i) bytes[i] = binary.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
    const text = new TextDecoder().decode(await new Response(stream).arrayBuffer());
    decoded.set(t.i, text);
    return text;
  }

  // Output search: names and plain outputs at once, compressed outputs in the
  // background, a slice at a time, so that typing never freezes the page.
  const outputMatches = new Map();  // query -> Set of test indexes found so far
  let searchJob = 0;
  function searchOutputs(query) {
    if (!query || outputMatches.has(query)) return;
    const found = new Set();
    outputMatches.set(query, found);
    const job = ++searchJob;
    const needle = query.toLowerCase();
    const pending = [];
    for (const t of tests) {
      if (typeof t.o === 'string') { if (t.o.toLowerCase().includes(needle)) found.add(t.i); }
      else if (t.o) pending.push(t);
    }
    let next = 0;
    const step = async () => {
      if (job !== searchJob) { outputMatches.delete(query); return; }
      const end = Math.min(next + 50, pending.length);
      for (; next < end; ++next) {
        const text = await outputOf(pending[next]);
        if (text.toLowerCase().includes(needle)) found.add(pending[next].i);
      }
      $('shown').dataset.searching = next < pending.length ? String(pending.length - next) : '';
      renderList();
      if (next < pending.length) setTimeout(step, 0);
    };
    if (pending.length) step();
  }

  // Text with ANSI colours (SGR) rendered; every other control byte shown as
  // \xNN; xrun's "[... xrun: N bytes ... cut ...]" lines marked.
  const PALETTE = ['#000000', '#cd3131', '#0dbc79', '#e5e510', '#2472c8', '#bc3fbc', '#11a8cd', '#e5e5e5',
                   '#666666', '#f14c4c', '#23d18b', '#f5f543', '#3b8eea', '#d670d6', '#29b8db', '#ffffff'];
  function color256(n) {
    if (n < 16) return PALETTE[n];
    if (n >= 232) { const v = 8 + (n - 232) * 10; return `rgb(${v},${v},${v})`; }
    n -= 16;
    const level = (x) => (x ? 55 + x * 40 : 0);
    return `rgb(${level(Math.floor(n / 36))},${level(Math.floor(n / 6) % 6)},${level(n % 6)})`;
  }
  function applySgr(style, codes) {
    for (let i = 0; i < codes.length; ++i) {
      const c = codes[i];
      if (c === 0) { for (const k of Object.keys(style)) delete style[k]; }
      else if (c === 1) style.fontWeight = 'bold';
      else if (c === 2) style.opacity = '0.7';
      else if (c === 3) style.fontStyle = 'italic';
      else if (c === 4) style.textDecoration = 'underline';
      else if (c === 22) { delete style.fontWeight; delete style.opacity; }
      else if (c === 23) delete style.fontStyle;
      else if (c === 24) delete style.textDecoration;
      else if (c >= 30 && c <= 37) style.color = PALETTE[c - 30];
      else if (c >= 90 && c <= 97) style.color = PALETTE[c - 90 + 8];
      else if (c === 39) delete style.color;
      else if (c >= 40 && c <= 47) style.backgroundColor = PALETTE[c - 40];
      else if (c >= 100 && c <= 107) style.backgroundColor = PALETTE[c - 100 + 8];
      else if (c === 49) delete style.backgroundColor;
      else if ((c === 38 || c === 48) && codes[i + 1] === 5) {
        style[c === 38 ? 'color' : 'backgroundColor'] = color256(codes[i + 2] & 255);
        i += 2;
      } else if ((c === 38 || c === 48) && codes[i + 1] === 2) {
        style[c === 38 ? 'color' : 'backgroundColor'] = `rgb(${codes[i + 2] & 255},${codes[i + 3] & 255},${codes[i + 4] & 255})`;
        i += 4;
      }
    }
  }
  const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;
  function appendPlain(parent, text, style) {
    const target = Object.keys(style).length ? parent.appendChild(el('span')) : parent;
    Object.assign(target.style || {}, style);
    let last = 0;
    for (const m of text.matchAll(CONTROL)) {
      if (m.index > last) target.append(text.slice(last, m.index));
      if (m[0] !== '\r' || text[m.index + 1] !== '\n')
        target.append(el('span', { className: 'ctl', text: '\\x' + m[0].charCodeAt(0).toString(16).padStart(2, '0') }));
      last = m.index + 1;
    }
    if (last < text.length) target.append(text.slice(last));
  }
  const CUT_LINE = /^\[\.\.\. xrun: \d+ bytes (of output )?cut.*\.\.\.\]$/;
  function renderText(pre, text) {
    const style = {};
    const sgr = /\x1b\[([0-9;]*)m/g;
    for (const line of text.split(/(?<=\n)/)) {
      if (CUT_LINE.test(line.replace(/\n$/, ''))) {
        pre.append(el('span', { className: 'cut', text: line.replace(/\n$/, '') }));
        continue;
      }
      let last = 0;
      for (const m of line.matchAll(sgr)) {
        if (m.index > last) appendPlain(pre, line.slice(last, m.index), style);
        applySgr(style, m[1] === '' ? [0] : m[1].split(';').map(Number));
        last = m.index + m[0].length;
      }
      if (last < line.length) appendPlain(pre, line.slice(last), style);
    }
  }

  // ---------------------------------------------------------- the header ---
  function renderHeader() {
    const s = run.summary;
    const failing = s.failed + s.crashed + s['timed-out'] + s['infra-error'];
    const verdict = `${s.passed + s.flaky} passed, ${failing} failed, ${s.skipped} skipped` +
                    (s['not-run'] ? `, ${s['not-run']} not run` : '') + ` — ${s.total} tests`;
    $('verdict').textContent = verdict;
    $('verdict').className = failing ? 'failing' : 'green';
    document.title = `xrun: ${failing ? failing + ' failed' : 'all passed'} of ${s.total} (${run.started_at})`;
    const meta = $('meta');
    const row = (name, value) => { if (value) meta.append(el('dt', { text: name }), el('dd', { text: value })); };
    row('command', (run.command_line || []).map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' '));
    row('xrun', run.xrun_version);
    row('machine', run.host);
    row('started', run.started_at);
    row('wall time', seconds(run.duration_seconds));
    row('partition', run.partition);
    const notes = [];
    if (run.error) notes.push('No tests ran: ' + run.error);
    if (run.interrupted) notes.push('The run was interrupted (Ctrl-C or a signal): unfinished tests are not-run.');
    else if (!run.complete) notes.push('The run had not ended when this report was written (still running, or xrun was killed): reload for newer results.');
    if (notes.length) { $('notice').hidden = false; $('notice').textContent = notes.join(' '); }
  }

  const byKey = new Map(tests.map((t) => [data.binaries[t.b] + '\u0000' + t.n, t.i]));
  function renderBaseline() {
    const b = run.baseline;
    if (!b) return;
    const section = $('baseline');
    section.hidden = false;
    section.append(el('h2', { text: `Compared with ${b.source}` + (b.started_at ? ` (started ${b.started_at})` : '') }));
    const sections = [['new_failures', 'New failures'], ['fixed', 'Fixed'], ['still_failing', 'Still failing'],
                      ['new_tests', 'New tests'], ['removed_tests', 'Removed tests'],
                      ['slower', `Slower (by more than ${Math.round(b.slowdown * 100)}% and ${b.slowdown_floor_seconds} s)`]];
    for (const [key, title] of sections) {
      const list = b[key] || [];
      const details = el('details', { id: 'baseline-' + key, 'data-count': String(list.length) },
                         el('summary', { text: `${title}: ${list.length}` }));
      if (key === 'new_failures' && list.length) details.open = true;
      const ul = el('ul');
      for (const c of list) {
        const index = byKey.get(c.binary + '\u0000' + c.name);
        let text = baseName(c.binary) + ' ' + c.name;
        if (key === 'slower') text += `  ${seconds(c.before_duration_seconds)} → ${seconds(c.duration_seconds)}`;
        else if (c.status && c.before) text += `  (${c.before} → ${c.status})`;
        else if (c.status) text += `  (${c.status})`;
        else if (c.before) text += `  (was ${c.before})`;
        ul.append(el('li', {}, index === undefined ? text : el('a', { href: withView({ test: index }), text })));
      }
      if (list.length) details.append(ul);
      section.append(details);
    }
  }

  // ------------------------------------------------------------ the list ---
  let shown = [];
  function matching(view) {
    const wanted = new Set(view.status);
    const needle = view.q.toLowerCase();
    const inOutput = view.q ? outputMatches.get(view.q) : null;
    let list = tests.filter((t) => (!wanted.size || wanted.has(t.s)) &&
                                   (!needle || t.key.includes(needle) || (inOutput && inOutput.has(t.i))));
    if (view.sort === 'duration') list = list.slice().sort((a, b) => b.d - a.d);
    else if (view.sort === 'name') list = list.slice().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return list;
  }

  function renderControls(view) {
    const chips = $('chips');
    chips.replaceChildren();
    const all = el('a', { href: withView({ status: [] }), 'data-status': 'all', 'data-count': String(tests.length) },
                   'all', el('span', { className: 'count', text: String(tests.length) }));
    if (!view.status.length) all.classList.add('active');
    chips.append(all);
    for (const status of STATUSES) {
      const count = run.summary[status] || 0;
      const active = view.status.includes(status);
      let label = status;
      if (status === 'crashed' && count) {
        const signals = new Map();
        for (const t of tests) if (t.s === 'crashed' && t.sn) signals.set(t.sn, (signals.get(t.sn) || 0) + 1);
        if (signals.size) label += ' (' + [...signals].map(([name, n]) => (signals.size > 1 ? `${name} ${n}` : name)).join(', ') + ')';
      }
      const chip = el('a', { href: withView({ status: active ? [] : [status], test: null }), 'data-status': status,
                              'data-count': String(count) },
                      label, el('span', { className: 'count', text: String(count) }));
      if (active) chip.classList.add('active');
      chips.append(chip);
    }
    const sorts = $('sorts');
    sorts.replaceChildren('sort: ');
    for (const [sort, label] of [['plan', 'run order'], ['duration', 'slowest first'], ['name', 'name']]) {
      const link = el('a', { href: withView({ sort }), 'data-sort': sort, text: label });
      if (view.sort === sort) link.classList.add('active');
      sorts.append(link);
    }
    if ($('search').value !== view.q) $('search').value = view.q;
  }

  function renderList() {
    const view = readView();
    shown = matching(view);
    const rows = $('rows');
    rows.style.height = shown.length * ROW_HEIGHT + 'px';
    rows.dataset.shown = String(shown.length);
    const searching = $('shown').dataset.searching;
    $('shown').textContent = `${shown.length} of ${tests.length} shown` + (searching ? ` (searching ${searching} outputs…)` : '');
    drawVisibleRows();
  }

  // Only the rows in sight are in the DOM: 20,000 tests scroll like 20.
  function drawVisibleRows() {
    const list = $('list');
    const view = readView();
    const first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - 10);
    const last = Math.min(shown.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_HEIGHT) + 10);
    const rows = [];
    for (let position = first; position < last; ++position) {
      const t = shown[position];
      const where = [t.be, t.t, t.mc].filter(Boolean).join(' · ');
      const row = el('a', { className: 'row', href: withView({ test: t.i }), 'data-index': String(t.i), 'data-status': t.s },
                     el('span', { className: 'badge s-' + t.s, text: t.s }),
                     el('span', { className: 'name', text: displayName(t), title: displayName(t) + (t.m ? ' — ' + t.m : '') }),
                     el('span', { className: 'where', text: where }),
                     el('span', { className: 'duration', text: seconds(t.d) }));
      if (view.test === t.i) row.classList.add('selected');
      row.style.top = position * ROW_HEIGHT + 'px';
      rows.push(row);
    }
    $('rows').replaceChildren(...rows);
  }

  // ---------------------------------------------------------- the detail ---
  let detailShown = null;
  function renderDetail(view) {
    if (view.test === detailShown) return;
    detailShown = view.test;
    const detail = $('detail');
    if (view.test === null) {
      detail.replaceChildren(el('p', { className: 'hint', text: 'Select a test to see its output.' }));
      detail.removeAttribute('data-index');
      return;
    }
    const t = tests[view.test];
    detail.dataset.index = String(t.i);
    const table = el('table');
    const row = (name, value) => { if (value !== undefined && value !== null && value !== '') table.append(el('tr', {}, el('th', { text: name }), el('td', { text: String(value) }))); };
    row('status', t.s + (t.m ? ' — ' + t.m : ''));
    row('duration', seconds(t.d) + (t.h ? ' (last attempt)' : ''));
    row('attempts', t.a);
    row('ran on', [t.be, t.t, t.mc].filter(Boolean).join(' · '));
    row('exit code', t.x);
    if (t.sg !== undefined) row('signal', `${t.sg} (${t.sn})`);
    row('binary', data.binaries[t.b]);
    const parts = [el('h2', { text: t.n }), el('span', { className: 'badge s-' + t.s, text: t.s }), table];
    if (t.h) {
      const timeline = el('div', { className: 'timeline', id: 'timeline' });
      const longest = Math.max(...t.h.map((a) => a[1]), 0.001);
      for (const [i, [status, duration, message]] of t.h.entries()) {
        const box = el('div', { className: 'attempt s-' + status, title: message || '', text: `${i + 1}: ${status} ${seconds(duration)}` });
        box.style.flexGrow = String(0.2 + duration / longest);
        timeline.append(box);
      }
      parts.push(el('h3', { text: 'attempts' }), timeline);
    }
    if (t.f) {
      const failure = el('pre', { className: 'failure', id: 'failure' });
      renderText(failure, t.f);
      parts.push(el('h3', { text: 'failure' }), failure);
    }
    const output = el('pre', { id: 'output', 'data-state': 'loading', text: 'decoding the output…' });
    const notes = [];
    if (t.c) notes.push(`xrun kept the first and last 64 KiB: ${t.c} bytes in between were cut during the run`);
    if (t.hc) notes.push(`${t.hc} more bytes of this passed test's output are only in the JSON report`);
    if (t.ob) notes.push(`all ${t.ob} bytes are only in the JSON report: this page holds ${Math.round(data.output_budget / 1048576)} MiB of outputs, failing tests' first`);
    parts.push(el('h3', { text: 'output' + (notes.length ? ' (' + notes.join('; ') + ')' : '') }), output);
    detail.replaceChildren(...parts);
    detail.scrollTop = 0;
    outputOf(t).then((text) => {
      if (detailShown !== t.i) return;
      output.replaceChildren();
      if (t.ob) output.textContent = '(in the JSON report)';
      else if (!text) output.textContent = '(no output)';
      else renderText(output, text);
      output.dataset.state = 'ready';
    });
  }

  // -------------------------------------------------------------- wiring ---
  function render() {
    const view = readView();
    renderControls(view);
    searchOutputs(view.q);
    renderList();
    renderDetail(view);
  }
  $('list').addEventListener('scroll', () => requestAnimationFrame(drawVisibleRows), { passive: true });
  window.addEventListener('resize', drawVisibleRows);
  window.addEventListener('hashchange', render);
  let typing = null;
  $('search').addEventListener('input', (event) => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      history.replaceState(null, '', withView({ q: event.target.value }));
      $('list').scrollTop = 0;
      render();
    }, 120);
  });
  // j/k or the arrows move through the shown tests.
  document.addEventListener('keydown', (event) => {
    if (event.target === $('search') || !['j', 'k', 'ArrowDown', 'ArrowUp'].includes(event.key)) return;
    const view = readView();
    const at = shown.findIndex((t) => t.i === view.test);
    const next = shown[Math.max(0, Math.min(shown.length - 1, at + (event.key === 'j' || event.key === 'ArrowDown' ? 1 : -1)))];
    if (!next) return;
    event.preventDefault();
    location.hash = withView({ test: next.i });
    const list = $('list');
    const top = shown.indexOf(next) * ROW_HEIGHT;
    if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - ROW_HEIGHT) list.scrollTop = top - list.clientHeight / 2;
  });

  renderHeader();
  renderBaseline();
  render();
  const selected = readView().test;
  if (selected !== null) {
    const position = shown.findIndex((t) => t.i === selected);
    if (position >= 0) { $('list').scrollTop = Math.max(0, position * ROW_HEIGHT - 100); drawVisibleRows(); }
  }
  // For bench/html_report.sh: the script's own time, and the time since the
  // navigation began (reading the file, parsing the page and its data).
  document.documentElement.dataset.renderMs = (performance.now() - started).toFixed(1);
  document.documentElement.dataset.loadMs = performance.now().toFixed(1);
  document.documentElement.dataset.ready = 'true';
})();
