// minik dashboard: the cluster as the server's watch caches see it.
//
// The server streams a snapshot ("reset") and then batches of deltas
// ("delta") over Server-Sent Events; each delta is applied to the maps
// below at once, and the page is redrawn at most once per animation frame,
// only where something changed. Nothing here polls.
'use strict';

// ---- The model: compact objects by kind and id (see dashboard/src/compact.rs).
const M = { pod: new Map(), node: new Map(), deploy: new Map(), rs: new Map(), svc: new Map(), slice: new Map(), sts: new Map(), pvc: new Map(), step: new Map() };
let feed = [];                 // Events, oldest first, at most FEED
const FEED = 500;
const history = new Map();     // deployment id → [{t, sizes: {rs name: replicas}}]
const HISTORY = 300;
// Beyond these the map shows nodes as cells with counts instead of pods as boxes.
const DETAILED_NODES = 40, DETAILED_PODS = 1500;
// When each pod first appeared on screen (epoch ms), for the latency benchmark.
window.minikSeen = {};
let dirty = new Set();         // pod ids changed since the last frame
let changed = new Set();       // kinds changed since the last frame
let everything = true;         // the whole view must be redrawn (a new route)

function apply(d) {
  if (d.op === 'del') {
    if (d.k === 'ev') { feed = feed.filter(e => e.id !== d.id); }
    else { M[d.k].delete(d.id); }
    if (d.k === 'pod') dirty.add(d.id);
    changed.add(d.k);
    return;
  }
  const o = d.o;
  if (o.k === 'ev') {
    const i = feed.findIndex(e => e.id === o.id);
    if (i >= 0) feed[i] = o; else { feed.push(o); if (feed.length > FEED) feed.shift(); }
    changed.add('ev');
    return;
  }
  M[o.k].set(o.id, o);
  if (o.k === 'pod') dirty.add(o.id);
  changed.add(o.k);
  if (o.k === 'rs' && o.owner.startsWith('Deployment/')) record(o.ns + '/' + o.owner.slice(11));
}

// A point in a Deployment's rollout history: every ReplicaSet's size now.
function record(dep) {
  const sizes = {};
  for (const rs of M.rs.values()) if (rs.ns + '/' + rs.owner.slice(11) === dep && rs.owner.startsWith('Deployment/')) sizes[rs.name] = rs.replicas;
  const h = history.get(dep) || [];
  h.push({ t: Date.now(), sizes });
  if (h.length > HISTORY) h.shift();
  history.set(dep, h);
}

// ---- The stream.
function connect() {
  const status = document.getElementById('status');
  const es = new EventSource('api/stream');
  es.addEventListener('reset', ev => {
    for (const k in M) M[k].clear();
    feed = [];
    for (const o of JSON.parse(ev.data)) apply({ op: 'put', o });
    for (const rs of M.rs.values()) if (rs.owner.startsWith('Deployment/')) record(rs.ns + '/' + rs.owner.slice(11));
    everything = true;
    status.textContent = 'live'; status.className = '';
    schedule();
  });
  es.addEventListener('delta', ev => { for (const d of JSON.parse(ev.data)) apply(d); schedule(); });
  es.onerror = () => { status.textContent = 'reconnecting…'; status.className = 'down'; };
}

let frame = 0;
function schedule() { if (!frame) frame = requestAnimationFrame(timed); }
// How long redraws take (the benchmark reads it: a frame over 50 ms is a visible stall).
window.minikFrames = { count: 0, total: 0, max: 0 };
function timed() {
  const t = performance.now();
  render();
  const f = window.minikFrames, d = performance.now() - t;
  f.count++; f.total += d; f.max = Math.max(f.max, d);
}

// ---- Small helpers.
const esc = s => String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const view = () => document.getElementById('view');
// Redraws the view with `html`, keeping what was typed into its inputs (and focus).
function redraw(html) {
  const typed = [...view().querySelectorAll('input[id]')].map(i => [i.id, i.value]);
  const focused = document.activeElement && document.activeElement.id;
  view().innerHTML = html;
  for (const [id, value] of typed) { const i = document.getElementById(id); if (i) i.value = value; }
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}
const route = () => (location.hash || '#/map').slice(2).split('/').map(decodeURIComponent);
function podClass(p) {
  let c = 'pod';
  if (p.deleting) c += ' deleting';
  else if (p.phase === 'Failed' || p.trouble === 'CrashLoopBackOff' || p.trouble === 'OOMKilled' || p.trouble === 'Error') c += ' failed trouble';
  else if (p.phase === 'Succeeded') c += ' succeeded';
  else if (p.phase === 'Running' && p.ready) c += ' ready';
  return c;
}
const podTitle = p => `${p.ns}/${p.name}: ${p.phase}${p.ready ? ', ready' : ', not ready'}${p.trouble ? ' (' + p.trouble + ')' : ''}${p.restarts ? ', ' + p.restarts + ' restarts' : ''}${p.node ? ' on ' + p.node : ', no node'}`;
function link(ref) {
  if (!ref || !ref.name) return '';
  const text = `${esc(ref.kind)}/${esc(ref.name)}`;
  if (ref.kind === 'Pod') return `<a href="#/pod/${esc(ref.ns)}/${esc(ref.name)}">${text}</a>`;
  if (ref.kind === 'Node') return `<a href="#/node/${esc(ref.name)}">${text}</a>`;
  if (ref.kind === 'Deployment' || ref.kind === 'ReplicaSet') return `<a href="#/rollouts">${text}</a>`;
  return text;
}
const seen = (id, now) => { if (!(id in window.minikSeen)) window.minikSeen[id] = now; };

// ---- Classroom controls: one API call each, shown as the kubectl command.
async function act(body) {
  const li = document.createElement('li');
  document.getElementById('commands').prepend(li);
  try {
    const r = await fetch('api/action', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const a = await r.json();
    li.innerHTML = `<code>${esc(a.kubectl)}</code>` + (r.ok ? esc(a.result) : `<span class="err">${r.status}: ${esc(a.message)}</span>`);
  } catch (e) { li.innerHTML = `<span class="err">${esc(e)}</span>`; }
}
document.addEventListener('click', e => {
  const b = e.target.closest('button[data-act]');
  if (!b) return;
  const body = JSON.parse(b.dataset.act);
  if (b.dataset.input) {
    const v = document.getElementById(b.dataset.input).value;
    if (!v) return;
    body[b.dataset.field] = b.dataset.field === 'replicas' ? parseInt(v, 10) : v;
  }
  act(body);
});
const button = (label, body, extra = '') => `<button data-act='${esc(JSON.stringify(body))}' ${extra}>${esc(label)}</button>`;

// ---- Rendering, once per frame.
let shown = '';   // the route the view was last drawn for
function render() {
  frame = 0;
  const r = route();
  const key = r.join('/');
  document.querySelectorAll('header nav a').forEach(a => a.classList.toggle('active', a.getAttribute('href') === '#/' + r[0]));
  const now = performance.timeOrigin + performance.now();
  if (key !== shown) { everything = true; shown = key; }
  const any = (...kinds) => everything || kinds.some(k => changed.has(k));
  switch (r[0]) {
    case 'owners': if (any('pod', 'deploy', 'rs', 'svc', 'slice', 'sts', 'pvc')) owners(); break;
    case 'feed': if (any('ev')) decisions(); break;
    case 'rollouts': if (any('deploy', 'rs')) rollouts(); break;
    case 'pod': if (any('ev', 'rs', 'deploy', 'slice') || dirty.has(r[1] + '/' + r[2])) podPage(r[1], r[2]); break;
    case 'node': if (any('pod', 'node')) nodePage(r[1]); break;
    default: map(now);
  }
  if (everything || changed.has('step')) stepBar();
  everything = false;
  changed = new Set();
  dirty = new Set();
}

// The cluster map. Small clusters: a column per node, a box per pod, boxes
// moved between columns as pods are scheduled and deleted. Large ones: a
// cell per node with its pod count.
let mapMode = '';
const boxes = new Map();     // pod id → element
function map(now) {
  const detailed = M.node.size <= DETAILED_NODES && M.pod.size <= DETAILED_PODS;
  const mode = detailed ? 'detailed' : 'compact';
  const redraw = everything || mode !== mapMode || changed.has('node');
  mapMode = mode;
  if (!detailed) { if (redraw || dirty.size) grid(now); return; }
  if (redraw || !document.getElementById('map')) {
    let html = `<div class="summary" id="summary"></div><div id="map">`;
    const nodes = [...M.node.values()].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
    for (const n of nodes) {
      const cls = 'column' + (n.ready ? '' : ' notready') + (n.unschedulable ? ' cordoned' : '');
      html += `<div class="${cls}" data-node="${esc(n.name)}"><h3><a href="#/node/${esc(n.name)}">${esc(n.name)}</a>` +
        (n.ready ? '' : ' NotReady') + (n.unschedulable ? ' (cordoned)' : '') + (n.stopped ? ' (stopped)' : '') + `<br>` +
        (n.unschedulable ? button('uncordon', { action: 'uncordon', node: n.name }) : button('cordon', { action: 'cordon', node: n.name })) +
        button('drain', { action: 'drain', node: n.name }) + stopButton(n) + `</h3><div class="pods"></div></div>`;
    }
    html += `<div class="column" data-node=""><h3>not scheduled</h3><div class="pods"></div></div></div>`;
    view().innerHTML = html;
    boxes.clear();
    dirty = new Set(M.pod.keys());
  }
  const columns = new Map([...document.querySelectorAll('#map .column')].map(c => [c.dataset.node, c.querySelector('.pods')]));
  for (const id of dirty) {
    const p = M.pod.get(id);
    let el = boxes.get(id);
    if (!p) { if (el) el.remove(); boxes.delete(id); continue; }
    if (!el) {
      el = document.createElement('a');
      el.dataset.pod = id;
      el.href = `#/pod/${encodeURIComponent(p.ns)}/${encodeURIComponent(p.name)}`;
      el.textContent = p.name;
      boxes.set(id, el);
    }
    el.className = podClass(p);
    el.title = podTitle(p);
    const column = columns.get(p.node) || columns.get('');
    if (el.parentNode !== column) column.appendChild(el);
    seen(id, now);
  }
  const pods = [...M.pod.values()];
  document.getElementById('summary').textContent =
    `${M.node.size} nodes, ${pods.length} pods: ${pods.filter(p => p.phase === 'Running' && p.ready).length} ready, ` +
    `${pods.filter(p => !p.node).length} not scheduled. Click a pod for why it is there.`;
}

function grid(now) {
  const per = new Map();
  let unscheduled = 0;
  for (const p of M.pod.values()) {
    if (!p.node) { unscheduled++; continue; }
    const c = per.get(p.node) || { all: 0, ready: 0, trouble: 0 };
    c.all++; if (p.ready) c.ready++; if (podClass(p).includes('failed')) c.trouble++;
    per.set(p.node, c);
  }
  const max = Math.max(1, ...[...per.values()].map(c => c.all));
  let html = `<div class="summary">${M.node.size} nodes, ${M.pod.size} pods (${unscheduled} not scheduled): ` +
    `too many to draw one by one, so each cell is a node and its number the pods on it (green: ready share).</div><div id="grid">`;
  const nodes = [...M.node.values()].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  for (const n of nodes) {
    const c = per.get(n.name) || { all: 0, ready: 0, trouble: 0 };
    const g = Math.round(100 * c.ready / Math.max(1, c.all));
    const bg = c.trouble ? '#ee6c4d' : `linear-gradient(to top, #8bd17c ${g * c.all / max}%, #f4d35e ${g * c.all / max}%, #f4d35e ${100 * c.all / max}%, #eee ${100 * c.all / max}%)`;
    html += `<a class="cell${n.ready ? '' : ' notready'}${n.unschedulable ? ' cordoned' : ''}" href="#/node/${esc(n.name)}" ` +
      `title="${esc(n.name)}: ${c.all} pods, ${c.ready} ready" style="background:${bg}"><b>${c.all}</b>${esc(n.name.replace(/^node-/, ''))}</a>`;
  }
  view().innerHTML = html + '</div>';
  for (const id of dirty) if (M.pod.has(id)) seen(id, now);
}

// The ownership graph: Deployment → ReplicaSets → Pods; StatefulSet → Pods
// → PersistentVolumeClaims; Service → endpoints.
function owners() {
  const many = M.pod.size > DETAILED_PODS;
  const chip = p => `<a class="${podClass(p)}" href="#/pod/${esc(p.ns)}/${esc(p.name)}" title="${esc(podTitle(p))}">${esc(p.name)}</a> `;
  const podsOf = owner => [...M.pod.values()].filter(p => p.owner === owner);
  const chips = list => many ? `${list.length} pods` : list.map(chip).join('');
  let html = '<div class="tree">';
  const namespaces = new Set([...M.deploy.values(), ...M.sts.values(), ...M.svc.values(), ...M.pod.values()].map(o => o.ns));
  for (const ns of [...namespaces].sort()) {
    html += `<h3>namespace ${esc(ns)}</h3><ul>`;
    for (const d of [...M.deploy.values()].filter(d => d.ns === ns)) {
      html += `<li><span class="kind">Deployment</span>${esc(d.name)} — ${d.ready}/${d.replicas} ready` +
        ` <input id="scale-${esc(d.id)}" size="3" placeholder="n">${button('scale', { action: 'scale', namespace: ns, name: d.name }, `data-input="scale-${esc(d.id)}" data-field="replicas"`)}<ul>`;
      for (const rs of [...M.rs.values()].filter(rs => rs.ns === ns && rs.owner === 'Deployment/' + d.name)) {
        html += `<li><span class="kind">ReplicaSet</span>${esc(rs.name)} (revision ${esc(rs.revision)}, ${esc(rs.image)}) ${rs.ready}/${rs.desired}<ul><li>${chips(podsOf('ReplicaSet/' + rs.name))}</li></ul></li>`;
      }
      html += '</ul></li>';
    }
    const claim = name => {
      const c = M.pvc.get(ns + '/' + name);
      return `<span class="kind">PVC</span>${esc(name)} ` + (c ? `${esc(c.phase)}${c.volume ? ' → ' + esc(c.volume) : ''}${c.size ? ' (' + esc(c.size) + ')' : ''}` : 'missing');
    };
    for (const s of [...M.sts.values()].filter(s => s.ns === ns)) {
      const pods = podsOf('StatefulSet/' + s.name).sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
      html += `<li><span class="kind">StatefulSet</span>${esc(s.name)} — ${s.ready}/${s.replicas} ready<ul>` +
        (many ? `<li>${pods.length} pods</li>` : pods.map(p => `<li>${chip(p)}${p.claims.map(claim).join(', ')}</li>`).join('')) + '</ul></li>';
    }
    for (const s of [...M.svc.values()].filter(s => s.ns === ns)) {
      const slices = [...M.slice.values()].filter(x => x.ns === ns && x.service === s.name);
      const ready = slices.flatMap(x => x.ready), notReady = slices.flatMap(x => x.notReady);
      const ep = name => { const p = M.pod.get(ns + '/' + name); return p ? chip(p) : esc(name) + ' '; };
      html += `<li><span class="kind">Service</span>${esc(s.name)} (${esc(s.type)} ${esc(s.clusterIP)}) → ` +
        (many ? `${ready.length} ready, ${notReady.length} not ready endpoints` :
          (ready.map(ep).join('') || 'no ready endpoints') + (notReady.length ? ' not ready: ' + notReady.map(ep).join('') : '')) + '</li>';
    }
    const bare = [...M.pod.values()].filter(p => p.ns === ns && !p.owner);
    if (bare.length) html += `<li><span class="kind">Pods</span>without an owner: ${chips(bare)}</li>`;
    html += '</ul>';
  }
  redraw(html + '</div>');
}

// The decision feed: every Event, newest first, filterable by any object it names.
let filterText = '';
function decisions() {
  if (!document.getElementById('feed')) {
    view().innerHTML = `<p>Each controller's decisions, as it records them (events.k8s.io Events). Filter: ` +
      `<input id="filter" placeholder="pod, ReplicaSet, node, reason…" size="40" value="${esc(filterText)}"></p><ol id="feed"></ol>`;
    document.getElementById('filter').addEventListener('input', e => { filterText = e.target.value; changed.add('ev'); schedule(); });
  }
  const f = filterText.toLowerCase();
  const text = e => [e.reason, e.note, e.by, e.regarding && e.regarding.kind + '/' + e.regarding.name, e.related && e.related.kind + '/' + e.related.name].join(' ').toLowerCase();
  const shownEvents = feed.filter(e => !f || text(e).includes(f)).slice(-200).reverse();
  document.getElementById('feed').innerHTML = shownEvents.map(e =>
    `<li class="${e.type === 'Warning' ? 'warning' : ''}" data-reason="${esc(e.reason)}"><span class="time">${esc(e.time.slice(11, 19))}</span>` +
    `<span class="reason">${esc(e.reason)}</span>${link(e.regarding)}${e.related ? ' ← caused by ' + link(e.related) : ''}: ${esc(e.note)}` +
    `${e.count > 1 ? ' (x' + e.count + ')' : ''} <span class="by">${esc(e.by)}${e.action ? ' · ' + esc(e.action) : ''}</span></li>`).join('');
}

// The rollout view: each Deployment's ReplicaSets, and their sizes over time.
function rollouts() {
  let html = '';
  for (const d of [...M.deploy.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const sets = [...M.rs.values()].filter(rs => rs.ns === d.ns && rs.owner === 'Deployment/' + d.name)
      .sort((a, b) => (+b.revision) - (+a.revision));
    const c = d.containers[0] || { name: '', image: '' };
    const base = { namespace: d.ns, name: d.name };
    html += `<div class="rollout" data-deployment="${esc(d.id)}"><b>Deployment ${esc(d.id)}</b> — ${d.replicas} wanted, ${d.updated} up to date, ${d.ready} ready${d.paused ? ' (paused)' : ''}<br>` +
      `<input id="r-${esc(d.id)}" size="3" placeholder="${d.replicas}">${button('scale', { action: 'scale', ...base }, `data-input="r-${esc(d.id)}" data-field="replicas"`)} ` +
      `<input id="i-${esc(d.id)}" size="22" placeholder="${esc(c.image)}">${button('set image', { action: 'setImage', ...base, container: c.name }, `data-input="i-${esc(d.id)}" data-field="image"`)} ` +
      button('rollout undo', { action: 'undo', ...base }) +
      `<table><tr><th>revision</th><th>ReplicaSet</th><th>image</th><th>size</th><th>ready</th></tr>` +
      sets.map(rs => `<tr><td>${esc(rs.revision)}</td><td>${esc(rs.name)}</td><td>${esc(rs.image)}</td><td>${rs.replicas}/${rs.desired}</td><td>${rs.ready}</td></tr>`).join('') +
      `</table>${chart(history.get(d.id) || [], sets.map(s => s.name))}</div>`;
  }
  redraw(html || '<p>No Deployments yet. Try <code>kubectl apply -f examples/rolling-update/</code>.</p>');
}

// ReplicaSet sizes over time as lines (newest revision first in `names`).
function chart(points, names) {
  if (points.length < 1 || !names.length) return '';
  const W = 600, H = 120, t0 = points[0].t, t1 = Math.max(t0 + 1000, points[points.length - 1].t);
  const max = Math.max(1, ...points.flatMap(p => Object.values(p.sizes)));
  const colours = ['#2a9d8f', '#e76f51', '#8d99ae', '#e9c46a', '#264653'];
  const x = t => 30 + (W - 40) * (t - t0) / (t1 - t0), y = v => H - 15 - (H - 25) * v / max;
  let svg = `<svg class="chart" width="${W}" height="${H}"><text x="2" y="12" font-size="10">${max}</text><text x="2" y="${H - 15}" font-size="10">0</text>`;
  names.slice(0, 5).forEach((name, i) => {
    let d = '', last = 0;
    for (const p of points) { const v = p.sizes[name] || 0; d += `${d ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(last).toFixed(1)}L${x(p.t).toFixed(1)},${y(v).toFixed(1)}`; last = v; }
    d += `L${x(t1)},${y(last)}`;
    svg += `<path d="${d}" fill="none" stroke="${colours[i]}" stroke-width="2"/><text x="${W - 200}" y="${12 + 11 * i}" font-size="10" fill="${colours[i]}">${esc(name)}${i === 0 ? ' (newest)' : ''}</text>`;
  });
  return svg + '</svg>';
}

// A pod's page: its `why` trace (the same text as `miniktl why pod/NAME`).
let whyTimer = 0;
function podPage(ns, name) {
  const p = M.pod.get(ns + '/' + name);
  if (!document.getElementById('why') || view().dataset.pod !== ns + '/' + name) {
    view().dataset.pod = ns + '/' + name;
    view().innerHTML = `<h2>Pod ${esc(ns)}/${esc(name)}</h2><p id="podline"></p>` +
      `<p>${button('delete pod', { action: 'delete', namespace: ns, name })}</p><h3>Why (miniktl why pod/${esc(name)})</h3><pre id="why">…</pre>`;
  }
  document.getElementById('podline').textContent = p ? podTitle(p) : 'gone: no such pod in the cluster now';
  // The trace reads Events and owners too: fetched a moment after changes settle.
  clearTimeout(whyTimer);
  whyTimer = setTimeout(async () => {
    const r = await fetch(`api/why/pod/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`);
    const el = document.getElementById('why');
    if (el) el.textContent = r.ok ? (await r.json()).text : `${r.status}: ${(await r.json()).message}`;
  }, 200);
}

// A node's page: what its pods request against what it can give.
// Stop (or start again) a node's kubelet: to the cluster, a lost node.
function stopButton(n) {
  return n.stopped ? button('start', { action: 'startNode', node: n.name }) : button('stop', { action: 'stopNode', node: n.name });
}

function nodePage(name) {
  const n = M.node.get(name);
  if (!n) { view().innerHTML = `<h2>Node ${esc(name)}</h2><p>gone: no such node now</p>`; return; }
  const pods = [...M.pod.values()].filter(p => p.node === name && p.phase !== 'Succeeded' && p.phase !== 'Failed');
  const cpu = pods.reduce((s, p) => s + p.cpu, 0), mem = pods.reduce((s, p) => s + p.mem, 0);
  const bar = (used, cap, text) => `<tr><td>${text}</td><td><span class="bar"><span style="width:${cap ? Math.min(100, 100 * used / cap) : 0}%"></span></span></td><td>${cap ? Math.round(100 * used / cap) : 0}%</td></tr>`;
  const mi = b => (b / 1048576).toFixed(0) + 'Mi';
  view().innerHTML = `<h2>Node ${esc(name)}</h2><p>${n.ready ? 'Ready' : 'NotReady'}${n.unschedulable ? ', cordoned (SchedulingDisabled)' : ''}${n.zone ? ', zone ' + esc(n.zone) : ''} ` +
    (n.unschedulable ? button('uncordon', { action: 'uncordon', node: name }) : button('cordon', { action: 'cordon', node: name })) + button('drain', { action: 'drain', node: name }) + stopButton(n) +
    (n.stopped ? ' — stopped: its kubelet sends no heartbeats, so the node controller will mark it unreachable and evict its pods' : '') +
    `</p><h3>Allocated (pods' requests) vs allocatable</h3><table>` +
    bar(cpu, n.cpu, `cpu ${cpu}m / ${n.cpu}m`) + bar(mem, n.mem, `memory ${mi(mem)} / ${mi(n.mem)}`) + bar(pods.length, n.pods, `pods ${pods.length} / ${n.pods}`) +
    `</table><h3>Its pods</h3><p>` + pods.map(p => `<a class="${podClass(p)}" href="#/pod/${esc(p.ns)}/${esc(p.name)}" title="${esc(podTitle(p))}">${esc(p.name)}</a> `).join('') + '</p>';
}

window.addEventListener('hashchange', () => { everything = true; schedule(); });
connect();
schedule();

// ---- Step mode (dashboard/src/step.rs): the controllers' held reconciles,
// next first, each with what it would do; Step releases exactly one.
const STEP_SHOWN = 5;
function stepBar() {
  const bar = document.getElementById('stepbar');
  const s = M.step.get('kube-system/minik-step-mode');
  if (!s || !s.stepping) {
    bar.className = '';
    bar.innerHTML = `Controllers run at normal speed. ${button('Pause (step mode)', { action: 'pause' })}`;
    return;
  }
  const w = s.waiting.slice(0, STEP_SHOWN).map(x =>
    // A plan that names its object already ("ReplicaSet default/web-7c9f wants …") is shown alone.
    `<li><b>${esc(x.controller)}</b> ${x.plan.includes(x.object) ? '' : esc(x.kind + ' ' + x.object) + ': '}${esc(x.plan)}${x.why ? ` <i>(${esc(x.why)})</i>` : ''}</li>`).join('');
  const more = s.waitingCount > STEP_SHOWN ? `<li>… and ${s.waitingCount - STEP_SHOWN} more</li>` : '';
  const last = s.last ? `<p>Step ${s.last.step}: ${esc(s.last.controller)} reconciled ${esc(s.last.kind)} ${esc(s.last.object)}: ${esc(s.last.outcome)}</p>` : '';
  bar.className = 'on';
  bar.innerHTML = `<b>Step mode</b>: ${s.taken} of ${s.granted} steps taken, ${s.waitingCount} waiting.
    ${button('Step', { action: 'step' }, s.waitingCount ? '' : 'disabled')} ${button('Resume', { action: 'resume' })}
    ${last}<ol>${w}${more}</ol>`;
}
