// The Streamlit component protocol (API v1, spoken by hand: no build step) shared by the
// catalogue map's two components: map.js (2-D) and map3d.js (3-D).
//
// The value sent back to Python is {seq, event, ...extra()}: `seq` counts every value sent,
// `event` is the last selection event ({seq, kind, ...}, its own seq counting events), which
// rides along with every later value (a view change or a shard request sent right after it
// must not hide it); Python acts on each event seq once.

// render(args): draw what Python sent (one at a time: a draw must finish before the next
// starts); extra(): the rest of the value ({view, need}); statusEl: where an error is said,
// `what` naming the view ("The map"); onError: called after an error is shown; eseq: the
// first event seq, random by default: a frame Streamlit creates anew (a view switched away and
// back, 2-D -> 3-D -> 2-D) would otherwise count from 0 again and could repeat the seq Python
// last acted on, so that its first selection would be taken for one already done and ignored.
export function connect({ render, extra, statusEl, what, onError = () => {},
                          eseq = Math.floor(Math.random() * 1e9) }) {
  let seq = 0, lastEvent = null;
  function post(type, data) {
    window.parent.postMessage({ isStreamlitMessage: true, type, ...data }, "*");
  }
  function send(event) {
    seq += 1;
    if (event) { eseq += 1; lastEvent = { ...event, seq: eseq }; }
    post("streamlit:setComponentValue", { dataType: "json", value: { seq, event: lastEvent, ...extra() } });
  }
  function setHeight() {
    post("streamlit:setFrameHeight", { height: document.documentElement.scrollHeight });
  }
  function showError(err) {
    statusEl.textContent = `${what} could not be drawn: ` + (err && err.message ? err.message : err);
    document.body.dataset.state = "error";
    console.error(err);
    onError(err);
  }
  let rendering = Promise.resolve();
  window.addEventListener("message", (e) => {
    if (e.data && e.data.type === "streamlit:render") {
      const a = e.data.args;
      rendering = rendering.then(() => render(a)).catch(showError);
    }
  });
  post("streamlit:componentReady", { apiVersion: 1 });
  return { send, setHeight, showError };
}

// a bytes arg as a Uint8Array (they arrive as Uint8Array views, maybe unaligned)
export function u8(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return new Uint8Array(v.buffer || []);
}

// what a selection gesture does to the selection, from the keys held as it ends: Shift adds
// to it, Alt takes away from it, neither replaces it (sent as the event's `op`; none: replace)
export function selectOp(e) {
  return e.shiftKey ? "add" : e.altKey ? "remove" : undefined;
}
export const withOp = (event, op) => (op ? { ...event, op } : event);
