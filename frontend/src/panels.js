// Rendering of the side panels: selection statistics, slices, failures, representatives,
// the risk-coverage chart and the hover card. Plain DOM, no framework.
import { CORRECT, INCORRECT, categoricalColor } from './colors.js';

export const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'style') node.setAttribute('style', value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

export const fmt = {
  int: (v) => (v == null ? '–' : Number(v).toLocaleString('en-US')),
  pct: (v) => (v == null ? '–' : `${(100 * v).toFixed(1)}%`),
  num: (v, d = 3) => (v == null ? '–' : Number(v).toFixed(d)),
  short: (v) => (v == null ? '–' : Number.isInteger(v) ? String(v) : Number(v.toPrecision(3)).toString()),
  signed: (v, d = 1) => (v == null ? '–' : `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(d)}`),
};

const metric = (label, [value, rest], format, better) => {
  let tone = '';
  if (better && value != null && rest != null && Math.abs(value - rest) > 1e-9) {
    const worse = better === 'higher' ? value < rest : value > rest;
    tone = worse ? 'worse' : 'better';
  }
  return el(
    'div',
    { class: `metric ${tone}` },
    el('div', { class: 'metric-label' }, label),
    el('div', { class: 'metric-value' }, format(value)),
    el('div', { class: 'metric-rest' }, `rest ${format(rest)}`),
  );
};

function shareBars(title, items, colorOf) {
  if (!items.length) return null;
  const rows = items
    .slice()
    .sort((a, b) => b.share - a.share)
    .slice(0, 12)
    .map((item) =>
      el(
        'div',
        { class: 'bar-row', title: `${item.name}: ${item.count} selected (${fmt.pct(item.share)}; rest ${fmt.pct(item.share_rest)})` },
        el('span', { class: 'bar-name' }, item.name),
        el(
          'span',
          { class: 'bar-track' },
          el('span', { class: 'bar-fill', style: `width:${(100 * item.share).toFixed(1)}%;background:${colorOf(item.name)}` }),
          el('span', { class: 'bar-rest', style: `left:${(100 * item.share_rest).toFixed(1)}%` }),
        ),
        el('span', { class: 'bar-value' }, fmt.pct(item.share)),
      ),
    );
  return el('section', { class: 'block' }, el('h3', {}, title, el('span', { class: 'hint' }, ' bar: selection · tick: rest')), rows);
}

export function imageTile(backend, row, { confidence, correct, caption, onClick } = {}) {
  const url = backend.thumbnailUrl(row);
  const badge = correct == null ? null : el('span', { class: `badge ${correct ? 'ok' : 'bad'}` }, correct ? '✓' : '✗');
  const picture = url
    ? el('img', { src: url, loading: 'lazy', alt: `sample ${row}`, draggable: 'false' })
    : el('div', { class: 'no-image' }, `#${row}`);
  return el(
    'button',
    { class: 'tile', 'data-row': row, title: caption || `row ${row}`, onclick: () => onClick?.(row) },
    picture,
    badge,
    confidence == null ? null : el('span', { class: 'tile-conf' }, fmt.num(confidence, 2)),
  );
}

export function renderSelection(container, stats, ctx) {
  container.replaceChildren();
  if (!stats) {
    container.append(
      el(
        'div',
        { class: 'empty' },
        el('p', {}, 'Draw a lasso around points to see their statistics.'),
        el('p', { class: 'hint' }, 'Hold Shift and drag on the map, or pick the Lasso / Box tool above the map.'),
      ),
    );
    return;
  }
  const s = stats.selection;
  const r = stats.rest;
  container.append(
    el(
      'div',
      { class: 'metrics', id: 'selection-metrics' },
      metric('selected', [stats.n, stats.n_rest], fmt.int, null),
      metric('accuracy', [s.accuracy, r.accuracy], fmt.pct, 'higher'),
      metric(`AURC (${stats.csf})`, [s.aurc, r.aurc], (v) => fmt.num(v, 4), 'lower'),
      metric('AUGRC', [s.augrc, r.augrc], (v) => fmt.num(v, 4), 'lower'),
    ),
  );
  const classColor = (name) => categoricalColor(ctx.meta.class_names.indexOf(name));
  container.append(
    shareBars('Classes', stats.classes, classColor),
    shareBars('Predicted', stats.predicted, classColor),
    shareBars('Test sets', stats.test_sets, (name) => categoricalColor(ctx.meta.test_sets.indexOf(name))),
  );
  if (stats.enrichment.length) {
    container.append(
      el(
        'section',
        { class: 'block' },
        el('h3', {}, 'Metadata enrichment', el('span', { class: 'hint' }, ' z vs rest, uncorrected')),
        el(
          'table',
          { class: 'table' },
          el('tr', {}, el('th', {}, 'field'), el('th', {}, 'value'), el('th', {}, 'selection'), el('th', {}, 'rest'), el('th', {}, 'z')),
          stats.enrichment.map((item) =>
            el(
              'tr',
              {},
              el('td', {}, item.column),
              el('td', {}, item.value),
              el('td', {}, item.kind === 'share' ? fmt.pct(item.selection) : fmt.num(item.selection, 1)),
              el('td', {}, item.kind === 'share' ? fmt.pct(item.rest) : fmt.num(item.rest, 1)),
              el('td', { class: Math.abs(item.z) >= 3 ? 'strong' : '' }, fmt.signed(item.z)),
            ),
          ),
        ),
      ),
    );
  }
  const terms = stats.terms;
  if (terms.status !== 'none') {
    const body =
      terms.status === 'computing'
        ? el('p', { class: 'hint' }, 'Extracting report terms… select again in a moment.')
        : terms.status === 'export'
          ? el('p', { class: 'hint' }, 'Report terms need the live viewer.')
          : terms.items.length
            ? el(
                'div',
                { class: 'terms' },
                terms.items.map((t) =>
                  el('span', { class: 'term', title: `${fmt.pct(t.selection)} of selected reports, ${fmt.pct(t.rest)} of the rest (z ${fmt.num(t.z, 1)})` }, t.term, el('small', {}, ` ${fmt.pct(t.selection)}`)),
                ),
              )
            : el('p', { class: 'hint' }, 'No report term is over-represented.');
    container.append(el('section', { class: 'block' }, el('h3', {}, 'Top report terms', el('span', { class: 'hint' }, ' log-odds z ≥ 1.96 vs rest')), body));
  }
  if (stats.images.length) {
    container.append(
      el(
        'section',
        { class: 'block' },
        el('h3', {}, 'Samples', el('span', { class: 'hint' }, ' most confident failures first')),
        el(
          'div',
          { class: 'grid', id: 'selection-grid' },
          stats.images.map((row, k) => imageTile(ctx.backend, row, { correct: stats.image_correct[k], confidence: stats.image_confidence[k], onClick: ctx.focusRow })),
        ),
      ),
    );
  }
  if (ctx.backend.live) {
    const input = el('input', { type: 'text', id: 'slice-name', placeholder: 'slice name', maxlength: '64' });
    const message = el('span', { class: 'hint', id: 'slice-message' });
    const save = el('button', { class: 'primary', id: 'save-slice', onclick: () => ctx.saveSlice(input.value.trim(), message) }, 'Save as slice');
    container.append(el('section', { class: 'block save' }, el('h3', {}, 'Save this selection'), el('div', { class: 'row' }, input, save), message));
  }
}

export function renderSlices(container, slices, ctx) {
  container.replaceChildren();
  // discovery that ran and confirmed nothing says so, and what it could have confirmed:
  // "no slices yet" would read as "never run", or an empty list as "no failure"
  const discoveryNote = ctx.meta.discovery_note;
  if (discoveryNote && !slices.some((s) => s.source === 'discovered')) {
    container.append(el('h3', {}, 'Discovered slices'), el('p', { class: 'hint', id: 'discovery-note' }, discoveryNote));
  }
  if (!slices.length) {
    if (discoveryNote) return;
    container.append(
      el('div', { class: 'empty' }, el('p', {}, 'No slices in this store yet.'), el('p', { class: 'hint' }, 'Run slice discovery, or save a lasso selection as a slice.')),
    );
    return;
  }
  const headings = { discovered: 'Discovered slices', subgroups: 'Subgroups (silentscope subgroups)', saved: 'Saved slices' };
  for (const source of ['discovered', 'subgroups', 'saved']) {
    const group = slices.filter((s) => s.source === source);
    if (!group.length) continue;
    container.append(el('h3', {}, headings[source]));
    const list = el('div', { class: 'slice-list' });
    for (const item of group) {
      const describe = describeSlice(item.summary);
      list.append(
        el(
          'button',
          { class: 'slice', 'data-source': source, 'data-index': item.index, onclick: () => ctx.showSlice(source, item.index) },
          el('span', { class: 'slice-name' }, source === 'discovered' ? `Slice ${item.name}` : item.name),
          el('span', { class: 'slice-stats' }, `${fmt.int(item.n)} samples · accuracy ${fmt.pct(item.accuracy)}`),
          describe.map((line) => el('span', { class: 'hint' }, line)),
        ),
      );
      // the card's examples (most confidently wrong first, then typical members), outside
      // the button: a tile is a button of its own
      const examples = item.examples || [];
      if (examples.length) {
        list.append(el('div', { class: 'grid slice-examples' }, examples.map((ex) => imageTile(ctx.backend, ex.row, { correct: ex.kind !== 'wrong', caption: ex.kind === 'wrong' ? 'most confidently wrong' : 'typical member', onClick: ctx.focusRow }))));
      }
    }
    container.append(list);
  }
  const leftOut = ctx.subgroupsLeftOut || [];
  if (leftOut.length) {
    container.append(el('p', { class: 'hint' }, `${leftOut.length} subgroup(s) not listed: their members could not be rebuilt from the metadata (${leftOut.slice(0, 3).join(', ')}${leftOut.length > 3 ? ', ...' : ''}).`));
  }
}

// What `silentscope slices` found out about a slice, in the words of its report; any other
// summary table is shown as its first few columns.
function describeSlice(summary) {
  if (!summary) return [];
  if (typeof summary.error_rate_low === 'number') {
    // a group of the subgroup analysis: error rate with its CI against the rest of its scope
    const lines = [`error ${fmt.pct(summary.error_rate)} (${fmt.pct(summary.error_rate_low)}-${fmt.pct(summary.error_rate_high)}) vs ${fmt.pct(summary.rest_error_rate)} in the rest`];
    if (typeof summary.odds_ratio === 'number') lines.push(`odds ratio ${fmt.num(summary.odds_ratio, 2)} · q ${summary.q_value == null ? '–' : Number(summary.q_value).toPrecision(2)}${summary.significant ? ' · significant' : ''}`);
    return lines;
  }
  if (typeof summary.error_rate === 'number') {
    const lines = [];
    const ci = typeof summary.ci_low === 'number' ? ` (${fmt.pct(summary.ci_low)}-${fmt.pct(summary.ci_high)})` : '';
    const outside = typeof summary.complement_error_rate === 'number' ? ` vs ${fmt.pct(summary.complement_error_rate)} outside` : '';
    const units = typeof summary.units_confirm === 'number' && summary.units_confirm !== summary.n_confirm ? ` of ${fmt.int(summary.units_confirm)} units` : '';
    const held = typeof summary.n_confirm === 'number' ? ` · ${fmt.int(summary.n_confirm)} held-out samples${units}` : '';
    lines.push(`held-out error ${fmt.pct(summary.error_rate)}${ci}${outside}${held}`);
    // the part of a wider reported slice that fails most says so, and a slice whose worst
    // part is another listed slice's finding says which (silentscope.slices.result.part_note)
    if (typeof summary.consolidation === 'string') {
      if (summary.consolidation.startsWith('where a wider failing slice')) lines.push(summary.consolidation);
      else summary.consolidation.split('; ').filter((clause) => clause.endsWith('not listed apart')).forEach((clause) => lines.push(clause));
    }
    // silent (confident) failures or errors its confidence admits (silentscope.slices.notes.silence_note)
    if (summary.silence) lines.push(summary.silence);
    // the class the network reads the slice as, when it reads it as one (silentscope.slices.notes.prediction_note)
    if (summary.prediction) lines.push(summary.prediction);
    // a slice whose members lie within another listed slice says which (silentscope.slices.notes.nesting_note)
    if (summary.nesting) lines.push(summary.nesting);
    // a slice that may restate the prediction says so (silentscope.slices.notes.caveat)
    if (summary.caveat) lines.push(summary.caveat);
    // the rule with its held-out agreement, worded by discovery (silentscope.slices.result.rule_description);
    // a store saved before that column existed gets the same figures without the words
    if (typeof summary.rule_description === 'string' && summary.rule_description) {
      lines.push(`rule: ${summary.rule_description}`);
    } else if (summary.rule) {
      const agreement = typeof summary.rule_precision === 'number' ? ` (held-out precision ${fmt.pct(summary.rule_precision)}, recall ${fmt.pct(summary.rule_recall)})` : '';
      lines.push(`rule: ${summary.rule}${agreement}`);
    }
    if (typeof summary.absorbed === 'number') lines.push(`absorbed ${fmt.int(summary.absorbed)} other candidate slice${summary.absorbed === 1 ? '' : 's'}`);
    if (summary.views) lines.push(`found in: ${summary.views}`);
    if (summary.top_terms) lines.push(`report terms: ${String(summary.top_terms).split('; ').slice(0, 3).join('; ')}`);
    if (summary.metadata) lines.push(String(summary.metadata).split('; ').slice(0, 2).join('; '));
    return lines;
  }
  const entries = Object.entries(summary).filter(([k]) => !['slice_id', 'rank'].includes(k)).slice(0, 4);
  return entries.length ? [entries.map(([k, v]) => `${k}: ${typeof v === 'number' ? fmt.num(v, 3) : v}`).join(' · ')] : [];
}

export function renderFailures(container, groups, ctx) {
  container.replaceChildren(el('p', { class: 'hint' }, `Wrong predictions with the highest ${ctx.csf} confidence: the silent failures.`));
  for (const group of groups) {
    container.append(
      el('h3', {}, group.test_set, el('span', { class: 'hint' }, ` ${fmt.int(group.n_errors)} errors of ${fmt.int(group.n)}`)),
      group.rows.length
        ? el('div', { class: 'grid' }, group.rows.map((row, k) => imageTile(ctx.backend, row, { confidence: group.confidence[k], correct: false, onClick: ctx.focusRow })))
        : el('p', { class: 'hint' }, 'No failures.'),
    );
  }
}

export function renderRepresentatives(container, groups, ctx) {
  container.replaceChildren(el('p', { class: 'hint' }, 'Samples nearest each class’s medoid in the map.'));
  for (const group of groups) {
    container.append(
      el('h3', {}, el('span', { class: 'swatch', style: `background:${categoricalColor(ctx.meta.class_names.indexOf(group.class))}` }), group.class, el('span', { class: 'hint' }, ` ${fmt.int(group.n)} samples`)),
      el('div', { class: 'grid' }, group.rows.map((row, k) => imageTile(ctx.backend, row, { correct: group.correct[k], onClick: ctx.focusRow }))),
    );
  }
}

export function renderRiskCoverage(container, result) {
  container.replaceChildren();
  const width = 340;
  const height = 230;
  const m = { l: 40, r: 10, t: 10, b: 34 };
  const maxRisk = Math.max(0.05, ...result.curves.flatMap((c) => c.risk));
  const sx = (v) => m.l + v * (width - m.l - m.r);
  const sy = (v) => height - m.b - (v / maxRisk) * (height - m.t - m.b);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'chart');
  svg.id = 'rc-chart';
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text != null) node.textContent = text;
    svg.append(node);
    return node;
  };
  for (let t = 0; t <= 4; t++) {
    const r = (maxRisk * t) / 4;
    add('line', { x1: m.l, x2: width - m.r, y1: sy(r), y2: sy(r), class: 'gridline' });
    add('text', { x: m.l - 4, y: sy(r) + 3, class: 'tick', 'text-anchor': 'end' }, r.toFixed(2));
    add('text', { x: sx(t / 4), y: height - m.b + 14, class: 'tick', 'text-anchor': 'middle' }, (t / 4).toFixed(2));
  }
  add('text', { x: (m.l + width - m.r) / 2, y: height - 4, class: 'axis-label', 'text-anchor': 'middle' }, 'coverage');
  add('text', { x: 10, y: (m.t + height - m.b) / 2, class: 'axis-label', 'text-anchor': 'middle', transform: `rotate(-90 10 ${(m.t + height - m.b) / 2})` }, 'selective risk');
  result.curves.forEach((curve, k) => {
    const d = curve.coverage.map((c, j) => `${j ? 'L' : 'M'}${sx(c).toFixed(1)},${sy(curve.risk[j]).toFixed(1)}`).join('');
    add('path', { d, class: 'curve', stroke: k === 0 ? '#e8e8e8' : categoricalColor(k - 1), 'stroke-width': k === 0 ? 2.5 : 1.5, fill: 'none' });
  });
  container.append(
    svg,
    el(
      'table',
      { class: 'table', id: 'rc-table' },
      el('tr', {}, el('th', {}, ''), el('th', {}, 'test set'), el('th', {}, 'n'), el('th', {}, 'error'), el('th', {}, 'AURC'), el('th', {}, 'AUGRC')),
      result.curves.map((curve, k) =>
        el(
          'tr',
          {},
          el('td', {}, el('span', { class: 'swatch', style: `background:${k === 0 ? '#e8e8e8' : categoricalColor(k - 1)}` })),
          el('td', {}, curve.name),
          el('td', {}, fmt.int(curve.n)),
          el('td', {}, fmt.pct(curve.error_rate)),
          el('td', {}, fmt.num(curve.aurc, 4)),
          el('td', {}, fmt.num(curve.augrc, 4)),
        ),
      ),
    ),
    el('p', { class: 'hint' }, `Confidence: ${result.csf}. AURC and AUGRC on the 0–1 scale; lower is better.`),
  );
}

export function renderHover(card, sample, ctx) {
  const url = sample.has_image ? ctx.backend.thumbnailUrl(sample.row) : null;
  const conf = sample.confidences[ctx.csf];
  const meta = Object.entries(sample.metadata || {});
  card.replaceChildren(
    url ? el('img', { src: url, alt: sample.sample_id }) : null,
    el(
      'div',
      { class: 'hover-body' },
      el('div', { class: 'hover-id' }, sample.sample_id),
      el('div', {}, el('span', { class: 'muted' }, 'test set '), sample.test_set),
      el('div', {}, el('span', { class: 'muted' }, 'label '), el('b', {}, sample.label)),
      el(
        'div',
        {},
        el('span', { class: 'muted' }, 'predicted '),
        el('b', { style: `color:${sample.correct ? CORRECT : INCORRECT}` }, sample.prediction, sample.correct ? ' ✓' : ' ✗'),
      ),
      el('div', {}, el('span', { class: 'muted' }, `${ctx.csf} `), fmt.num(conf, 3)),
      meta.length ? el('div', { class: 'hover-meta' }, meta.map(([k, v]) => el('span', {}, `${k}: ${v ?? '–'}`))) : null,
      sample.slices ? el('div', { class: 'hover-meta' }, Object.entries(sample.slices).map(([k, v]) => el('span', {}, `${k} slice: ${v.join(', ')}`))) : null,
      sample.text ? el('div', { class: 'hover-text' }, sample.text.length > 400 ? `${sample.text.slice(0, 400)}…` : sample.text) : null,
    ),
  );
}
