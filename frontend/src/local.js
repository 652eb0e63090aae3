// The queries of silentscope.viewer.queries, in the browser, for an exported page without a
// server. Same conventions: risk-coverage curves group tied confidences and add a coverage-0
// point carrying the risk of the most confident tie group (silentscope.metrics).
import { maskIndices, packMask } from './masks.js';

export function riskCoverageCurve(confidence, correct) {
  const n = confidence.length;
  const order = Array.from(confidence.keys()).sort((a, b) => confidence[b] - confidence[a]);
  const coverage = [0];
  const risk = [];
  const generalized = [0];
  let total = 0;
  let errors = 0;
  for (let k = 0; k < n; ) {
    const c = confidence[order[k]];
    while (k < n && confidence[order[k]] === c) {
      total += 1;
      errors += correct[order[k]] ? 0 : 1;
      k++;
    }
    coverage.push(total / n);
    risk.push(errors / total);
    generalized.push(errors / n);
  }
  risk.unshift(risk[0]);
  let aurc = 0;
  let augrc = 0;
  for (let j = 1; j < coverage.length; j++) {
    const width = coverage[j] - coverage[j - 1];
    aurc += (width * (risk[j] + risk[j - 1])) / 2;
    augrc += (width * (generalized[j] + generalized[j - 1])) / 2;
  }
  return { coverage, risk, aurc, augrc, errorRate: n ? errors / n : 0 };
}

const thin = (values, index) => index.map((i) => values[i]);

export function embeddedQueries(payload, columns) {
  const meta = payload.meta;
  const n = meta.n;
  const correct = columns.correct; // 0 = correct, 1 = incorrect
  const label = columns.class;
  const prediction = columns.prediction;
  const testSet = columns.test_set;
  const conf = (csf) => columns[`conf:${csf || meta.default_csf}`];

  const filterMask = (spec = {}) => {
    const keep = new Uint8Array(n).fill(1);
    const restrict = (names, known, codes) => {
      if (!names) return;
      const allowed = new Set(names.map((name) => known.indexOf(name)));
      for (let i = 0; i < n; i++) if (!allowed.has(codes[i])) keep[i] = 0;
    };
    restrict(spec.test_sets, meta.test_sets, testSet);
    restrict(spec.classes, meta.class_names, label);
    restrict(spec.predicted, meta.class_names, prediction);
    if (spec.correctness === 'correct') for (let i = 0; i < n; i++) keep[i] &= correct[i] === 0;
    if (spec.correctness === 'incorrect') for (let i = 0; i < n; i++) keep[i] &= correct[i] === 1;
    if (spec.confidence_min != null || spec.confidence_max != null) {
      const values = conf(spec.csf);
      for (let i = 0; i < n; i++) {
        if (spec.confidence_min != null && values[i] < spec.confidence_min) keep[i] = 0;
        if (spec.confidence_max != null && values[i] > spec.confidence_max) keep[i] = 0;
      }
    }
    return keep;
  };

  const rowsOf = (keep) => {
    const rows = [];
    for (let i = 0; i < n; i++) if (keep[i]) rows.push(i);
    return rows;
  };

  const curveStats = (rows, values) => {
    if (!rows.length) return { n: 0, accuracy: null, aurc: null, augrc: null };
    const c = rows.map((i) => values[i]);
    const ok = rows.map((i) => correct[i] === 0);
    const curve = riskCoverageCurve(c, ok);
    return { n: rows.length, accuracy: ok.filter(Boolean).length / rows.length, aurc: curve.aurc, augrc: curve.augrc };
  };

  const shares = (codes, names, sel, rest) => {
    const a = new Array(names.length).fill(0);
    const b = new Array(names.length).fill(0);
    for (const i of sel) a[codes[i]]++;
    for (const i of rest) b[codes[i]]++;
    const na = Math.max(1, sel.length);
    const nb = Math.max(1, rest.length);
    return names
      .map((name, k) => ({ name, count: a[k], share: a[k] / na, share_rest: b[k] / nb }))
      .filter((_, k) => a[k] || b[k]);
  };

  const enrichment = (sel, rest) => {
    const items = [];
    const na = sel.length;
    const nb = rest.length;
    if (!na || !nb) return items;
    for (const column of meta.columns) {
      if (column.group !== 'metadata') continue;
      const values = columns[column.key];
      if (!values) continue;
      if (column.kind === 'categorical') {
        column.categories.forEach((value, k) => {
          let ka = 0;
          let kb = 0;
          for (const i of sel) ka += values[i] === k;
          for (const i of rest) kb += values[i] === k;
          if (ka < 3) return;
          const pooled = (ka + kb) / (na + nb);
          const se = Math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb));
          const z = se > 0 ? (ka / na - kb / nb) / se : 0;
          items.push({ column: column.label, value, kind: 'share', selection: ka / na, rest: kb / nb, z });
        });
      } else {
        const va = sel.map((i) => values[i]).filter(Number.isFinite);
        const vb = rest.map((i) => values[i]).filter(Number.isFinite);
        if (va.length < 3 || vb.length < 2) continue;
        const mean = (v) => v.reduce((s, x) => s + x, 0) / v.length;
        const variance = (v, m) => v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1);
        const ma = mean(va);
        const mb = mean(vb);
        const se = Math.sqrt(variance(va, ma) / va.length + variance(vb, mb) / vb.length);
        items.push({ column: column.label, value: 'mean', kind: 'mean', selection: ma, rest: mb, z: se > 0 ? (ma - mb) / se : 0 });
      }
    }
    return items.sort((p, q) => Math.abs(q.z) - Math.abs(p.z)).slice(0, 10);
  };

  return {
    filter: (spec) => packMask(rowsOf(filterMask(spec)), n),
    selection: (bits, spec, csf) => {
      const keep = filterMask(spec);
      const chosen = new Uint8Array(n);
      for (const i of maskIndices(bits, n)) chosen[i] = keep[i];
      const sel = [];
      const rest = [];
      for (let i = 0; i < n; i++) {
        if (chosen[i]) sel.push(i);
        else if (keep[i]) rest.push(i);
      }
      const values = conf(csf);
      const wrong = sel.filter((i) => correct[i] === 1).sort((p, q) => values[q] - values[p]).slice(0, 20);
      const others = sel.filter((i) => !wrong.includes(i)).slice(0, 40 - wrong.length);
      const images = [...wrong, ...others];
      return {
        n: sel.length,
        n_rest: rest.length,
        csf: csf || meta.default_csf,
        selection: curveStats(sel, values),
        rest: curveStats(rest, values),
        classes: shares(label, meta.class_names, sel, rest),
        predicted: shares(prediction, meta.class_names, sel, rest),
        test_sets: shares(testSet, meta.test_sets, sel, rest),
        enrichment: enrichment(sel, rest),
        terms: { status: 'export', items: [] },
        images,
        image_correct: images.map((i) => correct[i] === 0),
        image_confidence: images.map((i) => values[i]),
      };
    },
    riskCoverage: (spec, csf) => {
      const keep = filterMask(spec);
      const values = conf(csf);
      const groups = [['all shown', () => true], ...meta.test_sets.map((name, k) => [name, (i) => testSet[i] === k])];
      const curves = [];
      for (const [name, member] of groups) {
        const rows = rowsOf(keep).filter(member);
        if (!rows.length) continue;
        const curve = riskCoverageCurve(
          rows.map((i) => values[i]),
          rows.map((i) => correct[i] === 0),
        );
        const m = curve.coverage.length;
        const index = [...new Set(Array.from({ length: Math.min(300, m) }, (_, j) => Math.round((j * (m - 1)) / Math.max(1, Math.min(300, m) - 1))))];
        curves.push({
          name,
          n: rows.length,
          aurc: curve.aurc,
          augrc: curve.augrc,
          error_rate: curve.errorRate,
          coverage: thin(curve.coverage, index),
          risk: thin(curve.risk, index),
        });
      }
      return { csf: csf || meta.default_csf, curves };
    },
    failures: (spec, csf, k) => {
      const keep = filterMask(spec);
      const values = conf(csf);
      return meta.test_sets
        .map((name, code) => {
          const rows = rowsOf(keep).filter((i) => testSet[i] === code);
          const wrong = rows.filter((i) => correct[i] === 1).sort((p, q) => values[q] - values[p]);
          const top = wrong.slice(0, k);
          return { test_set: name, n: rows.length, n_errors: wrong.length, rows: top, confidence: top.map((i) => values[i]) };
        })
        .filter((group) => group.n > 0);
    },
    representatives: (spec, k) => {
      const keep = filterMask(spec);
      return payload.representatives.map((g) => {
        const shown = g.rows.map((row, j) => j).filter((j) => keep[g.rows[j]]).slice(0, k);
        return { ...g, rows: shown.map((j) => g.rows[j]), correct: shown.map((j) => g.correct[j]) };
      });
    },
    sample: (row) => {
      const samples = payload.samples;
      return {
        row,
        sample_id: samples.sample_id[row],
        metadata: Object.fromEntries(Object.entries(samples.metadata).map(([name, values]) => [name, values[row]])),
        text: samples.text_codes ? samples.texts[samples.text_codes[row]] : null,
        test_set: meta.test_sets[testSet[row]],
        label: meta.class_names[label[row]],
        prediction: meta.class_names[prediction[row]],
        correct: correct[row] === 0,
        confidences: Object.fromEntries(meta.csfs.map((name) => [name, columns[`conf:${name}`][row]])),
        has_image: Boolean(payload.thumbnails[row]),
      };
    },
    sliceRows: (source, index) => packMask(payload.slices[source][index], n),
  };
}
