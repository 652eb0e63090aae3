// Where the data comes from: the API server (live) or data embedded in an exported page.
import { embeddedQueries } from './local.js';

export { maskIndices, packMask } from './masks.js';

const DTYPES = { float32: Float32Array, int16: Int16Array, uint8: Uint8Array, uint32: Uint32Array };

class HttpBackend {
  constructor() {
    this.live = true;
  }

  async json(response) {
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  async post(path, body, signal) {
    const binary = body instanceof Uint8Array;
    return fetch(path, {
      method: 'POST',
      headers: {
        'X-Silentscope': '1',
        'Content-Type': binary ? 'application/octet-stream' : 'application/json',
      },
      body: binary ? body : JSON.stringify(body),
      signal,
    });
  }

  // Where the server's preparation stands: stage, fraction, layout (none, provisional,
  // final) and layout_version, which grows when a better layout replaces the drawn one.
  async progress() {
    return this.json(await fetch('api/progress'));
  }

  async meta() {
    return this.json(await fetch('api/meta'));
  }

  async typed(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: ${response.statusText}`);
    const Type = DTYPES[response.headers.get('X-Dtype')];
    return new Type(await response.arrayBuffer());
  }

  // A column of every row, or (rows = 'drawn') of the drawn rows only.
  async column(key, rows = 'all') {
    return this.typed(`api/column/${encodeURIComponent(key)}?rows=${rows}`);
  }

  // The rows the map draws (a stratified subsample of a large store).
  async drawnRows() {
    return this.typed('api/drawn');
  }

  async filter(spec) {
    const response = await this.post('api/filter', { filter: spec });
    if (!response.ok) throw new Error((await response.json()).error);
    return new Uint8Array(await response.arrayBuffer());
  }

  async selection(bits, spec, csf, signal) {
    const query = `csf=${encodeURIComponent(csf)}&filter=${encodeURIComponent(JSON.stringify(spec))}`;
    return this.json(await this.post(`api/selection?${query}`, bits, signal));
  }

  async riskCoverage(spec, csf) {
    return this.json(await this.post('api/risk_coverage', { filter: spec, csf }));
  }

  async failures(spec, csf, k) {
    return this.json(await this.post('api/failures', { filter: spec, csf, k }));
  }

  async representatives(spec, k) {
    return this.json(await this.post('api/representatives', { filter: spec, k }));
  }

  async sample(row) {
    return this.json(await fetch(`api/sample/${row}`));
  }

  thumbnailUrl(row) {
    return `api/thumbnail/${row}`;
  }

  async sliceRows(source, index) {
    const response = await fetch(`api/slice/${encodeURIComponent(source)}/${index}`);
    if (!response.ok) throw new Error((await response.json()).error);
    return new Uint8Array(await response.arrayBuffer());
  }

  async saveSlice(name, bits, overwrite) {
    const query = `name=${encodeURIComponent(name)}${overwrite ? '&overwrite=1' : ''}`;
    return this.json(await this.post(`api/slices?${query}`, bits));
  }
}

class EmbeddedBackend {
  constructor(payload) {
    this.live = false;
    this.payload = payload;
    this.columns = {};
    for (const [key, encoded] of Object.entries(payload.columns)) {
      const bytes = Uint8Array.from(atob(encoded.data), (c) => c.charCodeAt(0));
      this.columns[key] = new DTYPES[encoded.dtype](bytes.buffer);
    }
    this.queries = embeddedQueries(payload, this.columns);
  }

  async progress() {
    return { stage: 'ready', fraction: 1, layout: 'final', layout_version: 0, error: null };
  }

  async meta() {
    return this.payload.meta;
  }

  async column(key, rows = 'all') {
    if (!(key in this.columns)) throw new Error(`column ${key} is not in this export`);
    const values = this.columns[key];
    const drawn = this.columns.drawn;
    if (rows !== 'drawn' || !drawn) return values;
    const out = new values.constructor(drawn.length);
    for (let k = 0; k < drawn.length; k++) out[k] = values[drawn[k]];
    return out;
  }

  async drawnRows() {
    return this.columns.drawn;
  }

  async filter(spec) {
    return this.queries.filter(spec);
  }

  async selection(bits, spec, csf) {
    return this.queries.selection(bits, spec, csf);
  }

  async riskCoverage(spec, csf) {
    return this.queries.riskCoverage(spec, csf);
  }

  async failures(spec, csf, k) {
    return this.queries.failures(spec, csf, k);
  }

  async representatives(spec, k) {
    return this.queries.representatives(spec, k);
  }

  async sample(row) {
    return this.queries.sample(row);
  }

  thumbnailUrl(row) {
    return this.payload.thumbnails[row] || null;
  }

  async sliceRows(source, index) {
    return this.queries.sliceRows(source, index);
  }

  async saveSlice() {
    throw new Error('saving slices needs the live viewer (silentscope view STORE)');
  }
}

export function createBackend() {
  const embedded = document.getElementById('silentscope-data');
  if (embedded) return new EmbeddedBackend(JSON.parse(embedded.textContent));
  return new HttpBackend();
}
