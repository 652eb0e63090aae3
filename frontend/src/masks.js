// Row sets as bit masks: row i is bit (i % 8) of byte (i >> 3), as in silentscope.viewer.queries.
export const packMask = (indices, n) => {
  const bits = new Uint8Array((n + 7) >> 3);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    bits[i >> 3] |= 1 << (i & 7);
  }
  return bits;
};

export const maskIndices = (bits, n) => {
  let count = 0;
  for (let b = 0; b < bits.length; b++) {
    let v = bits[b];
    while (v) {
      v &= v - 1;
      count++;
    }
  }
  const out = new Uint32Array(count);
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (bits[i >> 3] & (1 << (i & 7))) out[k++] = i;
  }
  return out;
};
