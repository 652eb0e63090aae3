// Colour encodings: every colour-by column becomes an integer z per point (0 = missing)
// and a palette, so regl-scatterplot draws it as categories.

export const MISSING = '#4a4f57';
export const CORRECT = '#5aa9e6';
export const INCORRECT = '#ff5a4f';
export const N_BINS = 64;

// Tableau 20 reordered so neighbours differ; cycles beyond 20 categories.
const CATEGORICAL = [
  '#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#edc948', '#76b7b2', '#ff9da7',
  '#9c755f', '#bab0ac', '#a0cbe8', '#ffbe7d', '#8cd17d', '#ff9d9a', '#d4a6c8', '#f1ce63',
  '#86bcb6', '#fabfd2', '#d7b5a6', '#79706e',
];

// Viridis stops (matplotlib) without its darkest fifth, which vanishes on the dark
// background; interpolated to N_BINS colours.
const VIRIDIS = [
  [65, 68, 135], [53, 95, 141], [42, 120, 142], [33, 145, 140],
  [34, 168, 132], [68, 191, 112], [122, 209, 81], [189, 223, 38], [253, 231, 37],
];

const hex = (rgb) => `#${rgb.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;

export const sequential = (n = N_BINS) =>
  Array.from({ length: n }, (_, i) => {
    const t = (i / Math.max(1, n - 1)) * (VIRIDIS.length - 1);
    const lo = Math.floor(t);
    const hi = Math.min(VIRIDIS.length - 1, lo + 1);
    const f = t - lo;
    return hex(VIRIDIS[lo].map((v, k) => v + (VIRIDIS[hi][k] - v) * f));
  });

export const categoricalColor = (i) => CATEGORICAL[i % CATEGORICAL.length];

// The palette and legend of a column description from /api/meta.
export function encodingFor(column) {
  if (column.key === 'correct') {
    return {
      palette: [MISSING, CORRECT, INCORRECT],
      legend: [
        { label: 'correct', color: CORRECT },
        { label: 'incorrect', color: INCORRECT },
      ],
      continuous: false,
    };
  }
  if (column.kind === 'categorical') {
    const colors = column.categories.map((_, i) => categoricalColor(i));
    const legend = column.categories.map((label, i) => ({ label, color: colors[i] }));
    if (column.missing > 0) legend.push({ label: 'missing / none', color: MISSING });
    return { palette: [MISSING, ...colors], legend, continuous: false };
  }
  const colors = sequential();
  return {
    palette: [MISSING, ...colors],
    legend: [],
    gradient: colors,
    min: column.min,
    max: column.max,
    continuous: true,
  };
}

// One palette holding every column's colours, and where each column's part starts. A
// colour switch then only rewrites the z codes: changing the scatterplot's palette would cost
// a second frame (regl-scatterplot redraws after every set()).
export function combinedPalette(columns) {
  const palette = [];
  const offsets = {};
  for (const column of columns) {
    offsets[column.key] = palette.length;
    palette.push(...encodingFor(column).palette);
  }
  return { palette, offsets };
}

// z codes (Float32Array: regl-scatterplot's state texture is float) for a column's values:
// indices into its palette, plus ``offset`` where that palette starts in a combined one.
export function zCodes(column, values, out, offset = 0) {
  const z = out && out.length === values.length ? out : new Float32Array(values.length);
  if (column.kind === 'categorical') {
    const first = offset + 1;
    for (let i = 0; i < values.length; i++) z[i] = values[i] + first;
    return z;
  }
  const lo = column.min;
  const span = column.max - column.min || 1;
  const top = N_BINS - 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) {
      const b = Math.floor(((v - lo) / span) * N_BINS);
      z[i] = offset + 1 + (b < 0 ? 0 : b > top ? top : b);
    } else {
      z[i] = offset;
    }
  }
  return z;
}
