// Texture VAE decoder in plain JavaScript: runs the dict made by vae_core.browser_decoder.decoder_spec.
// Same arithmetic as ConvVAE.decode and CoefVAE.decode, in float32 buffers; no dependencies, no network.
// buildDecoder(spec) -> { decode(z) -> Float32Array (C*H*W, in [0, 1]), rgba(pixels) -> Uint8ClampedArray,
//                         size, channels, latentDim }

function buildDecoder(spec) {
  const bin = atob(spec.weights);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const all = new Float32Array(bytes.buffer);  // little-endian, as on every platform browsers run on
  const ref = (r) => all.subarray(r[0], r[0] + r[1]);
  const prep = (layers) => layers.map((L) => ({
    ...L,
    w: L.w ? ref(L.w) : null,
    b: L.b ? ref(L.b) : null,
    body: L.body ? prep(L.body) : null,
  }));
  const lin = (L) => L && { n: L.in, m: L.out, w: ref(L.w), b: ref(L.b) };
  const fromLatent = lin(spec.from_latent), linDec = lin(spec.lin_dec);
  const decoder = prep(spec.decoder), refine = spec.refine ? prep(spec.refine) : null;
  const C = spec.channels, S = spec.size;

  function linear(L, x) {
    const out = new Float32Array(L.m);
    for (let o = 0; o < L.m; o++) {
      let s = L.b[o];
      for (let i = 0, r = o * L.n; i < L.n; i++) s += L.w[r + i] * x[i];
      out[o] = s;
    }
    return out;
  }

  function padded(x, p) {  // zero border of p pixels: the inner loops then need no bounds checks
    const Hp = x.h + 2 * p, Wp = x.w + 2 * p, out = new Float32Array(x.c * Hp * Wp);
    for (let c = 0; c < x.c; c++) {
      for (let y = 0; y < x.h; y++) out.set(x.d.subarray((c * x.h + y) * x.w, (c * x.h + y + 1) * x.w), (c * Hp + y + p) * Wp + p);
    }
    return { Hp, Wp, d: out };
  }

  function conv(L, x) {  // 3x3, stride 1, padding 1 (the exporter allows no other)
    const { cin, cout, w } = L, Ho = x.h, Wo = x.w, plane = Ho * Wo;
    const { Hp, Wp, d: inp } = padded(x, 1), out = new Float32Array(cout * plane);
    for (let co = 0; co < cout; co++) {
      const ob = co * plane;
      out.fill(L.b[co], ob, ob + plane);
      for (let ci = 0; ci < cin; ci++) {
        const ib = ci * Hp * Wp, wb = (co * cin + ci) * 9;
        const w0 = w[wb], w1 = w[wb + 1], w2 = w[wb + 2], w3 = w[wb + 3], w4 = w[wb + 4];
        const w5 = w[wb + 5], w6 = w[wb + 6], w7 = w[wb + 7], w8 = w[wb + 8];
        for (let oy = 0; oy < Ho; oy++) {  // nine taps per output, one store
          const r0 = ib + oy * Wp, r1 = r0 + Wp, r2 = r1 + Wp, o = ob + oy * Wo;
          for (let ox = 0; ox < Wo; ox++) {
            out[o + ox] += w0 * inp[r0 + ox] + w1 * inp[r0 + ox + 1] + w2 * inp[r0 + ox + 2]
              + w3 * inp[r1 + ox] + w4 * inp[r1 + ox + 1] + w5 * inp[r1 + ox + 2]
              + w6 * inp[r2 + ox] + w7 * inp[r2 + ox + 1] + w8 * inp[r2 + ox + 2];
          }
        }
      }
    }
    return { c: cout, h: Ho, w: Wo, d: out };
  }

  function convT(L, x) {  // transposed 4x4, stride 2, padding 1 (the exporter allows no other): doubles the size
    const { cin, cout, w } = L, H = x.h, W = x.w, Ho = 2 * H, Wo = 2 * W, plane = Ho * Wo;
    const out = new Float32Array(cout * plane);
    const { Hp, Wp, d: inp } = padded(x, 1);
    for (let co = 0; co < cout; co++) {
      const ob = co * plane;
      out.fill(L.b[co], ob, ob + plane);
      for (let ci = 0; ci < cin; ci++) {
        const ib = ci * Hp * Wp, wb = (ci * cout + co) * 16;
        // Output row 2a+ry gathers input rows a+ry (ky = 1-ry) and a+ry-1 (ky = 3-ry); columns likewise.
        for (let ry = 0; ry < 2; ry++) {
          for (let rx = 0; rx < 2; rx++) {
            const ky0 = 1 - ry, ky1 = 3 - ry, kx0 = 1 - rx, kx1 = 3 - rx;
            const w00 = w[wb + ky0 * 4 + kx0], w01 = w[wb + ky0 * 4 + kx1];
            const w10 = w[wb + ky1 * 4 + kx0], w11 = w[wb + ky1 * 4 + kx1];
            for (let a = 0; a < H; a++) {
              const r0 = ib + (a + 1 + ry) * Wp + 1 + rx, r1 = r0 - Wp, o = ob + (2 * a + ry) * Wo + rx;
              for (let b = 0; b < W; b++) {
                out[o + 2 * b] += w00 * inp[r0 + b] + w01 * inp[r0 + b - 1] + w10 * inp[r1 + b] + w11 * inp[r1 + b - 1];
              }
            }
          }
        }
      }
    }
    return { c: cout, h: Ho, w: Wo, d: out };
  }

  function groupNorm(L, x) {
    const { groups, eps, w, b } = L, per = x.c / groups, plane = x.h * x.w, n = per * plane;
    const out = new Float32Array(x.d.length);
    for (let g = 0; g < groups; g++) {
      const start = g * n;
      let mean = 0, sq = 0;
      for (let i = 0; i < n; i++) mean += x.d[start + i];
      mean /= n;
      for (let i = 0; i < n; i++) sq += (x.d[start + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(sq / n + eps);
      for (let c = g * per; c < (g + 1) * per; c++) {
        for (let i = c * plane; i < (c + 1) * plane; i++) out[i] = (x.d[i] - mean) * inv * w[c] + b[c];
      }
    }
    return { ...x, d: out };
  }

  const map = (x, f) => ({ ...x, d: x.d.map(f) });
  function run(layers, x) {
    for (const L of layers) {
      if (L.op === 'conv') x = conv(L, x);
      else if (L.op === 'convT') x = convT(L, x);
      else if (L.op === 'gn') x = groupNorm(L, x);
      else if (L.op === 'silu') x = map(x, (v) => v / (1 + Math.exp(-v)));
      else if (L.op === 'linear') x = { c: L.out, h: 1, w: 1, d: linear({ n: L.in, m: L.out, w: L.w, b: L.b }, x.d) };
      else if (L.op === 'sigmoid') x = map(x, (v) => 1 / (1 + Math.exp(-v)));
      else if (L.op === 'res') {
        const y = run(L.body, x);
        x = { ...y, d: y.d.map((v, i) => v + x.d[i]) };
      } else throw new Error(`unknown layer ${L.op}`);
    }
    return x;
  }

  function decode(z) {
    const zf = Float32Array.from(z);
    let x = fromLatent  // a ConvVAE starts from 4x4 maps; a CoefVAE's layers read the code itself
      ? run(decoder, { c: spec.top, h: 4, w: 4, d: linear(fromLatent, zf) })
      : run(decoder, { c: zf.length, h: 1, w: 1, d: zf });
    let out = x.d;
    if (linDec) {
      const l = linear(linDec, zf);
      for (let i = 0; i < out.length; i++) out[i] += l[i];
    } else {
      out = out.map((v) => 1 / (1 + Math.exp(-v)));
    }
    if (refine) {
      const r = run(refine, { c: C, h: S, w: S, d: out.map((v) => v * 2 - 1) }).d;
      for (let i = 0; i < out.length; i++) out[i] += r[i];
    }
    for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, out[i]));
    return out;
  }

  function rgba(pixels) {  // (C, H, W) in [0, 1] -> RGBA bytes for ImageData, grey replicated
    const n = S * S, px = new Uint8ClampedArray(4 * n);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) px[4 * i + c] = Math.round(pixels[(C === 1 ? 0 : c) * n + i] * 255);
      px[4 * i + 3] = 255;
    }
    return px;
  }

  return { decode, rgba, size: S, channels: C, latentDim: spec.latent_dim };
}
