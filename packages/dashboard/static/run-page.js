/* global document, fetch, setTimeout, window */
/**
 * The dashboard page, inlined by the server (see src/html.ts). Without a run id it lists the runs; with
 * one it polls /api/runs/<id>?after=<last stream id>, keeps every metrics entry it has seen, and redraws
 * the SVG charts (chart-core.js's renderer, escaped markup) and the worker table. Other text from the server
 * only ever goes through textContent.
 */
(function () {
  'use strict';

  const app = document.getElementById('app');
  const live = document.getElementById('live');
  const runId = app.dataset.runId;
  const compareIds = app.dataset.compare ? app.dataset.compare.split(',') : null;
  const pollMs = Number(app.dataset.pollMs) || 1000;
  // One palette and one line-chart renderer with `mat report` (chart-core.js, inlined before this script).
  const chartCore = window.MatChartCore;
  const COLORS = chartCore.PALETTE;

  // ---------- small DOM helpers ----------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') node.textContent = v;
      else if (v !== undefined && v !== null) node.setAttribute(k, v);
    }
    for (const c of children || [])
      if (c) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    return node;
  }
  const color = (peer) => COLORS[peer % COLORS.length];

  function fmt(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '–';
    const a = Math.abs(v);
    if (a >= 1000) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    if (a === 0) return '0';
    return v.toPrecision(2);
  }
  const pct = (v) => (v === null || v === undefined ? '–' : (100 * v).toFixed(1) + ' %');
  /** Durations in ms below a second, in s above; three significant digits, no trailing zeros. */
  function secs(v) {
    if (v === null || v === undefined) return '–';
    if (v === 0) return '0';
    return v < 1 ? Number((1000 * v).toPrecision(3)) + ' ms' : Number(v.toPrecision(3)) + ' s';
  }
  function ago(seconds) {
    if (seconds === null || seconds === undefined) return 'never';
    if (seconds < 60) return seconds.toFixed(1) + ' s ago';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
    return (seconds / 3600).toFixed(1) + ' h ago';
  }
  const time = (ms) => (ms ? new Date(ms).toLocaleString() : '–');

  function setLive(ok, text) {
    live.className = 'live ' + (ok ? 'on' : 'off');
    live.textContent = text;
  }

  // ---------- chart ----------
  /**
   * series: [{peer, label, points: [[step, value]], dash}]; opts: {id, name, yFormat, yMin, yMax, xLabel,
   * xInteger, marks, seriesName}. The <svg> of chart-core.js's renderer (the one `mat report` draws with);
   * each curve is a <path data-peer data-points> so tests can count what was drawn.
   */
  function lineChart(series, opts) {
    const holder = document.createElement('div');
    // The renderer escapes every text it writes (run ids, labels), so the markup is safe to parse.
    holder.innerHTML = chartCore.lineChartSvg({
      id: opts.id,
      title: opts.name,
      xLabel: opts.xLabel || 'step',
      series: series.map((s) => ({
        name: s.label,
        points: s.points,
        dashed: Boolean(s.dash),
        colour: s.peer,
        peer: s.peer,
        tooltip: opts.seriesName ? opts.seriesName(s) : `${s.label} peer ${s.peer}`,
      })),
      yFormat: opts.yFormat,
      yMin: opts.yMin,
      yMax: opts.yMax,
      xInteger: opts.xInteger !== false,
      marks: opts.marks,
    });
    return holder.firstElementChild;
  }

  // ---------- run model: everything seen so far ----------
  const run = {
    lastId: null,
    // peer -> Map(step -> entry): a step re-run after a rollback replaces the earlier value.
    steps: new Map(),
    evals: new Map(),
    events: [],
    // Coordinator events the charts mark: generations (after the first), rollbacks.
    marks: [],
    // Every stream entry read (steps, evaluations, worker, run and checkpoint events).
    total: 0,
    skipped: 0,
    // Where the curves before the stream come from, when Redis lost them (metrics.jsonl).
    historyNote: null,
    // This run's jobs of the shared queues (null until read).
    jobs: null,
    polls: 0,
    detail: null,
  };

  function ingest(entries) {
    run.total += entries.length;
    for (const e of entries) {
      if (e.type === 'run') {
        if (e.event === 'generation' && e.generation > 1)
          run.marks.push({ step: e.step || 0, kind: 'generation', label: 'gen ' + e.generation });
        else if (e.event === 'rollback')
          run.marks.push({ step: e.step || 0, kind: 'rollback', label: 'rollback' });
      } else if (e.type === 'step' || e.type === 'eval') {
        const byPeer = e.type === 'step' ? run.steps : run.evals;
        if (!byPeer.has(e.peer)) byPeer.set(e.peer, new Map());
        byPeer.get(e.peer).set(e.step, e);
      } else if (e.type === 'worker') {
        run.events.push(e);
      }
    }
    if (run.events.length > 200) run.events.splice(0, run.events.length - 200);
  }

  function seriesOf(byPeer, field, label, dash) {
    const out = [];
    for (const [peer, steps] of [...byPeer.entries()].sort((a, b) => a[0] - b[0])) {
      const points = [...steps.values()]
        .filter((e) => e[field] !== null && e[field] !== undefined)
        .map((e) => [e.step, e[field]])
        .sort((a, b) => a[0] - b[0]);
      out.push({ peer, label, points, dash });
    }
    return out;
  }

  function chartCard(key, title, note, series, opts) {
    const card = el('section', { class: 'card chart', 'data-chart': key }, [
      el('h2', { text: title }),
      note ? el('div', { class: 'muted', text: note }) : null,
    ]);
    card.appendChild(lineChart(series, Object.assign({ id: key, name: title }, opts)));
    return card;
  }

  function peersOf() {
    const peers = new Set([...run.steps.keys(), ...run.evals.keys()]);
    const d = run.detail;
    for (const s of d.slots) peers.add(s.peer);
    for (let p = 0; p < (d.peers || 0); p++) peers.add(p);
    return [...peers].sort((a, b) => a - b);
  }

  /** Workers the coordinator declared lost and that did not claim a slot again since. */
  function workersLost() {
    const lost = new Set();
    for (const e of run.events) {
      if (e.event === 'lost') lost.add(e.workerId);
      else if (e.event === 'joined' || e.event === 'claimed' || e.event === 'took-over')
        lost.delete(e.workerId);
    }
    return lost;
  }

  function lastOf(byPeer, peer) {
    const steps = byPeer.get(peer);
    if (!steps || steps.size === 0) return null;
    let best = null;
    for (const e of steps.values()) if (!best || e.step > best.step) best = e;
    return best;
  }

  function renderRun() {
    const configOpen = Boolean(document.querySelector('#config[open]'));
    const d = run.detail;
    const peers = peersOf();
    const body = [];

    if (d.error) body.push(el('div', { class: 'banner', text: 'run error: ' + d.error }));
    if (run.historyNote) body.push(el('div', { class: 'note', id: 'history-note', text: run.historyNote }));
    body.push(el('h1', { text: 'Run ' + d.id }));
    const kv = (k, v) =>
      el('div', { class: 'kv' }, [el('b', { text: k }), typeof v === 'string' ? el('span', { text: v }) : v]);
    const cfg = d.config && typeof d.config === 'object' ? d.config : {};
    const describe = (v) => (v && typeof v === 'object' ? v.name || v.type || v.arch || '' : v);
    body.push(
      el('section', { class: 'card summary' }, [
        kv(
          'status',
          el('span', {
            class: 'badge ' + (d.status || ''),
            'data-status': d.status || '',
            text: d.status || 'unknown',
          }),
        ),
        kv('step', d.step === null ? '–' : String(d.step) + (d.lastStep !== null ? ' / ' + d.lastStep : '')),
        d.generation !== null ? kv('generation', String(d.generation)) : null,
        kv('peers', String(d.peers !== null ? d.peers : peers.length)),
        kv('checkpoint', d.checkpointStep === null ? '–' : 'step ' + d.checkpointStep),
        cfg.dataset ? kv('dataset', String(describe(cfg.dataset))) : null,
        cfg.model ? kv('model', String(describe(cfg.model))) : null,
        kv('updated', time(d.updatedAt)),
        kv('entries', String(run.total) + (run.skipped ? ` (${run.skipped} malformed skipped)` : '')),
      ]),
    );

    const legend = el('div', { class: 'legend' });
    for (const p of peers) {
      const swatch = el('i');
      swatch.style.background = color(p);
      legend.appendChild(el('span', {}, [swatch, 'peer ' + p]));
    }
    body.push(legend);

    body.push(
      el('div', { class: 'charts' }, [
        chartCard(
          'loss',
          'Loss per peer',
          'MAT loss of each training step; vertical lines: a new generation or a rollback',
          seriesOf(run.steps, 'loss', 'loss'),
          { marks: run.marks },
        ),
        chartCard(
          'loss-parts',
          'Base and distillation loss',
          'base adversarial loss — solid, distillation from the peers — dashed',
          seriesOf(run.steps, 'base', 'base').concat(seriesOf(run.steps, 'distill', 'distillation', true)),
          { marks: run.marks },
        ),
        chartCard(
          'learning-rate',
          'Learning rate',
          'the schedule’s rate at each step (the same for every peer)',
          seriesOf(run.steps, 'lr', 'learning rate').slice(0, 1),
          { yMin: 0, marks: run.marks },
        ),
        chartCard(
          'accuracy',
          'Accuracy: clean and adversarial',
          'evaluations: clean — solid, adversarial (robust) — dashed',
          seriesOf(run.evals, 'cleanAccuracy', 'clean').concat(
            seriesOf(run.evals, 'robustAccuracy', 'adversarial', true),
          ),
          { yMin: 0, yMax: 1, yFormat: 'percent' },
        ),
        chartCard(
          'train-adv-accuracy',
          'Adversarial accuracy on training batches',
          'accuracy on each step’s own adversarial batch',
          seriesOf(run.steps, 'advAccuracy', 'train adversarial'),
          {
            yMin: 0,
            yMax: 1,
            yFormat: 'percent',
            marks: run.marks,
          },
        ),
        chartCard(
          'step-time',
          'Step time',
          'wall time of one training step',
          seriesOf(run.steps, 'stepSeconds', 'step time'),
          { yMin: 0, yFormat: secs },
        ),
        chartCard(
          'exchange-latency',
          'Exchange latency',
          'time per step spent publishing and waiting for peers',
          seriesOf(run.steps, 'exchangeSeconds', 'exchange'),
          { yMin: 0, yFormat: secs },
        ),
      ]),
    );

    // Peers: the latest numbers of each, and which worker holds the slot.
    const slotOf = new Map(d.slots.map((s) => [s.peer, s]));
    const peerRows = peers.map((p) => {
      const s = lastOf(run.steps, p) || {};
      const e = lastOf(run.evals, p) || {};
      const slot = slotOf.get(p) || {};
      const swatch = el('i', { class: 'swatch' });
      swatch.style.background = color(p);
      return el('tr', { 'data-peer': p }, [
        el('td', {}, [swatch, 'peer ' + p]),
        el('td', { text: slot.workerId || 'free' }),
        el('td', { class: 'num', text: s.step !== undefined ? String(s.step) : '–' }),
        el('td', { class: 'num', text: fmt(s.loss) }),
        el('td', { class: 'num', text: pct(e.cleanAccuracy) }),
        el('td', { class: 'num', text: pct(e.robustAccuracy) }),
        el('td', { class: 'num', text: secs(s.stepSeconds) }),
        el('td', { class: 'num', text: secs(s.exchangeSeconds) }),
      ]);
    });
    const table = (cls, heads, rows, empty) =>
      el('table', { class: cls }, [
        el('thead', {}, [
          el(
            'tr',
            {},
            heads.map((h) => el('th', { text: h })),
          ),
        ]),
        el(
          'tbody',
          {},
          rows.length
            ? rows
            : [el('tr', {}, [el('td', { colspan: heads.length, class: 'muted', text: empty })])],
        ),
      ]);

    const lostByCoordinator = workersLost();
    const workerRows = d.workers.map((w) => {
      // A worker whose heartbeat stopped (or whose lease the coordinator expired) is not idle or training
      // any more, whatever its last record says.
      const lost = w.health === 'lost' || lostByCoordinator.has(w.workerId);
      const health = lost ? 'lost' : w.health;
      const status = lost ? 'lost' + (w.status ? ' (last: ' + w.status + ')' : '') : w.status || '–';
      return el(
        'tr',
        { 'data-worker': w.workerId, 'data-health': health, 'data-status': lost ? 'lost' : w.status },
        [
          el('td', { text: w.workerId }),
          el('td', {}, [el('span', { class: 'badge ' + health, text: health })]),
          el('td', { text: w.peer === null ? 'spare' : 'peer ' + w.peer }),
          el('td', { text: status }),
          el('td', { text: (w.host || '?') + (w.pid !== null ? ':' + w.pid : '') }),
          el('td', { text: w.backend || '–' }),
          el('td', { class: 'num', text: ago(w.heartbeatAgeSeconds) }),
          el('td', { class: 'num', text: secs(w.stepSeconds) }),
        ],
      );
    });
    const ended = ['finished', 'stopped', 'failed'].includes(d.status);

    const events = el(
      'ul',
      { class: 'events' },
      run.events
        .slice(-50)
        .reverse()
        .map((e) =>
          el('li', {
            text: `${time(e.time)} — ${e.workerId} ${e.event}${e.peer !== null ? ' (peer ' + e.peer + ')' : ''}`,
          }),
        ),
    );
    if (run.events.length === 0)
      events.appendChild(el('li', { class: 'muted', text: 'no worker events yet' }));

    body.push(
      el('div', { class: 'tables' }, [
        el('section', { class: 'card', id: 'workers' }, [
          el('h2', { text: 'Worker health' }),
          table(
            'workers',
            ['worker', 'health', 'peer', 'status', 'host:pid', 'backend', 'heartbeat', 'step time'],
            workerRows,
            ended
              ? 'the run has ended (' + d.status + '): its workers have left'
              : 'no worker has reported yet',
          ),
        ]),
        el('section', { class: 'card', id: 'peers' }, [
          el('h2', { text: 'Peers' }),
          table(
            'peers',
            ['peer', 'worker', 'step', 'loss', 'clean', 'adversarial', 'step time', 'exchange'],
            peerRows,
            'no peers yet',
          ),
        ]),
        el('section', { class: 'card' }, [el('h2', { text: 'Worker events' }), events]),
        el('section', { class: 'card', id: 'jobs' }, [
          el('h2', { text: 'Jobs of this run' }),
          el('div', { class: 'muted' }, [
            'checkpoint commits and evaluations; every run’s, mixed: ',
            el('a', { href: '/queues', text: 'bull-board' }),
          ]),
          table(
            'jobs',
            ['queue', 'job', 'state', 'step', 'peer', 'added'],
            (run.jobs || [])
              .slice(0, 100)
              .map((j) =>
                el('tr', { 'data-job': j.id, 'data-state': j.state }, [
                  el('td', { text: j.queue }),
                  el('td', { text: j.name }),
                  el('td', { text: j.state + (j.failedReason ? ': ' + j.failedReason : '') }),
                  el('td', { class: 'num', text: j.step === null ? '–' : String(j.step) }),
                  el('td', { class: 'num', text: j.peer === null ? '–' : String(j.peer) }),
                  el('td', { text: time(j.timestamp) }),
                ]),
              ),
            run.jobs === null ? 'reading…' : 'no jobs of this run in the queues',
          ),
        ]),
        el('section', { class: 'card' }, [
          el('h2', { text: 'Config' }),
          // Redrawn every poll: keep it open if the reader opened it.
          el('details', { id: 'config', open: configOpen ? '' : null }, [
            el('summary', { text: 'run config (JSON)' }),
            el('pre', { text: JSON.stringify(d.config, null, 2) }),
          ]),
        ]),
      ]),
    );
    app.replaceChildren(...body);
  }

  function renderRuns(runs) {
    // Redrawn every poll: keep what the reader ticked.
    const ticked = new Set([...document.querySelectorAll('input.pick:checked')].map((c) => c.value));
    const rows = runs.map((r) =>
      el('tr', { 'data-run': r.id }, [
        el('td', {}, [
          el('input', {
            type: 'checkbox',
            class: 'pick',
            value: r.id,
            'aria-label': 'compare ' + r.id,
            checked: ticked.has(r.id) ? '' : null,
          }),
          ' ',
          el('a', { href: '/runs/' + encodeURIComponent(r.id), text: r.id }),
        ]),
        el('td', {}, [el('span', { class: 'badge ' + (r.status || ''), text: r.status || 'unknown' })]),
        el('td', { class: 'num', text: r.step === null ? '–' : String(r.step) }),
        el('td', { class: 'num', text: r.peers === null ? '–' : String(r.peers) }),
        el('td', { text: time(r.updatedAt) }),
        el('td', { text: r.error || '' }),
      ]),
    );
    app.replaceChildren(
      el('h1', { text: 'Runs' }),
      el('section', { class: 'card' }, [
        el('table', { class: 'runs' }, [
          el('thead', {}, [
            el(
              'tr',
              {},
              ['run', 'status', 'step', 'peers', 'updated', 'error'].map((h) => el('th', { text: h })),
            ),
          ]),
          el(
            'tbody',
            {},
            rows.length
              ? rows
              : [
                  el('tr', {}, [
                    el('td', {
                      colspan: 6,
                      class: 'muted',
                      text: 'no runs in Redis yet (start one with mat coordinator)',
                    }),
                  ]),
                ],
          ),
        ]),
      ]),
      compareButton(),
      el('p', { class: 'muted' }, ['Queues and jobs: ', el('a', { href: '/queues', text: 'bull-board' })]),
    );
  }

  /** Opens the comparison of the runs ticked in the list. */
  function compareButton() {
    const button = el('button', { type: 'button', id: 'compare', text: 'Compare the ticked runs' });
    button.addEventListener('click', () => {
      const ids = [...document.querySelectorAll('input.pick:checked')].map((c) => c.value);
      if (ids.length > 0) window.location.href = '/compare?runs=' + ids.map(encodeURIComponent).join(',');
    });
    return el('p', {}, [button]);
  }

  function showProblem(text) {
    app.replaceChildren(el('div', { class: 'banner', id: 'problem', text }));
  }

  async function readJobs() {
    const res = await fetch('/api/runs/' + encodeURIComponent(runId) + '/jobs', {
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
    });
    return res.ok ? (await res.json()).jobs : run.jobs;
  }

  // ---------- comparison of several runs ----------
  const METRICS = {
    loss: { label: 'Training loss', source: 'step', field: 'loss' },
    advAccuracy: {
      label: 'Adversarial accuracy on training batches',
      source: 'step',
      field: 'advAccuracy',
      percent: true,
    },
    robustAccuracy: {
      label: 'Test accuracy under attack (evaluations)',
      source: 'eval',
      field: 'robustAccuracy',
      percent: true,
    },
    cleanAccuracy: {
      label: 'Clean test accuracy (evaluations)',
      source: 'eval',
      field: 'cleanAccuracy',
      percent: true,
    },
    distill: { label: 'Distillation loss', source: 'step', field: 'distill' },
    lr: { label: 'Learning rate', source: 'step', field: 'lr' },
  };
  const X_AXES = { step: 'step', epoch: 'epoch', time: 'seconds since the run started' };
  const cmp = { runs: [], metric: 'loss', x: 'step', smoothing: 0.6 };

  /** Every entry of one run (all pages), its history from metrics.jsonl first when the API has one. */
  async function loadCompared(r) {
    for (;;) {
      const url =
        '/api/runs/' + encodeURIComponent(r.id) + (r.lastId ? '?after=' + encodeURIComponent(r.lastId) : '');
      const res = await fetch(url, {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (!res.ok) {
        r.problem = (await res.json().catch(() => ({}))).error || res.statusText;
        return;
      }
      const data = await res.json();
      r.detail = data;
      if (data.history && !r.lastId) for (const e of data.history.entries) take(r, e);
      for (const e of data.metrics.entries) take(r, e);
      r.lastId = data.metrics.lastId;
      if (!data.metrics.more) return;
    }
  }

  /** One entry into the run's per-step means over its peers (a re-taken step replaces the earlier one). */
  function take(r, e) {
    if (e.type !== 'step' && e.type !== 'eval') return;
    const bySteps = e.type === 'step' ? r.steps : r.evals;
    if (!bySteps.has(e.step)) bySteps.set(e.step, new Map());
    bySteps.get(e.step).set(e.peer, e);
    if (r.t0 === null || e.time < r.t0) r.t0 = e.time;
  }

  /** TensorBoard's smoothing: an exponential moving average, debiased at the start. */
  function smooth(points, weight) {
    if (!(weight > 0)) return points;
    let last = 0;
    return points.map((p, i) => {
      last = last * weight + (1 - weight) * p[1];
      return [p[0], last / (1 - Math.pow(weight, i + 1))];
    });
  }

  /** The run's curve of the chosen metric: the mean over its peers at each step, on the chosen axis. */
  function comparedCurve(r) {
    const metric = METRICS[cmp.metric];
    const bySteps = metric.source === 'step' ? r.steps : r.evals;
    const d = r.detail || {};
    const epochs = d.config && d.config.train && d.config.train.epochs;
    const perEpoch = d.totalSteps && epochs ? d.totalSteps / epochs : null;
    const points = [];
    for (const [step, peers] of [...bySteps.entries()].sort((a, b) => a[0] - b[0])) {
      const values = [...peers.values()]
        .map((e) => e[metric.field])
        .filter((v) => v !== null && v !== undefined);
      if (values.length === 0) continue;
      const time = Math.max(...[...peers.values()].map((e) => e.time));
      const x =
        cmp.x === 'epoch'
          ? perEpoch
            ? step / perEpoch
            : null
          : cmp.x === 'time'
            ? (time - r.t0) / 1000
            : step;
      if (x === null) continue;
      points.push([x, values.reduce((a, b) => a + b, 0) / values.length]);
    }
    return smooth(points, cmp.smoothing);
  }

  function renderCompare() {
    const metric = METRICS[cmp.metric];
    const select = (id, options, value, onChange) => {
      const node = el(
        'select',
        { id },
        Object.entries(options).map(([k, v]) =>
          el('option', {
            value: k,
            text: typeof v === 'string' ? v : v.label,
            selected: k === value ? '' : null,
          }),
        ),
      );
      node.addEventListener('change', () => {
        onChange(node.value);
        renderCompare();
      });
      return node;
    };
    const slider = el('input', {
      id: 'smoothing',
      type: 'range',
      min: '0',
      max: '0.99',
      step: '0.01',
      value: String(cmp.smoothing),
    });
    slider.addEventListener('change', () => {
      cmp.smoothing = Number(slider.value);
      renderCompare();
    });
    const legend = el('div', { class: 'legend' });
    cmp.runs.forEach((r, i) => {
      const swatch = el('i');
      swatch.style.background = color(i);
      legend.appendChild(
        el('span', { 'data-run': r.id }, [swatch, r.id + (r.problem ? ' (' + r.problem + ')' : '')]),
      );
    });
    const series = cmp.runs.map((r, i) => ({ peer: i, label: r.id, points: comparedCurve(r) }));
    const noEpochs =
      cmp.x === 'epoch' && cmp.runs.some((r) => r.steps.size > 0 && comparedCurve(r).length === 0);
    const card = el('section', { class: 'card chart', 'data-chart': 'compare' }, [
      el('h2', { text: metric.label }),
      el('div', {
        class: 'muted',
        text:
          'mean over each run’s peers' +
          (cmp.smoothing > 0 ? ', smoothed (exponential moving average, weight ' + cmp.smoothing + ')' : '') +
          (noEpochs ? '; a run without its schedule (epochs) is left out on the epoch axis' : ''),
      }),
    ]);
    card.appendChild(
      lineChart(series, {
        id: 'compare',
        name: metric.label,
        xLabel: X_AXES[cmp.x],
        xInteger: cmp.x === 'step',
        seriesName: (s) => s.label,
        ...(metric.percent ? { yMin: 0, yMax: 1, yFormat: 'percent' } : {}),
      }),
    );
    app.replaceChildren(
      el('h1', { text: 'Compare runs' }),
      el('section', { class: 'card controls' }, [
        el('label', {}, ['metric ', select('metric', METRICS, cmp.metric, (v) => (cmp.metric = v))]),
        el('label', {}, ['x axis ', select('x-axis', X_AXES, cmp.x, (v) => (cmp.x = v))]),
        el('label', {}, ['smoothing ', slider, ' ' + cmp.smoothing]),
      ]),
      legend,
      card,
    );
  }

  async function pollCompare() {
    try {
      await Promise.all(cmp.runs.map(loadCompared));
      renderCompare();
      setLive(true, 'live · updated ' + new Date().toLocaleTimeString());
    } catch (err) {
      setLive(false, 'disconnected: ' + err.message + ' (retrying)');
    }
    setTimeout(pollCompare, Math.max(pollMs, 5000));
  }

  // ---------- polling ----------
  let failures = 0;
  async function poll() {
    let next = runId ? pollMs : Math.max(pollMs, 3000);
    try {
      const url = runId
        ? '/api/runs/' +
          encodeURIComponent(runId) +
          (run.lastId ? '?after=' + encodeURIComponent(run.lastId) : '')
        : '/api/runs';
      const res = await fetch(url, {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (res.status === 401 || res.status === 404) {
        const body = await res.json().catch(() => ({}));
        setLive(false, res.status === 401 ? 'refused' : 'not found');
        showProblem(
          (res.status === 401 ? 'Access refused: ' : 'Not found: ') + (body.error || res.statusText),
        );
        return; // Nothing will change by asking again.
      }
      if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error || res.statusText);
      const data = await res.json();
      failures = 0;
      if (runId) {
        run.detail = data;
        if (data.history && !run.historyNote) {
          // Older than anything the stream has: the stream's entries of the same steps replace these.
          run.historyNote = data.history.note;
          const streamEntries = run.total;
          ingest(data.history.entries);
          run.total = streamEntries; // the entries count is the stream's
        }
        run.skipped += data.metrics.skipped;
        run.lastId = data.metrics.lastId;
        ingest(data.metrics.entries);
        // The run's jobs change slowly (a few per checkpoint): read them every fifth poll.
        if (run.polls++ % 5 === 0) run.jobs = await readJobs();
        renderRun();
        if (data.metrics.more) next = 0;
        else if (['finished', 'stopped', 'failed'].includes(data.status)) next = Math.max(pollMs, 5000);
      } else {
        renderRuns(data.runs);
      }
      setLive(true, 'live · updated ' + new Date().toLocaleTimeString());
    } catch (err) {
      failures++;
      setLive(false, 'disconnected: ' + err.message + ' (retrying)');
      next = Math.min(30000, pollMs * Math.pow(2, Math.min(failures, 5)));
    }
    setTimeout(poll, next);
  }
  if (compareIds) {
    cmp.runs = compareIds.map((id) => ({
      id,
      lastId: null,
      steps: new Map(),
      evals: new Map(),
      t0: null,
      detail: null,
      problem: null,
    }));
    pollCompare();
  } else {
    poll();
  }
})();
