import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineChartSvg } from '../../bench/svg-chart.js';

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

const chart = lineChartSvg({
  title: 'Throughput & threads',
  xLabel: 'worker threads',
  yLabel: 'MiB/s',
  series: [
    { name: 'rtt 0 ms', points: [1, 2, 4, 8].map((x) => ({ x, y: 100 * x })) },
    { name: 'rtt 50 ms', points: [8, 1, 4, 2].map((x) => ({ x, y: 20 * x })) },
    { name: 'rtt <100> ms', points: [1, 2, 4, 8].map((x) => ({ x, y: 10 * x })) },
  ],
  referenceLines: [{ name: 'target 500 MiB/s', y: 500 }],
  logX: true,
});

test('the chart is one SVG document with a polyline per series', () => {
  assert.match(chart, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>/);
  assert.match(chart.trimEnd(), /<\/svg>$/);
  assert.equal(count(chart, /<polyline /g), 3);
  assert.equal(count(chart, /<path /g), 0);
});

test('each series has its own colour and its points in x order', () => {
  const polylines = [...chart.matchAll(/<polyline [^>]*stroke="(#[0-9a-f]{6})"[^>]*points="([^"]*)"/g)];
  assert.equal(new Set(polylines.map((m) => m[1])).size, 3);
  for (const m of polylines) {
    const xs = (m[2] as string).split(' ').map((pair) => Number(pair.split(',')[0]));
    assert.deepEqual(
      xs,
      xs.toSorted((a, b) => a - b),
    );
    assert.equal(xs.length, 4);
  }
});

test('the legend names every series and the reference line, escaped', () => {
  for (const name of ['rtt 0 ms', 'rtt 50 ms', 'rtt &#60;100&#62; ms', 'target 500 MiB/s']) {
    assert.ok(chart.includes(`>${name}</text>`), `legend lacks ${name}`);
  }
  assert.ok(chart.includes('Throughput &#38; threads'));
  assert.ok(!chart.includes('<100>'));
});

test('a reference line is dashed and spans the plot at its value', () => {
  const lines = [
    ...chart.matchAll(
      /<line class="reference" x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"[^>]*>/g,
    ),
  ];
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.ok(line?.[0].includes('stroke-dasharray'));
  assert.equal(line?.[2], line?.[4]);
  assert.ok(Number(line?.[3]) > Number(line?.[1]));
});

test('axes carry tick labels, and the log x axis ticks at 1, 2, 5 × 10^k', () => {
  const labels = [...chart.matchAll(/<text [^>]*text-anchor="middle">([^<]*)<\/text>/g)].map((m) => m[1]);
  for (const tick of ['1', '2', '5'])
    assert.ok(labels.includes(tick), `no x tick ${tick} in ${labels.join(',')}`);
  assert.ok(chart.includes('>worker threads</text>'));
  assert.ok(chart.includes('>MiB/s</text>'));
  assert.ok(chart.includes('>800</text>'), 'the y axis reaches the largest value');
  assert.ok(chart.includes('>0</text>'), 'the y axis starts at zero');
});

test('an empty or single-point chart still renders finite coordinates', () => {
  const empty = lineChartSvg({
    title: 't',
    xLabel: 'x',
    yLabel: 'y',
    series: [{ name: 'none', points: [] }],
  });
  const single = lineChartSvg({
    title: 't',
    xLabel: 'x',
    yLabel: 'y',
    series: [{ name: 'one', points: [{ x: 3, y: 3 }] }],
  });
  for (const svg of [empty, single]) {
    assert.equal(count(svg, /<polyline /g), 1);
    assert.ok(!/NaN|Infinity/.test(svg), svg);
  }
});
