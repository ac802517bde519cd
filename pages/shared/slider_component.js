export default function ({ data, setTriggerValue, parentElement }) {
  const root = parentElement.querySelector('.lat-root');
  const m = (window.__latentMetrics = window.__latentMetrics || {
    drags: 0, drawsDuringDrag: 0, inputsDuringDrag: 0, dragMs: 0, liveDecodes: 0, releaseLatencyMs: null,
    releaseSource: null, exactShown: 0, browserExact: 0, browserVsServerMaxDiff: null,
  });
  const st = root.__lat || (root.__lat = { imgs: new Map(), dragging: null, pendingRelease: null, polls: 0 });
  if (st.abort) st.abort.abort();
  const abort = (st.abort = new AbortController());
  const opt = { signal: abort.signal };
  const size = data.size;
  const decoders = (window.__vaeDecoders = window.__vaeDecoders || new Map());  // model token -> decoder
  const dinfo = data.decoder || {};
  if (dinfo.spec && !decoders.has(dinfo.token)) {
    try {
      const built = buildDecoder(dinfo.spec);
      decoders.set(dinfo.token, built);
      let warm = 0;  // a few decodes while idle get the hot loops compiled before the first release needs them
      const warmUp = () => { built.decode(new Float32Array(built.latentDim)); if (++warm < 6) setTimeout(warmUp, 50); };
      setTimeout(warmUp, 0);
      while (decoders.size > 2) decoders.delete(decoders.keys().next().value);
    } catch (err) {
      console.warn('Latent sliders: the browser decoder is unavailable; exact images come from the server.', err);
    }
  }
  const dec = decoders.get(dinfo.token) || null;
  if (!dec && dinfo.token && !dinfo.spec) {  // e.g. after a reload: ask for it, every 2 s until it comes
    let timer = 0;
    const ask = () => {
      if (decoders.has(dinfo.token)) return;
      st.askedDecoderAt = performance.now();
      setTriggerValue('need_decoder', dinfo.token);
      timer = setTimeout(ask, 2000);
    };
    timer = setTimeout(ask, Math.max(0, 2000 - (performance.now() - (st.askedDecoderAt ?? -1e9))));
    abort.signal.addEventListener('abort', () => clearTimeout(timer));
  }
  root.dataset.browserDecoder = dec ? '1' : '0';
  const structure = JSON.stringify([data.model, size, data.dims.map((d) => [d.dim, d.active])]);

  function image(src) {
    let im = st.imgs.get(src);
    if (!im) {
      im = new Image();
      im.src = src;
      st.imgs.set(src, im);
      if (st.imgs.size > 400) st.imgs.delete(st.imgs.keys().next().value);
    }
    return im;
  }

  if (st.structure !== structure) {  // (re)build the DOM only when the set of sliders changes
    st.structure = structure;
    root.innerHTML = '';
    const view = document.createElement('div');
    view.className = 'lat-view';
    view.innerHTML = `<figure><canvas class="lat-main" width="${size}" height="${size}"></canvas>
      <figcaption>Decoded texture</figcaption></figure>
      <figure><canvas class="lat-tiled" width="${2 * size}" height="${2 * size}"></canvas>
      <figcaption>Tiled 2×2 (seams show here)</figcaption></figure>`;
    const column = document.createElement('div');
    column.className = 'lat-column';
    const panel = document.createElement('div');
    panel.className = 'lat-sliders';
    panel.innerHTML = '<div class="lat-note"></div>';
    const more = document.createElement('div');
    more.className = 'lat-more';
    column.append(panel, more);
    const inactive = document.createElement('details');
    inactive.className = 'lat-inactive';
    st.rows = new Map();
    st.src = new Map();  // dim -> the latest sprite received (kept while the server decodes newer ones)
    st.srcToken = new Map();  // dim -> the exact_token (code) that sprite belongs to
    for (const d of data.dims) {
      const row = document.createElement('div');
      row.className = 'lat-row';
      row.dataset.dim = d.dim;
      row.innerHTML = `<label title="${d.hint}">${d.label}</label>
        <canvas class="lat-end" width="${size}" height="${size}" title="Slider at its left end"></canvas>
        <input type="range" min="0" max="1000" step="1" aria-label="Latent dimension ${d.dim}">
        <canvas class="lat-end" width="${size}" height="${size}" title="Slider at its right end"></canvas>
        <span class="lat-val"></span>`;
      (d.active ? panel : inactive).appendChild(row);
      st.rows.set(d.dim, row);
    }
    const nInactive = data.dims.filter((d) => !d.active).length;
    if (nInactive) {
      inactive.insertAdjacentHTML('afterbegin',
        `<summary>Inactive dimensions (${nInactive}): the model ignores these</summary>`);
      panel.appendChild(inactive);
    }
    root.append(view, column);
    st.main = view.querySelector('.lat-main');
    st.tiled = view.querySelector('.lat-tiled');
    st.note = panel.querySelector('.lat-note');
    st.shown = null;
    const hint = () => {  // the list scrolls inside its box: say how many sliders are out of sight below
      const bottom = panel.scrollTop + panel.clientHeight;
      const below = [...panel.querySelectorAll(':scope > .lat-row')].filter((r) => r.offsetTop + r.offsetHeight / 2 > bottom).length;
      more.textContent = below ? `${below} more slider${below === 1 ? '' : 's'} below: scroll the list ↓` : '';
    };
    panel.addEventListener('scroll', hint, { passive: true });
    requestAnimationFrame(hint);
  }

  const byDim = new Map(data.dims.map((d) => [d.dim, d]));
  const z = data.z.slice();
  const frac = (d, v) => Math.min(1, Math.max(0, (v - d.lo) / (d.hi - d.lo)));
  const fmt = (v) => (v >= 0 ? '+' : '') + v.toFixed(2);
  function drawEnds(dim, src) {  // the strip's first and last frames beside the track: what each end looks like
    const row = st.rows.get(dim), im = image(src);
    const draw = () => {
      if (st.src.get(dim) !== src) return;  // a newer strip came meanwhile
      const [lo, hi] = row.querySelectorAll('canvas.lat-end');
      lo.getContext('2d').drawImage(im, 0, 0, size, size, 0, 0, size, size);
      hi.getContext('2d').drawImage(im, (data.frames - 1) * size, 0, size, size, 0, 0, size, size);
      row.classList.add('has-ends');
    };
    if (im.complete && im.naturalWidth) draw(); else im.addEventListener('load', draw, { once: true });
  }
  for (const d of data.dims) {  // the server sends each strip once; the panel keeps it
    if (d.src) st.src.set(d.dim, d.src), st.srcToken.set(d.dim, data.exact_token), drawEnds(d.dim, d.src);
  }
  const ready = (d) => st.srcToken.get(d.dim) === data.exact_token;  // holds a strip for the current code
  const staleCount = data.dims.filter((d) => d.active && !ready(d)).length;
  const sliders = `${staleCount} slider${staleCount === 1 ? '' : 's'}`;
  st.note.textContent = !staleCount
    ? 'Drag a slider: the picture follows as you move it. The small pictures show each end of a slider.'
    : dec
      ? `Getting ${sliders} ready for smooth dragging (marked ·); you can drag them already.`
      : `Getting ${sliders} ready (marked ·); until then they show an older preview while you drag.`;
  root.dataset.stripsReady = staleCount ? '0' : '1';

  function blit() {
    const t = st.tiled.getContext('2d');
    for (const [x, y] of [[0, 0], [size, 0], [0, size], [size, size]]) t.drawImage(st.main, x, y);
  }
  function drawPreview(d, f) {  // cross-fade of the two pre-decoded frames either side of f in [0, 1]
    const src = st.src.get(d.dim);
    const im = src && image(src);
    if (!im || !im.complete || !im.naturalWidth) return false;
    const s = data.frames - 1, pos = f * s, i = Math.min(Math.floor(pos), s - 1), w = pos - i;
    const c = st.main.getContext('2d');
    c.globalAlpha = 1;
    c.drawImage(im, i * size, 0, size, size, 0, 0, size, size);
    if (w > 0) {
      c.globalAlpha = w;
      c.drawImage(im, (i + 1) * size, 0, size, size, 0, 0, size, size);
      c.globalAlpha = 1;
    }
    blit();
    return true;
  }
  function drawDecoded(code) {  // the exact decode of code, computed in this browser
    const t = performance.now(), pixels = dec.rgba(dec.decode(code));
    st.lastDecodeMs = performance.now() - t;
    st.main.getContext('2d').putImageData(new ImageData(pixels, size, size), 0, 0);
    blit();
  }
  function releaseLatency(t0, source) {
    m.releaseLatencyMs = performance.now() - t0;
    m.releaseDecodeMs = st.lastDecodeMs;
    m.releaseSource = source;
    root.dataset.releaseLatencyMs = m.releaseLatencyMs.toFixed(1);
  }
  function releaseCode(code, t0) {  // on release: the exact picture here at once, then the code to the server
    const send = () => setTriggerValue('release', { z: code, at: Date.now() });
    if (!dec) return send();
    drawDecoded(code);
    st.browserZ = code.slice();
    m.browserExact += 1;
    requestAnimationFrame(() => {  // runs just before the frame that shows it is painted
      releaseLatency(t0, 'browser');
      send();  // after the paint is scheduled, so that sending does not delay the picture
    });
  }
  const sameCode = (a, b) => a && b && a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 1e-5);
  function maxDiff(im) {  // the server's picture against the one on screen (both exact decodes of one code)
    const c = document.createElement('canvas');
    c.width = c.height = size;
    const ctx = c.getContext('2d');
    ctx.drawImage(im, 0, 0);
    const a = ctx.getImageData(0, 0, size, size).data;
    const b = st.main.getContext('2d').getImageData(0, 0, size, size).data;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    return worst;
  }
  function drawExact() {
    if (st.pendingRelease !== null) m.releaseToDataMs = performance.now() - st.pendingRelease;
    const im = image(data.exact);
    const show = () => {
      if (st.dragging) return;
      if (sameCode(st.browserZ, data.z)) m.browserVsServerMaxDiff = maxDiff(im);
      st.main.getContext('2d').drawImage(im, 0, 0);
      blit();
      st.shown = data.exact_token;
      m.exactShown += 1;
      root.dataset.exactToken = m.exactToken = data.exact_token;
      if (st.pendingRelease !== null) {
        if (!sameCode(st.browserZ, data.z)) releaseLatency(st.pendingRelease, 'server');
        st.pendingRelease = null;
      }
    };
    if (im.complete && im.naturalWidth) show(); else im.addEventListener('load', show, { once: true, ...opt });
  }

  for (const [dim, row] of st.rows) {
    const d = byDim.get(dim);
    const input = row.querySelector('input');
    const val = row.querySelector('.lat-val');
    row.classList.toggle('stale', d.active && !ready(d));
    if (!st.dragging || st.dragging.dim !== dim) {
      input.value = Math.round(frac(d, z[dim]) * 1000);
      val.textContent = fmt(z[dim]);
    }
    let target = 0, shown = 0, raf = 0;
    const tick = () => {  // ease the picture towards the thumb: smooth motion between input events
      raf = 0;
      if (!st.dragging || st.dragging.dim !== dim) return;
      const next = Math.abs(target - shown) < 1e-4 ? target : shown + (target - shown) * 0.35;
      if (next !== shown || st.dragging.first) {
        st.dragging.first = false;
        shown = next;
        if (!ready(d) && dec) {  // no strip for this code (yet, or an inactive slider): decode exactly instead
          const code = z.slice();
          code[dim] = d.lo + shown * (d.hi - d.lo);
          drawDecoded(code);
          m.drawsDuringDrag += 1;
          m.liveDecodes += 1;
        } else if (drawPreview(d, shown)) {
          m.drawsDuringDrag += 1;
        }
      }
      if (shown !== target) raf = requestAnimationFrame(tick);
    };
    input.addEventListener('pointerdown', () => {
      st.dragging = { dim, t0: performance.now(), first: true };
      shown = target = Number(input.value) / 1000;
      m.drags += 1; m.drawsDuringDrag = 0; m.inputsDuringDrag = 0; m.dragMs = 0;
      root.dataset.dragging = '1';
    }, opt);
    input.addEventListener('input', () => {
      target = Number(input.value) / 1000;
      z[dim] = d.lo + target * (d.hi - d.lo);
      val.textContent = fmt(z[dim]);
      if (st.dragging) {
        m.inputsDuringDrag += 1;
        if (!raf) raf = requestAnimationFrame(tick);
      } else if (dec) {  // keyboard: no drag, show the exact picture at once
        drawDecoded(z);
      } else {
        drawPreview(d, target);
      }
    }, opt);
    const release = () => {
      if (!st.dragging || st.dragging.dim !== dim) return;
      m.dragMs = performance.now() - st.dragging.t0;
      st.dragging = null;
      root.dataset.dragging = '0';
      st.pendingRelease = st.releasedAt = performance.now();
      releaseCode(z, st.pendingRelease);
    };
    input.addEventListener('pointerup', release, opt);
    input.addEventListener('lostpointercapture', release, opt);
    input.addEventListener('change', () => {  // keyboard or a click without a drag
      if (st.dragging || performance.now() - (st.releasedAt || -1e9) < 1000) return;
      st.pendingRelease = performance.now();
      releaseCode(z, st.pendingRelease);
    }, opt);
  }

  if (st.shown !== data.exact_token) drawExact();
  if (data.poll !== undefined) {  // previews still decoding on the server: ask again shortly (not mid-drag)
    let timer = 0;
    const poll = () => { timer = st.dragging ? setTimeout(poll, 300) : (setTriggerValue('poll', ++st.polls), 0); };
    timer = setTimeout(poll, 700);
    abort.signal.addEventListener('abort', () => clearTimeout(timer));
  }
  return () => abort.abort();
}
