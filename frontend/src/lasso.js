// Lasso hit-testing on every row, not only the drawn ones: a large store draws a subsample,
// but a selection's statistics must count every sample inside the lasso.

// Rows whose (x, y) lie inside the polygon (even-odd rule, as regl-scatterplot and
// point-in-polygon use), as a bit mask (row i is bit i % 8 of byte i >> 3) and a count.
// Rows outside the polygon's bounding box are skipped with four comparisons; the others
// test only the edges that cross their horizontal band, so a free-hand lasso of hundreds
// of vertices costs about as much as a rectangle.
export function pointsInPolygon(x, y, polygon, n = x.length) {
  const bits = new Uint8Array((n + 7) >> 3);
  const m = polygon.length;
  if (m < 3) return { bits, count: 0 };
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const [px, py] of polygon) {
    if (px < x0) x0 = px;
    if (px > x1) x1 = px;
    if (py < y0) y0 = py;
    if (py > y1) y1 = py;
  }
  const nBands = Math.max(1, Math.min(256, m));
  const bandHeight = (y1 - y0) / nBands || 1;
  const bands = Array.from({ length: nBands }, () => []);
  for (let a = 0, b = m - 1; a < m; b = a++) {
    const lo = Math.min(polygon[a][1], polygon[b][1]);
    const hi = Math.max(polygon[a][1], polygon[b][1]);
    const first = Math.max(0, Math.floor((lo - y0) / bandHeight));
    const last = Math.min(nBands - 1, Math.floor((hi - y0) / bandHeight));
    for (let k = first; k <= last; k++) bands[k].push(polygon[a][0], polygon[a][1], polygon[b][0], polygon[b][1]);
  }
  const edges = bands.map((list) => Float64Array.from(list));
  let count = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    if (!(xi >= x0 && xi <= x1 && yi >= y0 && yi <= y1)) continue;
    const band = edges[Math.min(nBands - 1, Math.floor((yi - y0) / bandHeight))];
    let inside = false;
    for (let e = 0; e < band.length; e += 4) {
      const ax = band[e];
      const ay = band[e + 1];
      const bx = band[e + 2];
      const by = band[e + 3];
      if (ay > yi !== by > yi && xi < ((bx - ax) * (yi - ay)) / (by - ay) + ax) inside = !inside;
    }
    if (inside) {
      bits[i >> 3] |= 1 << (i & 7);
      count++;
    }
  }
  return { bits, count };
}
