// Relays clicks on the Latent map while a drag selects (box or lasso), which Streamlit's chart ignores.
//
// Streamlit answers a click on a Plotly chart only while its drag mode is pan or zoom: in box and
// lasso mode it sets Plotly's clickmode to 'event', so a click selects nothing and reaches no one.
// This element finds the map (the chart whose container has the class st-key-<chart_key>), listens
// to Plotly's own plotly_click there, and sends the clicked trace and point to Python as the trigger
// value 'click'. In pan and zoom mode it stays quiet: Streamlit's selection already carries the click.
//
// A finished box or lasso stays drawn as an outline that catches the pointer (to be moved or edited),
// so a click on a dot inside it would reach nothing: the outline is made transparent to the pointer.
export default function ({ data, setTriggerValue }) {
  const styleId = `map-click-${data.chart_key}`;
  if (!document.getElementById(styleId)) {
    const style = document.createElement('style');
    style.id = styleId;
    style.textContent = `.st-key-${data.chart_key} .selectionlayer path { pointer-events: none !important; }`;
    document.head.appendChild(style);
  }
  let gd = null;
  let timer = 0;
  const onClick = (ev) => {
    const mode = gd && gd._fullLayout ? gd._fullLayout.dragmode : null;
    const p = ev && ev.points && ev.points[0];
    if ((mode !== 'select' && mode !== 'lasso') || !p) return;
    setTriggerValue('click', { figure: data.figure, curve: p.curveNumber, index: p.pointNumber, at: Date.now() });
  };
  const attach = () => {  // the chart may be drawn after this element, and redrawn as a new element later
    const el = document.querySelector(`.st-key-${data.chart_key} .js-plotly-plot`);
    if (el && el !== gd && typeof el.on === 'function') {
      if (gd && gd.removeListener) gd.removeListener('plotly_click', onClick);
      gd = el;
      gd.on('plotly_click', onClick);
    }
    timer = setTimeout(attach, 500);
  };
  attach();
  return () => {
    clearTimeout(timer);
    if (gd && gd.removeListener) gd.removeListener('plotly_click', onClick);
  };
}
