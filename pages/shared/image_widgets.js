// Two small image widgets (Components v2, inline, no CDN): a before/after comparison slider and
// a picture that reports where it was clicked (to place a hole). See image_widgets.py.
export default function ({ data, setTriggerValue, parentElement }) {
  const root = parentElement.querySelector('.iw-root');
  if (data.mode === 'compare') compare(root, data);
  else pick(root, data, setTriggerValue);
}

function frame(root, data) {
  const box = document.createElement('div');
  box.className = 'iw-frame';
  box.style.aspectRatio = `${data.width} / ${data.height}`;
  box.style.maxWidth = `${data.max_width}px`;
  root.replaceChildren(box);
  return box;
}

function img(src, cls) {
  const el = document.createElement('img');
  el.src = src;
  el.className = cls;
  el.draggable = false;
  el.alt = '';
  return el;
}

function compare(root, data) {
  const st = root.__iw || (root.__iw = { pos: 50 });
  const box = frame(root, data);
  box.dataset.testid = 'compare-slider';
  const under = img(data.left, 'iw-img');
  const over = img(data.right, 'iw-img iw-over');
  const handle = document.createElement('div');
  handle.className = 'iw-handle';
  handle.tabIndex = 0;
  handle.setAttribute('role', 'slider');
  handle.setAttribute('aria-label', `Drag to compare ${data.left_label} (left) and ${data.right_label} (right)`);
  handle.setAttribute('aria-valuemin', '0');
  handle.setAttribute('aria-valuemax', '100');
  const labels = [['iw-label iw-left', data.left_label], ['iw-label iw-right', data.right_label]].map(([cls, text]) => {
    const el = document.createElement('span');
    el.className = cls;
    el.textContent = text;
    return el;
  });
  box.append(under, over, handle, ...labels);
  const show = (pos) => {
    st.pos = Math.min(100, Math.max(0, pos));
    over.style.clipPath = `inset(0 0 0 ${st.pos}%)`;
    handle.style.left = `${st.pos}%`;
    handle.setAttribute('aria-valuenow', String(Math.round(st.pos)));
  };
  const fromEvent = (e) => {
    const r = box.getBoundingClientRect();
    show(((e.clientX - r.left) / r.width) * 100);
  };
  box.addEventListener('pointerdown', (e) => {
    box.setPointerCapture(e.pointerId);
    fromEvent(e);
    const move = (ev) => fromEvent(ev);
    const up = () => {
      box.removeEventListener('pointermove', move);
      box.removeEventListener('pointerup', up);
    };
    box.addEventListener('pointermove', move);
    box.addEventListener('pointerup', up);
  });
  handle.addEventListener('keydown', (e) => {
    const step = e.shiftKey ? 10 : 2;
    if (e.key === 'ArrowLeft') show(st.pos - step);
    else if (e.key === 'ArrowRight') show(st.pos + step);
    else return;
    e.preventDefault();
  });
  show(st.pos);
}

function pick(root, data, setTriggerValue) {
  const box = frame(root, data);
  box.dataset.testid = 'click-to-place';
  box.classList.add('iw-pick');
  const rect = document.createElement('div');
  rect.className = 'iw-rect';
  box.append(img(data.image, 'iw-img'), rect);
  const place = ([top, left, h, w]) => {
    Object.assign(rect.style, {
      top: `${(100 * top) / data.height}%`,
      left: `${(100 * left) / data.width}%`,
      height: `${(100 * h) / data.height}%`,
      width: `${(100 * w) / data.width}%`,
    });
  };
  if (data.hole) place(data.hole);
  rect.style.display = data.hole ? 'block' : 'none';
  box.addEventListener('click', (e) => {
    const r = box.getBoundingClientRect();
    const x = Math.round(((e.clientX - r.left) / r.width) * data.width);
    const y = Math.round(((e.clientY - r.top) / r.height) * data.height);
    if (data.hole) {  // move the outline at once; the page redraws the hole itself after its rerun
      const [, , h, w] = data.hole;
      place([y - h / 2, x - w / 2, h, w]);
    }
    setTriggerValue('click', { x, y });
  });
}
