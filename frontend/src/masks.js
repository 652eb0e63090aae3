// Row sets as bit masks: row i is bit (i % 8) of byte (i >> 3), as in silentscope.viewer.queries.
export const packMask = (indices, n) => {
  const bits = new Uint8Array((n + 7) >> 3);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    bits[i >> 3] |= 1 << (i & 7);
  }
  return bits;
};

export const countBits = (bits) => {
  let count = 0;
  for (let b = 0; b < bits.length; b++) {
    let v = bits[b];
    while (v) {
      v &= v - 1;
      count++;
    }
  }
  return count;
};

export const maskIndices = (bits, n) => {
  const out = new Uint32Array(countBits(bits));
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (bits[i >> 3] & (1 << (i & 7))) out[k++] = i;
  }
  return out;
};

export const hasBit = (bits, i) => (bits[i >> 3] & (1 << (i & 7))) !== 0;

// Union (merge) or difference (remove) of two masks of the same length.
export const combineMasks = (a, b, op) => {
  const out = new Uint8Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = op === 'remove' ? a[k] & ~b[k] : a[k] | b[k];
  return out;
};
