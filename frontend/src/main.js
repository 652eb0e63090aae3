// The silentscope viewer: a WebGL map of the joint embedding with colour-by, filters, lasso
// statistics and panels. State lives here; rendering of panels is in panels.js.
//
// A large store is drawn as a stratified subsample (the server picks the rows), because a
// software-rendered frame of a million points takes seconds. Selections, filters and
// statistics are about every row: the lasso is hit-tested against all positions
// (lasso.js) and the selection travels as a bit mask over all rows.
import createScatterplot from 'regl-scatterplot';
import { createBackend } from './backend.js';
import { combinedPalette, encodingFor, zCodes } from './colors.js';
import { pointsInPolygon } from './lasso.js';
import { createDirectRenderer } from './renderer.js';
import { combineMasks, countBits, hasBit, maskIndices, packMask } from './masks.js';
import {
  el,
  fmt,
  renderFailures,
  renderHover,
  renderRepresentatives,
  renderRiskCoverage,
  renderSelection,
  renderSlices,
} from './panels.js';

// Timings for tests and benchmarks (milliseconds since navigation start).
const probe = { timings: {}, ready: false, errors: [] };
window.__silentscope = probe;

const $ = (id) => document.getElementById(id);
const backend = createBackend();
const state = {
  meta: null,
  columns: {}, // colour-by columns of the drawn rows
  colorKey: 'correct',
  csf: null,
  filter: {},
  filterCount: null,
  selection: null, // { bits, count } over every row
  stats: null,
  tab: 'selection',
  drawn: null, // rows drawn, when a subsample is drawn (else drawn position = row)
  drawnPosition: null, // row -> drawn position or -1, when a subsample is drawn
  positions: null, // promise of the normalised { x, y } of every row
  points: null,
  rows: null,
  spatialIndex: null,
  z: null,
  palette: null, // { palette, offsets }: every column's colours, see setPalette
};
let scatterplot = null;
let renderer = null;
let selectionRequest = null;

async function column(key) {
  if (!(key in state.columns)) state.columns[key] = await backend.column(key, state.drawn ? 'drawn' : 'all');
  return state.columns[key];
}

const rowOf = (i) => (state.drawn ? state.drawn[i] : i);
const drawnOf = (row) => (state.drawnPosition ? state.drawnPosition[row] : row);

// Drawn positions of the rows set in a bit mask over every row.
function drawnIndices(bits) {
  const out = [];
  const n = state.drawn ? state.drawn.length : state.meta.n;
  for (let i = 0; i < n; i++) if (hasBit(bits, rowOf(i))) out.push(i);
  return out;
}

// Every row's position in the map's [-0.95, 0.95] square, from the store-wide bounds, so
// drawn and all positions share one frame.
function normalise(x, y) {
  const [x0, x1, y0, y1] = state.meta.bounds;
  const scale = 1.9 / Math.max(x1 - x0, y1 - y0, 1e-9);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const nx = new Float32Array(x.length);
  const ny = new Float32Array(y.length);
  for (let i = 0; i < x.length; i++) {
    nx[i] = (x[i] - cx) * scale;
    ny[i] = (y[i] - cy) * scale;
  }
  return { x: nx, y: ny };
}

// Blocks until the GPU has finished the map's last frame. WebGL calls return before the
// work is done (in software WebGL a frame of 50,000 points takes tens of milliseconds on
// two cores), so the timings end here, when the pixels exist, not when the calls returned.
function frameDone() {
  renderer.finish();
}

// Resolves once regl-scatterplot has drawn a frame (the first paint is then on screen).
function nextDraw() {
  return new Promise((resolve) => {
    const handler = scatterplot.subscribe('draw', () => {
      scatterplot.unsubscribe(handler);
      resolve();
    });
    scatterplot.redraw();
  });
}

// Fit the data's square [-0.95, 0.95]^2 into the canvas whatever its aspect ratio.
function fitView(transition) {
  scatterplot.zoomToArea({ x: -1, y: -1, width: 2, height: 2 }, { transition, transitionDuration: 300 });
}

// The scatterplot's palette: every colour-by column's colours (see combinedPalette).
function setPalette() {
  state.palette = combinedPalette(state.meta.columns);
  scatterplot.set({ pointColor: state.palette.palette, colorBy: 'valueA' });
}

function describeColumn(key) {
  return state.meta.columns.find((c) => c.key === key);
}

function renderLegend(column, encoding) {
  const legend = $('legend');
  legend.replaceChildren(el('div', { class: 'legend-title' }, column.label));
  if (encoding.continuous) {
    legend.append(
      el('div', { class: 'gradient', style: `background:linear-gradient(90deg, ${encoding.gradient.join(',')})` }),
      el('div', { class: 'gradient-labels' }, el('span', {}, fmt.short(encoding.min)), el('span', {}, fmt.short(encoding.max))),
    );
    if (column.missing) legend.append(el('div', { class: 'legend-item' }, el('span', { class: 'swatch', style: 'background:#4a4f57' }), 'missing'));
    return;
  }
  const items = encoding.legend.slice(0, 24);
  legend.append(...items.map((item) => el('div', { class: 'legend-item' }, el('span', { class: 'swatch', style: `background:${item.color}` }), item.label)));
  if (encoding.legend.length > items.length) legend.append(el('div', { class: 'hint' }, `… ${encoding.legend.length - items.length} more`));
}

async function applyColor(key) {
  const t0 = performance.now();
  const described = describeColumn(key);
  const values = await column(key);
  const t1 = performance.now();
  const encoding = encodingFor(described);
  state.z = zCodes(described, values, state.z, state.palette.offsets[key]);
  state.colorKey = key;
  const t2 = performance.now();
  // The row-oriented points are kept and updated in place, and the spatial index is reused:
  // regl-scatterplot then only rebuilds its state texture. The palette already holds every
  // column's colours (setPalette), so one frame is drawn.
  const rows = state.rows;
  for (let i = 0; i < rows.length; i++) rows[i][2] = state.z[i];
  await scatterplot.draw(rows, { zDataType: 'categorical', spatialIndex: state.spatialIndex, preventFilterReset: true });
  const t3 = performance.now();
  frameDone();
  const t4 = performance.now();
  renderLegend(described, encoding);
  await new Promise(requestAnimationFrame);
  probe.timings.colorSwitch = performance.now() - t0;
  // draw: until regl-scatterplot issued the frame; gpu: until its pixels exist; frame: until
  // the next animation frame (the page with the new legend is then composited).
  probe.timings.colorSwitchParts = { fetch: t1 - t0, codes: t2 - t1, draw: t3 - t2, gpu: t4 - t3, frame: performance.now() - t4 };
  probe.colorKey = key;
}

function filterSpec() {
  const spec = {};
  const pick = (name) => [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
  const all = (name) => document.querySelectorAll(`input[name="${name}"]`).length;
  const testSets = pick('test_set');
  if (testSets.length !== all('test_set')) spec.test_sets = testSets;
  const classes = pick('class');
  if (classes.length !== all('class')) spec.classes = classes;
  const correctness = document.querySelector('input[name="correctness"]:checked').value;
  if (correctness !== 'all') spec.correctness = correctness;
  const lo = $('conf-min').value;
  const hi = $('conf-max').value;
  if (lo !== '' || hi !== '') {
    spec.csf = state.csf;
    if (lo !== '') spec.confidence_min = Number(lo);
    if (hi !== '') spec.confidence_max = Number(hi);
  }
  return spec;
}

async function applyFilter() {
  const t0 = performance.now();
  state.filter = filterSpec();
  const n = state.meta.n;
  if (Object.keys(state.filter).length === 0) {
    scatterplot.unfilter();
    state.filterCount = n;
  } else {
    const bits = await backend.filter(state.filter);
    state.filterCount = countBits(bits);
    scatterplot.filter(drawnIndices(bits));
  }
  $('shown').textContent = `${fmt.int(state.filterCount)} of ${fmt.int(n)} shown`;
  probe.timings.filter = performance.now() - t0;
  refreshPanel();
  if (state.selection) requestStats();
}

// An exported page shown in a notebook widget hands its selection to Python (positions in
// the page). The live page never posts: a site framing it must not learn what is selected.
function announceSelection() {
  if (backend.live || window.parent === window) return;
  const rows = state.selection ? Array.from(maskIndices(state.selection.bits, state.meta.n)) : [];
  window.parent.postMessage({ type: 'silentscope-selection', rows }, '*');
}

function requestStats() {
  announceSelection();
  const t0 = performance.now();
  if (selectionRequest) selectionRequest.abort();
  selectionRequest = new AbortController();
  $('selection-panel').classList.add('busy');
  return backend
    .selection(state.selection.bits, state.filter, state.csf, selectionRequest.signal)
    .then((stats) => {
      state.stats = stats;
      renderSelection($('selection-panel'), stats, context());
      $('selection-panel').classList.remove('busy');
      probe.timings.selection = performance.now() - t0;
      probe.selectionCount = stats.n;
      probe.selectionUpdates = (probe.selectionUpdates || 0) + 1;
    })
    .catch((error) => {
      if (error.name !== 'AbortError') showError(error);
    });
}

function showError(error) {
  probe.errors.push(String(error.message || error));
  const box = $('error');
  box.textContent = String(error.message || error);
  box.hidden = false;
  setTimeout(() => {
    box.hidden = true;
  }, 6000);
}

function context() {
  return {
    meta: state.meta,
    columns: state.columns,
    backend,
    csf: state.csf,
    focusRow,
    showSlice,
    saveSlice,
    subgroupsLeftOut: state.meta.subgroups_left_out,
  };
}

// Select the rows of a mask over every row, highlight those that are drawn, and fetch the
// statistics. The map's own selection events are not raised.
function selectRows(bits, { zoom = false } = {}) {
  const count = countBits(bits);
  if (!count) {
    clearSelection();
    scatterplot.deselect({ preventEvent: true });
    return [];
  }
  state.selection = { bits, count };
  const shown = drawnIndices(bits);
  scatterplot.select(shown, { preventEvent: true });
  if (zoom && shown.length) scatterplot.zoomToPoints(shown, { padding: 0.2, transition: true });
  switchTab('selection');
  requestStats();
  return shown;
}

function clearSelection() {
  state.selection = null;
  state.stats = null;
  announceSelection();
  renderSelection($('selection-panel'), null, context());
}

async function focusRow(row) {
  const i = drawnOf(row);
  selectRows(packMask([row], state.meta.n));
  if (i >= 0) {
    scatterplot.zoomToPoints([i], { padding: 0.4, transition: true });
    return;
  }
  // Not drawn: zoom to where it lies.
  const { x, y } = await state.positions;
  const r = 0.05;
  scatterplot.zoomToArea({ x: x[row] - r, y: y[row] - r, width: 2 * r, height: 2 * r }, { transition: true });
}

async function showSlice(source, index) {
  const bits = await backend.sliceRows(source, index);
  document.querySelectorAll('.slice').forEach((b) => b.classList.toggle('active', b.dataset.source === source && Number(b.dataset.index) === index));
  selectRows(bits, { zoom: true });
}

async function saveSlice(name, message) {
  if (!state.selection) return;
  try {
    const saved = await backend.saveSlice(name, state.selection.bits, false);
    message.textContent = `Saved slice “${saved.name}” (${fmt.int(saved.n)} samples) in the store.`;
    state.meta = await backend.meta();
    delete state.columns['slice:saved'];
    // The saved slices' column has new categories: the combined palette and its offsets
    // change, so the current colours are encoded again.
    setPalette();
    await applyColor(state.colorKey);
    buildColorOptions();
    if (state.tab === 'slices') refreshPanel();
  } catch (error) {
    message.textContent = error.message;
  }
}

async function refreshPanel() {
  const panel = $(`${state.tab}-panel`);
  const spec = state.filter;
  try {
    if (state.tab === 'slices') renderSlices(panel, state.meta.slices, context());
    if (state.tab === 'failures') renderFailures(panel, await backend.failures(spec, state.csf, 10), context());
    if (state.tab === 'classes') renderRepresentatives(panel, await backend.representatives(spec, 5), context());
    if (state.tab === 'risk') renderRiskCoverage(panel, await backend.riskCoverage(spec, state.csf));
  } catch (error) {
    showError(error);
  }
}

function switchTab(tab) {
  state.tab = tab;
  document.querySelectorAll('.tab').forEach((b) => b.classList.toggle('active', b.dataset.tab === tab));
  document.querySelectorAll('.panel').forEach((p) => {
    p.hidden = p.id !== `${tab}-panel`;
  });
  if (tab !== 'selection') refreshPanel();
}

function buildColorOptions() {
  const select = $('color-by');
  const groups = {};
  for (const c of state.meta.columns) (groups[c.group] ||= []).push(c);
  select.replaceChildren(
    ...Object.entries(groups).map(([group, columns]) =>
      el('optgroup', { label: group }, columns.map((c) => el('option', { value: c.key, selected: c.key === state.colorKey }, c.label))),
    ),
  );
}

function buildControls() {
  const meta = state.meta;
  buildColorOptions();
  $('color-by').addEventListener('change', (e) => applyColor(e.target.value).catch(showError));
  const csf = $('csf');
  csf.replaceChildren(...meta.csfs.map((name) => el('option', { value: name, selected: name === state.csf }, name)));
  csf.addEventListener('change', () => {
    state.csf = csf.value;
    if ($('conf-min').value !== '' || $('conf-max').value !== '') applyFilter();
    else refreshPanel();
    if (state.selection) requestStats();
  });
  const checks = (name, values) =>
    values.map((value) => el('label', { class: 'check' }, el('input', { type: 'checkbox', name, value, checked: true }), el('span', {}, value)));
  $('filter-test-sets').replaceChildren(...checks('test_set', meta.test_sets));
  $('filter-classes').replaceChildren(...checks('class', meta.class_names));
  let timer = null;
  const debounced = () => {
    clearTimeout(timer);
    timer = setTimeout(() => applyFilter().catch(showError), 150);
  };
  $('filters').addEventListener('change', debounced);
  $('filters').addEventListener('input', (e) => {
    if (e.target.type === 'number') debounced();
  });
  $('reset-filters').addEventListener('click', () => {
    document.querySelectorAll('#filters input[type=checkbox]').forEach((i) => {
      i.checked = true;
    });
    document.querySelector('input[name="correctness"][value="all"]').checked = true;
    $('conf-min').value = '';
    $('conf-max').value = '';
    applyFilter().catch(showError);
  });
  document.querySelectorAll('.tab').forEach((b) => b.addEventListener('click', () => switchTab(b.dataset.tab)));
  document.querySelectorAll('.tool').forEach((b) =>
    b.addEventListener('click', () => {
      const tool = b.dataset.tool;
      if (tool === 'reset') {
        fitView(true);
        return;
      }
      if (tool === 'clear') {
        scatterplot.deselect({ preventEvent: true });
        clearSelection();
        return;
      }
      document.querySelectorAll('.tool[data-mode]').forEach((t) => t.classList.toggle('active', t === b));
      scatterplot.set(tool === 'pan' ? { mouseMode: 'panZoom' } : { mouseMode: 'lasso', lassoType: tool === 'box' ? 'rectangle' : 'freeform' });
    }),
  );
  showStoreFacts();
}

function showStoreFacts() {
  const meta = state.meta;
  const info = meta.embedding || {};
  $('store-name').textContent = meta.store;
  const health = meta.health || {};
  const balanced = health.imbalanced
    ? ` (${health.split}: balanced accuracy ${fmt.pct(health.balanced_accuracy)})`
    : '';
  $('store-facts').textContent = `${fmt.int(meta.n)} samples · ${meta.test_sets.length} test sets · accuracy ${fmt.pct(meta.accuracy)}${balanced} · map: ${info.description || info.method} of ${info.input}${info.n_fit && info.n_fit < info.n_samples ? ` (${fmt.int(info.n_fit)} laid out, the rest placed by nearest neighbours)` : ''}`;
  if (health.degenerate && $('health-note').hidden) {
    // Said first: every confidence, curve and slice below belongs to a one-class classifier.
    $('health-note').hidden = false;
    $('health-note').textContent = `Degenerate classifier: ${health.reason}. Its confidences rank noise around one class, not failures.`;
  }
  if (meta.export) {
    $('export-note').hidden = false;
    $('export-note').textContent = meta.export.note;
  }
  if (Object.keys(meta.skipped_columns || {}).length) {
    $('skipped').textContent = `Not colourable: ${Object.entries(meta.skipped_columns)
      .map(([k, v]) => `${k} (${v})`)
      .join('; ')}`;
  }
}

// regl-scatterplot treats the mouse-up of a lasso that closes where it started as a click
// on the nearest point, which would replace the lasso's selection by one point. A lasso
// drag that travelled more than a few pixels therefore swallows its click.
function guardLassoClick() {
  const map = $('map');
  let start = null;
  let travelled = 0;
  map.addEventListener(
    'mousedown',
    (e) => {
      const lassoing = e.shiftKey || scatterplot.get('mouseMode') === 'lasso';
      start = lassoing ? [e.clientX, e.clientY] : null;
      travelled = 0;
    },
    true,
  );
  map.addEventListener(
    'mousemove',
    (e) => {
      if (start) travelled = Math.max(travelled, Math.hypot(e.clientX - start[0], e.clientY - start[1]));
    },
    true,
  );
  map.addEventListener(
    'click',
    (e) => {
      if (start && travelled > 8) e.stopPropagation();
      start = null;
    },
    true,
  );
}

function attachHover() {
  const card = $('hover');
  const canvas = $('canvas');
  const cache = new Map();
  let current = null;
  let mouse = [0, 0];
  let inside = false;
  canvas.addEventListener('mousemove', (e) => {
    const box = canvas.getBoundingClientRect();
    mouse = [e.clientX - box.left, e.clientY - box.top];
    inside = true;
    if (!card.hidden) place();
  });
  const place = () => {
    const box = canvas.getBoundingClientRect();
    const w = card.offsetWidth;
    const h = card.offsetHeight;
    const left = mouse[0] + 16 + w > box.width ? mouse[0] - 16 - w : mouse[0] + 16;
    const top = Math.min(Math.max(8, mouse[1] - h / 2), box.height - h - 8);
    card.style.left = `${left}px`;
    card.style.top = `${top}px`;
  };
  scatterplot.subscribe('pointOver', async (i) => {
    const row = rowOf(i);
    current = row;
    try {
      if (!cache.has(row)) cache.set(row, await backend.sample(row));
      if (cache.size > 500) cache.delete(cache.keys().next().value);
      // regl-scatterplot re-announces the last hovered point after redraws: show the card
      // only while the mouse is over the map.
      if (current !== row || !inside) return;
      renderHover(card, cache.get(row), context());
      card.hidden = false;
      place();
      probe.hovered = row;
    } catch (error) {
      showError(error);
    }
  });
  const hide = () => {
    current = null;
    card.hidden = true;
  };
  scatterplot.subscribe('pointOut', hide);
  canvas.addEventListener('mousedown', hide);
  canvas.addEventListener('mouseleave', () => {
    inside = false;
    hide();
  });
}

// Selections from the map: a lasso is hit-tested against every row once it ends (its
// polygon is in the same coordinates as the points); a click selects one drawn point.
function attachSelection() {
  let lassoing = false;
  let modifiers = { merge: false, remove: false };
  // regl-scatterplot reads Cmd (merge) and Alt (remove) from the mouse-up that ends a lasso.
  window.addEventListener(
    'mouseup',
    (e) => {
      modifiers = { merge: e.metaKey, remove: e.altKey };
    },
    true,
  );
  scatterplot.subscribe('lassoStart', () => {
    lassoing = true;
  });
  scatterplot.subscribe('lassoEnd', async ({ coordinates }) => {
    probe.timings.selectStart = performance.now();
    const { x, y } = await state.positions;
    const t0 = performance.now();
    let { bits } = pointsInPolygon(x, y, coordinates, state.meta.n);
    probe.timings.hitTest = performance.now() - t0;
    lassoing = false;
    if (state.selection && (modifiers.merge || modifiers.remove)) {
      bits = combineMasks(state.selection.bits, bits, modifiers.remove ? 'remove' : 'merge');
    }
    const count = countBits(bits);
    if (!count) {
      clearSelection();
      return;
    }
    state.selection = { bits, count };
    switchTab('selection');
    requestStats();
  });
  scatterplot.subscribe('select', ({ points }) => {
    if (lassoing) return; // the lassoEnd handler selects from every row
    probe.timings.selectStart = performance.now();
    const rows = Array.from(points, rowOf);
    state.selection = { bits: packMask(rows, state.meta.n), count: rows.length };
    switchTab('selection');
    requestStats();
  });
  scatterplot.subscribe('deselect', () => {
    if (!lassoing) clearSelection();
  });
}

function showDrawnNote() {
  const { n } = state.meta;
  const drawn = state.meta.drawn;
  if (!drawn.subsampled) return;
  const note = $('drawn-note');
  note.textContent = `Drawing ${fmt.int(drawn.n)} of ${fmt.int(n)} points (a stratified sample: every test set, class and error group stays visible). Lasso, filters and statistics use all ${fmt.int(n)}.`;
  note.hidden = false;
}

// After the first paint: every row's position (for lasso hit-testing), then the colour-by
// columns of the drawn rows, so that a switch needs no request.
async function prefetch() {
  const { x, y } = await state.positions;
  probe.positionsReady = x.length;
  for (const c of state.meta.columns) {
    if (!c.key.startsWith('slice:')) await column(c.key).catch(() => null);
  }
  probe.prefetched = true;
}

async function laidOutSize(element) {
  for (let i = 0; i < 250; i++) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && box.height > 0) return box;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return element.getBoundingClientRect();
}

// The map's scatterplot. Above 500,000 drawn points it draws squares without alpha
// blending ("performance mode", fixed at creation): half the cost per frame in software WebGL.
function createMap(canvas, width, height, performanceMode) {
  return createScatterplot({
    renderer,
    canvas,
    width,
    height,
    backgroundColor: '#0f1216',
    pointSizeSelected: 1,
    pointOutlineWidth: 1,
    opacityInactiveScale: 0.25,
    pointColorActive: '#ffd34d',
    pointColorHover: '#ffffff',
    lassoColor: '#ffd34d',
    lassoMinDelay: 5,
    lassoClearEvent: 'deselect',
    performanceMode,
    // Cloning the points into a worker costs more than indexing them in place.
    spatialIndexUseWorker: false,
    // Events reach the handlers at once instead of in a later task (setTimeout), which
    // waits behind the frame being drawn: tens of milliseconds of a lasso's statistics.
    syncEvents: true,
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function describeProgress(p) {
  const share = p.fraction > 0 && p.fraction < 1 ? ` (${Math.round(p.fraction * 100)}%)` : '';
  return `${p.stage}${share}`;
}

// While the server opens (and, the first time, prepares) the store, the page says what it
// waits for instead of staying blank; stopped once the data has arrived.
function watchLoading() {
  let stopped = false;
  const note = $('progress-note');
  (async () => {
    await sleep(300); // a prepared store answers before: no flash of the note
    while (!stopped && backend.live) {
      try {
        const p = await backend.progress();
        if (stopped) break;
        note.hidden = false;
        note.textContent = `Preparing the viewer: ${describeProgress(p)}…`;
      } catch {
        // the data request reports a failure to load
      }
      await sleep(500);
    }
  })();
  return () => {
    stopped = true;
    note.hidden = true;
  };
}

// A provisional map (the first two principal components of a store never viewed) is drawn
// at once; the server computes the real layout meanwhile. When it is ready the new
// coordinates replace the drawn ones (colours, filters and selection are kept).
async function watchLayout() {
  const info = state.meta.embedding || {};
  if (!backend.live || !info.provisional) return;
  const note = $('progress-note');
  note.hidden = false;
  for (;;) {
    let p;
    try {
      p = await backend.progress();
    } catch (error) {
      note.textContent = `The map keeps its provisional layout: ${error.message}`;
      return;
    }
    if (p.error) {
      note.textContent = p.error;
      return;
    }
    if (p.layout === 'final') break;
    note.textContent = `Provisional map (first two principal components) while the layout is computed: ${describeProgress(p)}…`;
    await sleep(1000);
  }
  await useNewLayout();
  note.hidden = true;
}

async function useNewLayout() {
  const meta = await backend.meta();
  state.meta.bounds = meta.bounds;
  state.meta.embedding = meta.embedding;
  const rows = state.drawn ? 'drawn' : 'all';
  const [x, y] = await Promise.all([backend.column('x', rows), backend.column('y', rows)]);
  state.points = normalise(x, y);
  state.rows = Array.from(state.z, (z, i) => [state.points.x[i], state.points.y[i], z]);
  await scatterplot.draw(state.rows, { zDataType: 'categorical', preventFilterReset: true });
  state.spatialIndex = scatterplot.get('spatialIndex');
  state.positions = state.drawn
    ? Promise.all([backend.column('x'), backend.column('y')]).then(([ax, ay]) => normalise(ax, ay))
    : Promise.resolve(state.points);
  fitView(true);
  showStoreFacts();
  probe.layoutVersion = (probe.layoutVersion || 0) + 1;
  document.body.dataset.layout = 'final';
}

async function main() {
  const t0 = performance.now();
  const metaRequest = backend.meta();
  const stopWatching = watchLoading();
  const canvas = $('canvas');
  // Inside a notebook frame the canvas can still be unlaid (0 x 0) here; the scatterplot's
  // camera would then get a null projection, so wait for a size first.
  const { width, height } = await laidOutSize(canvas);
  // The WebGL context and the scatterplot (slow to set up in software WebGL) are made while
  // the server answers, which it does once it has read the store.
  const tCreate = performance.now();
  renderer = createDirectRenderer(canvas);
  scatterplot = createMap(canvas, width, height, false);
  const tCreated = performance.now();
  try {
    state.meta = await metaRequest;
  } finally {
    stopWatching();
  }
  const tMeta = performance.now();
  state.csf = state.meta.default_csf;
  const n = state.meta.n;
  const columnsRequest = (async () => {
    if (state.meta.drawn.subsampled) {
      state.drawn = await backend.drawnRows();
      state.drawnPosition = new Int32Array(n).fill(-1);
      for (let i = 0; i < state.drawn.length; i++) state.drawnPosition[state.drawn[i]] = i;
    }
    return Promise.all([column('x'), column('y'), column('correct')]);
  })();
  const nDrawn = state.meta.drawn.n;
  if (nDrawn >= 500000) {
    scatterplot.destroy(); // keeps the renderer, which was passed in
    scatterplot = createMap(canvas, width, height, true);
  }
  scatterplot.set({
    pointSize: nDrawn > 500000 ? 2 : nDrawn > 100000 ? 3 : nDrawn > 10000 ? 4 : 7,
    opacity: nDrawn > 100000 ? 0.6 : 0.9,
  });
  const [x, y, correct] = await columnsRequest;
  delete state.columns.x;
  delete state.columns.y;
  probe.timings.fetch = performance.now() - t0;
  state.points = normalise(x, y);
  const encoding = encodingFor(describeColumn('correct'));
  setPalette();
  state.z = zCodes(describeColumn('correct'), correct, null, state.palette.offsets.correct);
  state.rows = Array.from(state.z, (z, i) => [state.points.x[i], state.points.y[i], z]);
  const tPoints = performance.now();
  await scatterplot.draw(state.rows, { zDataType: 'categorical' });
  fitView(false);
  await nextDraw();
  frameDone();
  await new Promise(requestAnimationFrame);
  probe.timings.firstPaint = performance.now();
  probe.timings.draw = performance.now() - t0;
  // Where the first paint's time goes in the page; the scatterplot's creation overlaps the
  // requests.
  probe.timings.firstPaintParts = {
    create: tCreated - tCreate,
    metaAfterCreate: tMeta - tCreated,
    columns: probe.timings.fetch - (tMeta - t0),
    points: tPoints - t0 - probe.timings.fetch,
    frames: probe.timings.firstPaint - tPoints,
  };
  state.spatialIndex = scatterplot.get('spatialIndex');
  state.positions = state.drawn
    ? Promise.all([backend.column('x'), backend.column('y')]).then(([ax, ay]) => normalise(ax, ay))
    : Promise.resolve(state.points);
  renderLegend(describeColumn('correct'), encoding);
  buildControls();
  showDrawnNote();
  attachHover();
  attachSelection();
  guardLassoClick();
  renderSelection($('selection-panel'), null, context());
  $('shown').textContent = `${fmt.int(n)} of ${fmt.int(n)} shown`;
  new ResizeObserver(() => {
    const box = canvas.parentElement.getBoundingClientRect();
    scatterplot.set({ width: box.width, height: box.height });
  }).observe(canvas.parentElement);
  probe.scatterplot = scatterplot;
  probe.state = state;
  probe.selectRows = (rows) => selectRows(packMask(rows, n));
  probe.ready = true;
  document.body.dataset.ready = 'true';
  prefetch().catch(showError);
  watchLayout().catch(showError);
}

main().catch((error) => {
  showError(error);
  document.body.dataset.ready = 'error';
});
