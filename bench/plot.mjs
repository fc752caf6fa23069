// Plots for docs/performance.md, drawn from the bench's own numbers as plain SVG (no dependency):
// a horizontal bar chart (calls/s as a multiple of the floor, per server and dialect) and a line
// chart (calls/s against the number of concurrent sessions).

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const FONT = 'font-family="system-ui, sans-serif" font-size="12"'

/** bars: [{ label, value, group? }], value as ×floor; groups get their own colour. */
export function barChart ({ title, bars, unit = '× floor', reference = 1 }) {
  const rowH = 22
  const left = 260
  const width = 760
  const plotW = width - left - 70
  const max = Math.max(reference, ...bars.map((b) => b.value)) * 1.1
  const height = 40 + bars.length * rowH + 30
  const x = (v) => left + (v / max) * plotW
  const colours = ['#2563eb', '#9ca3af', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6']
  const groups = [...new Set(bars.map((b) => b.group ?? ''))]
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`]
  bars.forEach((b, i) => {
    const y = 36 + i * rowH
    const colour = colours[groups.indexOf(b.group ?? '') % colours.length]
    out.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${left}" y="${y + 3}" width="${Math.max(1, x(b.value) - left).toFixed(1)}" height="${rowH - 8}" fill="${colour}"/>`,
      `<text x="${(x(b.value) + 4).toFixed(1)}" y="${y + 14}">${b.value.toFixed(2)}</text>`)
  })
  const refX = x(reference).toFixed(1)
  out.push(`<line x1="${refX}" y1="32" x2="${refX}" y2="${height - 24}" stroke="#111" stroke-dasharray="4 3"/>`,
    `<text x="${refX}" y="${height - 10}" text-anchor="middle">${reference} ${esc(unit)}</text>`, '</svg>')
  return out.join('\n')
}

/** series: [{ label, points: [[x, y]] }]; x on a log scale when the xs span more than 10×. */
export function lineChart ({ title, series, xLabel, yLabel }) {
  const width = 760
  const height = 360
  const m = { left: 70, right: 160, top: 36, bottom: 50 }
  const xs = series.flatMap((s) => s.points.map((p) => p[0]))
  const ys = series.flatMap((s) => s.points.map((p) => p[1]))
  const log = Math.max(...xs) / Math.min(...xs) > 10
  const fx = log ? Math.log10 : (v) => v
  const [x0, x1] = [fx(Math.min(...xs)), fx(Math.max(...xs))]
  const yMax = Math.max(...ys) * 1.15
  const px = (v) => m.left + ((fx(v) - x0) / (x1 - x0 || 1)) * (width - m.left - m.right)
  const py = (v) => height - m.bottom - (v / yMax) * (height - m.top - m.bottom)
  const colours = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#9ca3af']
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${(width - m.right + m.left) / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${m.left}" y1="${height - m.bottom}" x2="${width - m.right}" y2="${height - m.bottom}" stroke="#111"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${height - m.bottom}" stroke="#111"/>`,
    `<text x="${(width - m.right + m.left) / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="16" y="${(height - m.bottom + m.top) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(height - m.bottom + m.top) / 2})">${esc(yLabel)}</text>`]
  for (const v of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(`<text x="${px(v).toFixed(1)}" y="${height - m.bottom + 16}" text-anchor="middle">${v}</text>`)
  }
  for (let i = 0; i <= 4; i++) {
    const v = (yMax / 4) * i
    out.push(`<text x="${m.left - 6}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end">${Math.round(v)}</text>`,
      `<line x1="${m.left}" y1="${py(v).toFixed(1)}" x2="${width - m.right}" y2="${py(v).toFixed(1)}" stroke="#e5e7eb"/>`)
  }
  series.forEach((s, i) => {
    const colour = colours[i % colours.length]
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`)
    for (const [x, y] of s.points) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`)
    out.push(`<rect x="${width - m.right + 12}" y="${m.top + i * 18}" width="10" height="10" fill="${colour}"/>`,
      `<text x="${width - m.right + 28}" y="${m.top + i * 18 + 9}">${esc(s.label)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n')
}
